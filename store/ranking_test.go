package store_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestPopularRanking: popular articles are ordered by the ranking of the last rebuild and
// show their current views; an article deleted since is skipped without shortening the
// page, one made since waits for the next rebuild; a rebuild that is not forced happens
// only when one is due and article_views changed; a serving store rebuilds on its own.
func TestPopularRanking(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) { testPopularRanking(t, dialect) })
	}
}

func testPopularRanking(t *testing.T, dialect store.Dialect) {
	ctx := context.Background()
	url := storetest.URL(t, dialect)
	open := func(opts store.Options) *store.Store {
		t.Helper()
		s, err := store.Open(ctx, url, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s := open(store.Options{})
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var ids []int64
	for i, title := range []string{"A", "B", "C"} {
		a, err := s.CreateArticle(ctx, store.NewArticle{Title: title, Content: "c", Author: "x", CreatedAt: base.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	popular := func(limit, offset int) string {
		t.Helper()
		as, err := s.Popular(ctx, store.ListFilter{Limit: limit, Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			out = append(out, a.Title+":"+strconv.FormatInt(a.Views, 10))
		}
		return fmt.Sprint(out)
	}
	expect := func(what string, got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: popular = %s, want %s", what, got, want)
		}
	}
	refresh := func() {
		t.Helper()
		if err := s.RefreshPopular(ctx); err != nil {
			t.Fatal(err)
		}
	}
	view := func(id int64, n int) {
		t.Helper()
		for range n {
			if _, err := s.ViewArticle(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.FlushViews(ctx); err != nil {
			t.Fatal(err)
		}
	}
	builtAt := func() time.Time {
		t.Helper()
		var at time.Time
		if err := s.DB().Raw("SELECT at FROM popular_ranking_built").Row().Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	setBuiltAt := func(at time.Time) {
		t.Helper()
		if err := s.DB().Exec("UPDATE popular_ranking_built SET at = ?", at).Error; err != nil {
			t.Fatal(err)
		}
	}
	ifDue := func() {
		t.Helper()
		if _, err := s.RebuildRankingIfDue(ctx); err != nil {
			t.Fatal(err)
		}
	}

	refresh()
	expect("unviewed", popular(10, 0), "[C:0 B:0 A:0]")
	view(ids[0], 2)
	view(ids[1], 1)
	expect("views since the ranking", popular(10, 0), "[C:0 B:1 A:2]")
	// Not due: the ranking was built a moment ago.
	ifDue()
	expect("views since the ranking, not due", popular(10, 0), "[C:0 B:1 A:2]")
	refresh()
	expect("ranked", popular(10, 0), "[A:2 B:1 C:0]")

	d, err := s.CreateArticle(ctx, store.NewArticle{Title: "D", Content: "c", Author: "x", CreatedAt: base.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteArticle(ctx, ids[1], 0); err != nil {
		t.Fatal(err)
	}
	expect("B deleted, D made since the ranking", popular(10, 0), "[A:2 C:0]")
	expect("B deleted: a full page", popular(2, 0), "[A:2 C:0]")
	expect("B deleted: the second page", popular(1, 1), "[C:0]")

	// Due, and article_views changed: rebuilt.
	long := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	setBuiltAt(long)
	ifDue()
	expect("rebuilt when due", popular(10, 0), "[A:2 D:0 C:0]")
	if at := builtAt(); !at.After(long) {
		t.Fatalf("built at %v after a rebuild, want after %v", at, long)
	}
	// Due, and nothing changed: not rebuilt.
	setBuiltAt(long)
	ifDue()
	if at := builtAt(); !at.Equal(long) {
		t.Fatalf("built at %v, want %v: nothing had changed", at, long)
	}

	// A serving store rebuilds the ranking on its own, a second or two after views.
	served := open(store.Options{Serving: true})
	for range 3 {
		if _, err := served.ViewArticle(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := popular(10, 0)
		if got == "[D:3 A:2 C:0]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("popular = %s 10 s after views on a serving store, want [D:3 A:2 C:0]", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRankingSchemaAsMigrated: a rebuild makes popular_ranking again with the columns,
// keys and indexes migration 0011 gave it.
func TestRankingSchemaAsMigrated(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		schema := func() []string {
			t.Helper()
			var q string
			if s.Dialect() == store.Postgres {
				q = `SELECT 'column ' || column_name || ' ' || data_type || ' ' || is_nullable FROM information_schema.columns
					WHERE table_name = 'popular_ranking' AND table_schema = current_schema()
					UNION ALL SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes
					WHERE tablename = 'popular_ranking' AND schemaname = current_schema()
					UNION ALL SELECT 'options ' || coalesce(array_to_string(reloptions, ','), '') FROM pg_class
					WHERE oid = 'popular_ranking'::regclass
					UNION ALL SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint
					WHERE conrelid = 'popular_ranking'::regclass`
			} else {
				q = `SELECT 'column ' || name || ' ' || type || ' ' || "notnull" || ' ' || pk FROM pragma_table_info('popular_ranking')
					UNION ALL SELECT 'index ' || name || ': ' || coalesce(sql, '') FROM sqlite_master
					WHERE type = 'index' AND tbl_name = 'popular_ranking'`
			}
			var out []string
			if err := s.DB().Raw(q).Scan(&out).Error; err != nil {
				t.Fatal(err)
			}
			slices.Sort(out)
			return out
		}
		migrated := schema()
		if len(migrated) < 4 {
			t.Fatalf("popular_ranking as migrated: %q, want its columns and indexes", migrated)
		}
		if err := s.RefreshPopular(ctx); err != nil {
			t.Fatal(err)
		}
		if rebuilt := schema(); !slices.Equal(rebuilt, migrated) {
			t.Fatalf("popular_ranking as rebuilt:\n  %q\nas migrated:\n  %q", rebuilt, migrated)
		}
	})
}

// TestRankingSwapBounded: on PostgreSQL a rebuild that cannot swap out the old ranking,
// which a long transaction is reading, gives up after rankingSwapWait instead of queueing
// every popular request behind its lock, and leaves the old ranking serving.
func TestRankingSwapBounded(t *testing.T) {
	s := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	if _, err := s.CreateArticle(ctx, store.NewArticle{Title: "A", Content: "c", Author: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RefreshPopular(ctx); err != nil {
		t.Fatal(err)
	}
	reader := s.DB().Begin()
	if err := reader.Exec("SELECT 1 FROM popular_ranking LIMIT 1").Error; err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	bounded, cancel := context.WithTimeout(ctx, 15*time.Second)
	err := s.RefreshPopular(bounded)
	cancel()
	took := time.Since(began)
	reader.Rollback()
	if err == nil || took > 10*time.Second {
		t.Fatalf("RefreshPopular while the ranking is read = %v after %v, want an error within seconds", err, took)
	}
	if as, err := s.Popular(ctx, store.ListFilter{Limit: 10}); err != nil || len(as) != 1 || as[0].Title != "A" {
		t.Fatalf("Popular after the rebuild gave up = %+v, %v; want [A]", as, err)
	}
	if err := s.RefreshPopular(ctx); err != nil {
		t.Fatalf("RefreshPopular once the reader is gone: %v", err)
	}
}
