package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/store/synth"
)

// onDay is a ListFilter.Day.
func onDay(t time.Time) *time.Time { return &t }

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw     string
		dialect store.Dialect
		dsn     string
		wantErr string
	}{
		{raw: "", dialect: store.SQLite, dsn: "articlesd.db"},
		{raw: "sqlite://data/a.db", dialect: store.SQLite, dsn: "data/a.db"},
		{raw: "sqlite:///var/lib/articlesd/a.db", dialect: store.SQLite, dsn: "/var/lib/articlesd/a.db"},
		{raw: "postgres://u:secret@db:5432/articles?sslmode=disable", dialect: store.Postgres, dsn: "postgres://u:secret@db:5432/articles?sslmode=disable"},
		{raw: "postgresql://db/articles", dialect: store.Postgres, dsn: "postgresql://db/articles"},
		{raw: "sqlite://", wantErr: `sqlite:// needs a file path`},
		{raw: "mysql://root@db/x", wantErr: `unsupported scheme "mysql"`},
		{raw: "articles.db", wantErr: `want postgres://…, host=… dbname=… or sqlite://PATH`},
		{raw: "postgres://u:secret@db:99999999/x", wantErr: `database URL "postgres://u:xxxxx@db:99999999/x"`},
		{raw: "postgres://u:secret@[::1/x", wantErr: `database URL "postgres://xxxxx@[::1/x"`},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			loc, err := store.ParseURL(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURL(%q) error = %v, want it to contain %q", tt.raw, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.raw, err)
			}
			if loc.Dialect != tt.dialect || loc.DSN != tt.dsn {
				t.Fatalf("ParseURL(%q) = %+v, want %s %s", tt.raw, loc, tt.dialect, tt.dsn)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://user:pw@h/db":              "postgres://user:xxxxx@h/db",
		"postgres://user@h/db?password=pw&x=1": "postgres://user@h/db?password=xxxxx&x=1",
		"postgres://h/db":                      "postgres://h/db",
	} {
		if got := store.Redact(raw); got != want {
			t.Errorf("Redact(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestOpenUnreachablePostgres(t *testing.T) {
	_, err := store.Open(context.Background(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable", store.Options{ConnectTimeout: 2 * time.Second})
	if err == nil || !strings.HasPrefix(err.Error(), "connect to postgres at postgres://postgres@127.0.0.1:1/x?sslmode=disable: ") {
		t.Fatalf("Open = %v, want a connect error naming the server", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error has several lines: %q", err)
	}
}

func TestMigrations(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			s := storetest.OpenEmpty(t, d)
			st, err := s.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(st) == 0 || st[0].AppliedAt != nil {
				t.Fatalf("fresh database status = %+v, want all pending", st)
			}
			applied, err := s.MigrateUp(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) != len(st) {
				t.Fatalf("applied %d migrations, want %d", len(applied), len(st))
			}
			again, err := s.MigrateUp(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second MigrateUp = %v, %v; want nothing applied", again, err)
			}
			if _, err := s.CreateArticle(ctx, store.NewArticle{Title: "t", Content: "c", Author: "a", Tags: []string{"x"}}); err != nil {
				t.Fatal(err)
			}
			down, err := s.MigrateDown(ctx)
			if err != nil || down == nil || down.Version != applied[len(applied)-1].Version {
				t.Fatalf("MigrateDown = %v, %v", down, err)
			}
			st, _ = s.MigrationStatus(ctx)
			if st[len(st)-1].AppliedAt != nil {
				t.Fatalf("last migration still applied after down: %+v", st)
			}
			// Reverting the newest migration keeps the articles.
			if n, err := s.CountArticles(ctx); err != nil || n != 1 {
				t.Fatalf("count after one step down = %d, %v; want 1", n, err)
			}
			if _, err := s.MigrateUp(ctx); err != nil {
				t.Fatalf("up after down: %v", err)
			}
			if a, err := s.GetArticle(ctx, 1); err != nil || a.Version != 1 {
				t.Fatalf("article after down+up = %+v, %v; want version 1", a, err)
			}
			// All the way down: no table is left.
			for range applied {
				if m, err := s.MigrateDown(ctx); err != nil || m == nil {
					t.Fatalf("MigrateDown = %v, %v", m, err)
				}
			}
			if m, err := s.MigrateDown(ctx); err != nil || m != nil {
				t.Fatalf("MigrateDown with nothing applied = %v, %v", m, err)
			}
			if _, err := s.CountArticles(ctx); err == nil {
				t.Fatal("articles table still exists after reverting every migration")
			}
		})
	}
}

func TestArticleLifecycle(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, err := s.CreateArticle(ctx, store.NewArticle{Title: "Dune", Content: "Sand worms", Author: "Denis Villeneuve", Tags: []string{"sci-fi", "desert"}})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID <= 0 || a.CreatedAt.Location() != time.UTC || !a.CreatedAt.Equal(a.UpdatedAt) {
			t.Fatalf("created %+v", a)
		}
		got, err := s.GetArticle(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "Dune" || !slices.Equal(got.Tags, []string{"sci-fi", "desert"}) || !got.CreatedAt.Equal(a.CreatedAt) || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("read back %+v, want %+v", got, a)
		}
		v, err := s.ViewArticle(ctx, a.ID)
		if err != nil || v.Views != 1 {
			t.Fatalf("ViewArticle = %+v, %v; want 1 view", v, err)
		}
		title := "Dune: Part One"
		empty := []string{}
		up, err := s.UpdateArticle(ctx, a.ID, store.ArticlePatch{Title: &title, Tags: &empty}, store.AnyVersion)
		if err != nil {
			t.Fatal(err)
		}
		if up.Title != title || up.Content != "Sand worms" || len(up.Tags) != 0 || !up.UpdatedAt.After(a.UpdatedAt) || up.Views != 1 {
			t.Fatalf("updated %+v", up)
		}
		if titles, n, err := s.ListTitles(ctx, store.ListFilter{Tag: "sci-fi", Limit: 10}); err != nil || n != (store.Count{N: 0, Exact: true}) || len(titles) != 0 {
			t.Fatalf("tag filter after clearing tags = %v %+v %v", titles, n, err)
		}
		if err := s.DeleteArticle(ctx, a.ID, store.AnyVersion); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteArticle(ctx, a.ID, store.AnyVersion); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete = %v, want ErrNotFound", err)
		}
		if _, err := s.GetArticle(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get deleted = %v, want ErrNotFound", err)
		}
		if _, err := s.ViewArticle(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("view deleted = %v, want ErrNotFound", err)
		}
		if _, err := s.UpdateArticle(ctx, a.ID, store.ArticlePatch{Title: &title}, store.AnyVersion); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update deleted = %v, want ErrNotFound", err)
		}
	})
}

func TestListSearchPopular(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		added, err := s.SeedDemo(ctx, synth.Demo())
		if err != nil || added != 12 {
			t.Fatalf("SeedDemo = %d, %v; want 12", added, err)
		}
		if added, err := s.SeedDemo(ctx, synth.Demo()); err != nil || added != 0 {
			t.Fatalf("second SeedDemo = %d, %v; want 0", added, err)
		}
		titles, total, err := s.ListTitles(ctx, store.ListFilter{Author: "Christopher Nolan", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"Sound as Story in 'Oppenheimer'", "Revolutionizing Cinema: The Impact of 'Interstellar'"}
		if total != (store.Count{N: 4, Exact: true}) || !slices.Equal(titles, want) {
			t.Fatalf("ListTitles(author) = %q, %+v; want %q, 4", titles, total, want)
		}
		titles, total, _ = s.ListTitles(ctx, store.ListFilter{Day: onDay(time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)), Limit: 10})
		if total != (store.Count{N: 2, Exact: true}) || !slices.Equal(titles, []string{"Cinematography in Blade Runner", "The Evolution of Special Effects in Sci-Fi"}) {
			t.Fatalf("ListTitles(date) = %q, %+v", titles, total)
		}
		titles, total, _ = s.ListTitles(ctx, store.ListFilter{Tag: "cinematography", Author: "Ridley Scott", Limit: 10})
		if total != (store.Count{N: 1, Exact: true}) || !slices.Equal(titles, []string{"Cinematography in Blade Runner"}) {
			t.Fatalf("ListTitles(tag+author) = %q, %+v", titles, total)
		}

		// "cinematography" is in the title of one article and in the tags or text of two
		// others: the title match ranks first.
		found, err := s.Search(ctx, "Cinematography", 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 3 || found[0].Title != "Cinematography in Blade Runner" {
			t.Fatalf("Search(cinematography) = %v", titlesOf(found))
		}
		// Operators mean nothing; "drop" and "table" are found nowhere, so they are left
		// out (and reported), and "or" is a stop word.
		hostile, err := s.Find(ctx, `"blade" OR -runner \ ' ; DROP TABLE articles; --`, 10, 0)
		if err != nil || len(hostile.Articles) != 1 || hostile.Articles[0].Title != "Cinematography in Blade Runner" ||
			!slices.Equal(hostile.Unknown, []string{"drop", "table", "articles"}) || !slices.Equal(hostile.Ignored, []string{"or"}) {
			t.Fatalf("Find(hostile) = %v, unknown %q, ignored %q, %v", titlesOf(hostile.Articles), hostile.Unknown, hostile.Ignored, err)
		}
		found, _ = s.Search(ctx, "blade runner", 10, 0)
		if len(found) != 1 {
			t.Fatalf("Search(blade runner) = %v", titlesOf(found))
		}
		for _, q := range []string{"\x00", "🎬", "((((", "*", "NEAR(", "\"unterminated"} {
			if _, err := s.Search(ctx, q, 10, 0); err != nil {
				t.Fatalf("Search(%q): %v", q, err)
			}
		}

		if err := s.RefreshPopular(ctx); err != nil {
			t.Fatal(err)
		}
		all, _ := s.Popular(ctx, store.ListFilter{Limit: 100})
		byTitle := map[string]int64{}
		for _, a := range all {
			byTitle[a.Title] = a.ID
		}
		for i := 0; i < 3; i++ {
			if _, err := s.ViewArticle(ctx, byTitle["Building Tension in 'Alien'"]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ViewArticle(ctx, byTitle["Cinematography in Blade Runner"]); err != nil {
			t.Fatal(err)
		}
		if err := s.RefreshPopular(ctx); err != nil {
			t.Fatal(err)
		}
		pop, _ := s.Popular(ctx, store.ListFilter{Tag: "sci-fi", Limit: 3})
		want = []string{"Building Tension in 'Alien'", "Cinematography in Blade Runner", "Silence and Language in 'Arrival'"}
		if !slices.Equal(titlesOf(pop), want) {
			t.Fatalf("Popular(sci-fi) = %q, want %q", titlesOf(pop), want)
		}
		if pop[0].Views != 3 {
			t.Fatalf("views = %d, want 3", pop[0].Views)
		}
	})
}

func titlesOf(as []store.Article) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Title
	}
	return out
}

// TestViewsAreBatched checks that views counted in memory by several stores (replicas)
// on one database all arrive, through periodic flushes and through Close.
func TestViewsAreBatched(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, d)
			open := func(interval time.Duration) *store.Store {
				s, err := store.Open(ctx, url, store.Options{ViewFlushInterval: interval})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			a, b := open(20*time.Millisecond), open(time.Hour)
			defer a.Close()
			if _, err := a.MigrateUp(ctx); err != nil {
				t.Fatal(err)
			}
			art, err := a.CreateArticle(ctx, store.NewArticle{Title: "t", Content: "c", Author: "x"})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 30; i++ {
				if _, err := a.ViewArticle(ctx, art.ID); err != nil {
					t.Fatal(err)
				}
				v, err := b.ViewArticle(ctx, art.ID)
				if err != nil {
					t.Fatal(err)
				}
				if v.Views < int64(i+1) {
					t.Fatalf("view %d through b shows %d views", i+1, v.Views)
				}
			}
			// b never flushed on its own (interval of an hour): Close must write its 30.
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if err := a.FlushViews(ctx); err != nil {
				t.Fatal(err)
			}
			fresh := open(time.Hour)
			defer fresh.Close()
			got, err := fresh.GetArticle(ctx, art.ID)
			if err != nil || got.Views != 60 {
				t.Fatalf("views in the database = %d, %v; want 60", got.Views, err)
			}
			// Views of a deleted article are dropped without error.
			if _, err := a.ViewArticle(ctx, art.ID); err != nil {
				t.Fatal(err)
			}
			if err := a.DeleteArticle(ctx, art.ID, store.AnyVersion); err != nil {
				t.Fatal(err)
			}
			if err := a.FlushViews(ctx); err != nil {
				t.Fatalf("flush after delete: %v", err)
			}
		})
	}
}

// TestSQLiteTimeText: the embedded database stores times, and binds them as query
// arguments, as "2006-01-02 15:04:05.999999999-07:00": the text SQLite's date functions
// read and the one databases made by earlier versions hold. Times compare as text there,
// so a second form (modernc.org/sqlite's default, time.Time.String) would misorder rows
// and miss days.
func TestSQLiteTimeText(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, store.SQLite)
	at := time.Date(2024, 1, 3, 10, 0, 0, 500_000_000, time.UTC)
	if err := s.BulkInsert(ctx, []store.NewArticle{{Title: "Dated", Content: "x", Author: "A", CreatedAt: at}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateArticle(ctx, store.NewArticle{Title: "Now", Content: "x", Author: "A"}); err != nil {
		t.Fatal(err)
	}
	var bound string
	if err := s.DB().Raw("SELECT '=' || ?", at).Scan(&bound).Error; err != nil || bound != "=2024-01-03 10:00:00.5+00:00" {
		t.Fatalf("a time bound as an argument = %q, %v; want %q", bound, err, "=2024-01-03 10:00:00.5+00:00")
	}
	rows, err := s.DB().Raw("SELECT title, '=' || created_at, '=' || updated_at, datetime(created_at), datetime(updated_at) FROM articles ORDER BY id").Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	form := regexp.MustCompile(`^=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?[+-]\d\d:\d\d$`)
	n := 0
	for rows.Next() {
		var title, created, updated string
		var createdDay, updatedDay *string
		if err := rows.Scan(&title, &created, &updated, &createdDay, &updatedDay); err != nil {
			t.Fatal(err)
		}
		n++
		if !form.MatchString(created) || !form.MatchString(updated) || createdDay == nil || updatedDay == nil {
			t.Errorf("%s: created_at %q, updated_at %q (SQLite reads them as %v, %v); want the form 2006-01-02 15:04:05.999999999-07:00",
				title, created, updated, createdDay, updatedDay)
		}
	}
	if err := rows.Err(); err != nil || n != 2 {
		t.Fatalf("%d rows, %v; want 2", n, err)
	}
	if created := "=2024-01-03 10:00:00.5+00:00"; n == 2 {
		var got string
		if err := s.DB().Raw("SELECT '=' || created_at FROM articles WHERE title = 'Dated'").Scan(&got).Error; err != nil || got != created {
			t.Fatalf("created_at of the dated article = %q, %v; want %q", got, err, created)
		}
	}
}

func TestSQLitePathWithURICharacters(t *testing.T) {
	path := t.TempDir() + "/odd %41 name#1.db"
	s, err := store.Open(context.Background(), "sqlite://"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the path given: %v", err)
	}
}

func TestVersionsAndTokens(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, _ := s.CreateArticle(ctx, store.NewArticle{Title: "t", Content: "c", Author: "a"})
		if a.Version != 1 {
			t.Fatalf("new article version %d, want 1", a.Version)
		}
		title := "t2"
		up, err := s.UpdateArticle(ctx, a.ID, store.ArticlePatch{Title: &title}, 1)
		if err != nil || up.Version != 2 {
			t.Fatalf("update at version 1: %+v, %v", up, err)
		}
		if _, err := s.UpdateArticle(ctx, a.ID, store.ArticlePatch{Title: &title}, 1); !errors.Is(err, store.ErrVersionMismatch) {
			t.Fatalf("stale update: %v, want ErrVersionMismatch", err)
		}
		if _, err := s.UpdateArticle(ctx, 999, store.ArticlePatch{Title: &title}, 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of a missing article: %v, want ErrNotFound", err)
		}
		if err := s.DeleteArticle(ctx, a.ID, 1); !errors.Is(err, store.ErrVersionMismatch) {
			t.Fatalf("stale delete: %v", err)
		}
		if err := s.DeleteArticle(ctx, a.ID, 2); err != nil {
			t.Fatalf("delete at version 2: %v", err)
		}
		if err := s.DeleteArticle(ctx, a.ID, 2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete again: %v", err)
		}

		secret, err := s.CreateToken(ctx, "ci")
		if err != nil || !strings.HasPrefix(secret, "ad_") || len(secret) < 40 {
			t.Fatalf("CreateToken = %q, %v", secret, err)
		}
		if _, err := s.CreateToken(ctx, "ci"); !errors.Is(err, store.ErrTokenExists) {
			t.Fatalf("duplicate token: %v", err)
		}
		if _, err := s.CreateToken(ctx, "bad name"); err == nil {
			t.Fatal("token name with a space accepted")
		}
		if name, ok, err := s.VerifyToken(ctx, secret); !ok || name != "ci" || err != nil {
			t.Fatalf("VerifyToken(good) = %q %v %v", name, ok, err)
		}
		if _, ok, _ := s.VerifyToken(ctx, secret+"x"); ok {
			t.Fatal("VerifyToken accepted a wrong secret")
		}
		list, _ := s.ListTokens(ctx)
		if len(list) != 1 || list[0].Name != "ci" || list[0].Hash == secret || list[0].LastUsedAt == nil {
			t.Fatalf("ListTokens = %+v", list)
		}
		if err := s.RevokeToken(ctx, "ci"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.VerifyToken(ctx, secret); ok {
			t.Fatal("revoked token still verifies")
		}
		if err := s.RevokeToken(ctx, "ci"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke again: %v", err)
		}
	})
}

// Counting stops at MaxExactCount: past it the count is a lower bound, and the titles
// still come newest first, from the tag's own index.
func TestListTitlesCountBound(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		in := make([]store.NewArticle, store.MaxExactCount+5)
		for i := range in {
			in[i] = store.NewArticle{Title: fmt.Sprintf("Article %d", i), Content: "Text.", Author: "Many Hands",
				Tags: []string{"bulk"}, CreatedAt: base.Add(time.Duration(i) * 4 * time.Minute)}
		}
		in[7].Author, in[7].Tags = "Rare Hand", []string{"bulk", "rare"}
		if err := s.BulkInsert(ctx, in, nil); err != nil {
			t.Fatal(err)
		}
		last := len(in) - 1
		titles, n, err := s.ListTitles(ctx, store.ListFilter{Tag: "bulk", Limit: 2})
		if err != nil || n != (store.Count{N: store.MaxExactCount, Exact: false}) ||
			!slices.Equal(titles, []string{fmt.Sprintf("Article %d", last), fmt.Sprintf("Article %d", last-1)}) {
			t.Fatalf("ListTitles(tag) = %q, %+v, %v", titles, n, err)
		}
		titles, n, err = s.ListTitles(ctx, store.ListFilter{Author: "Many Hands", Limit: 1, Offset: store.MaxExactCount + 3})
		if err != nil || n != (store.Count{N: store.MaxExactCount, Exact: false}) || !slices.Equal(titles, []string{"Article 0"}) {
			t.Fatalf("ListTitles(author, deep page) = %q, %+v, %v", titles, n, err)
		}
		titles, n, err = s.ListTitles(ctx, store.ListFilter{Tag: "rare", Limit: 5})
		if err != nil || n != (store.Count{N: 1, Exact: true}) || !slices.Equal(titles, []string{"Article 7"}) {
			t.Fatalf("ListTitles(rare tag) = %q, %+v, %v", titles, n, err)
		}
		day := base.Add(7 * 4 * time.Minute)
		const perDay = 24 * 60 / 4
		titles, n, err = s.ListTitles(ctx, store.ListFilter{Tag: "bulk", Day: onDay(day.AddDate(0, 0, 1)), Limit: 1})
		if err != nil || n != (store.Count{N: perDay, Exact: true}) || !slices.Equal(titles, []string{fmt.Sprintf("Article %d", 2*perDay-1)}) {
			t.Fatalf("ListTitles(tag, day) = %q, %+v, %v", titles, n, err)
		}
		if err := s.RefreshPopular(ctx); err != nil {
			t.Fatal(err)
		}
		pop, err := s.Popular(ctx, store.ListFilter{Day: onDay(day), Tag: "rare", Limit: 5})
		if err != nil || len(pop) != 1 || pop[0].Title != "Article 7" {
			t.Fatalf("Popular(day, tag) = %+v, %v", pop, err)
		}
		pop, err = s.Popular(ctx, store.ListFilter{Day: onDay(day.AddDate(0, 0, 1)), Limit: 2})
		if err != nil || len(pop) != 2 || pop[0].Title != fmt.Sprintf("Article %d", 2*perDay-1) || pop[1].Title != fmt.Sprintf("Article %d", 2*perDay-2) {
			t.Fatalf("Popular(day) = %+v, %v", pop, err)
		}
	})
}

// On PostgreSQL a query's words that share a stem count once: "stories story Story"
// finds what "story" finds, in the same order (they once made the planner expect a
// fifth of the matches and pick the plan for rare words).
func TestSearchRepeatedStems(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, store.Postgres)
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	var in []store.NewArticle
	for i := range 30 {
		in = append(in,
			store.NewArticle{Title: fmt.Sprintf("Story %d", i), Content: "Told twice.", Author: "A", CreatedAt: base},
			store.NewArticle{Title: fmt.Sprintf("Tale %d", i), Content: "Two stories.", Author: "A", CreatedAt: base},
			store.NewArticle{Title: fmt.Sprintf("Other %d", i), Content: "Nothing.", Author: "A", CreatedAt: base})
	}
	if err := s.BulkInsert(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	one, err := s.Search(ctx, "story", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	many, err := s.Search(ctx, "stories story Story", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 60 || len(many) != 60 {
		t.Fatalf("%d and %d results, want 60 each", len(one), len(many))
	}
	for i := range one {
		if one[i].ID != many[i].ID {
			t.Fatalf("result %d: article %d for one word, %d for the repeated stem", i, one[i].ID, many[i].ID)
		}
	}
	if !strings.HasPrefix(many[0].Title, "Story") || !strings.HasPrefix(many[59].Title, "Tale") {
		t.Fatalf("title matches first: got %q first and %q last", many[0].Title, many[59].Title)
	}
	// The words reach the planner once each.
	if q, err := s.SearchQuery(ctx, "Stories story tales, the tale"); err != nil || q != "('stori' & 'tale')" {
		t.Fatalf("tsquery %q, %v; want ('stori' & 'tale')", q, err)
	}
	if got, err := s.Search(ctx, "the and of", 100, 0); err != nil || len(got) != 0 {
		t.Fatalf("stop words only: %d results, %v; want none", len(got), err)
	}
}

// A bulk load with a lexicon stores the search vectors the trigger would have computed:
// the same synthetic articles, loaded with and without one, answer every search alike,
// in the same order, and an update of a title still reaches the index.
func TestBulkInsertWithLexicon(t *testing.T) {
	ctx := context.Background()
	given, parsed := storetest.Open(t, store.Postgres), storetest.Open(t, store.Postgres)
	lex, err := given.LoadLexicon(ctx, synth.Words())
	if err != nil {
		t.Fatal(err)
	}
	until := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gen := synth.NewGenerator(11, 30, until)
	in := make([]store.NewArticle, 3000)
	for i := range in {
		in[i] = gen.Next()
	}
	// One article the lexicon cannot know: the trigger computes its vectors.
	in[5] = store.NewArticle{Title: "Ünïcode zebra", Content: "Zebra café.", Author: "Zoë", Tags: []string{"naïve"}, CreatedAt: until}
	if err := given.BulkInsert(ctx, in, lex); err != nil {
		t.Fatal(err)
	}
	if err := parsed.BulkInsert(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	queries := []string{"zebra", "café", "naïve", "zoë"}
	mix := synth.NewGenerator(12, 30, until)
	for range 60 {
		queries = append(queries, mix.SearchQuery())
	}
	queries = append(queries, "sci-fi", "box-office", "sound-design")
	matched := 0
	for _, q := range queries {
		for _, offset := range []int{0, 100} {
			a, errA := given.Search(ctx, q, 100, offset)
			b, errB := parsed.Search(ctx, q, 100, offset)
			if errA != nil || errB != nil {
				t.Fatal(errA, errB)
			}
			if len(a) != len(b) {
				t.Fatalf("search %q offset %d: %d results with the lexicon, %d without", q, offset, len(a), len(b))
			}
			for i := range a {
				if a[i].ID != b[i].ID {
					t.Fatalf("search %q offset %d: result %d is article %d with the lexicon, %d without", q, offset, i, a[i].ID, b[i].ID)
				}
			}
			matched += len(a)
		}
	}
	if matched < 1000 {
		t.Fatalf("only %d results over %d queries: the comparison proves little", matched, len(queries))
	}
	// Row for row, the vectors the lexicon gave are those the trigger computed, and the
	// other columns hold what was given.
	const digest = `SELECT md5(string_agg(concat_ws('|', id, title, content, author, tags, version, created_at, updated_at,
		title_search, search), E'\n' ORDER BY id)) FROM articles`
	var a, b string
	if err := given.DB().Raw(digest).Row().Scan(&a); err != nil {
		t.Fatal(err)
	}
	if err := parsed.DB().Raw(digest).Row().Scan(&b); err != nil || a != b {
		t.Fatalf("articles loaded with the lexicon differ from those the trigger indexed (md5 %s, %s, %v)", a, b, err)
	}
	for _, i := range []int{0, 5, len(in) - 1} {
		got, err := given.GetArticle(ctx, int64(i+1))
		want := in[i]
		if err != nil || got.Title != want.Title || got.Content != want.Content || got.Author != want.Author ||
			!slices.Equal(got.Tags, want.Tags) || !got.CreatedAt.Equal(want.CreatedAt.Truncate(time.Microsecond)) ||
			!got.UpdatedAt.Equal(got.CreatedAt) || got.Version != 1 {
			t.Fatalf("article %d came back as %+v, %v; want %+v", i+1, got, err, want)
		}
	}
	// Text with what COPY's text format gives a meaning to (tabs, newlines, backslashes)
	// comes back as it went in through the binary form too.
	odd := store.NewArticle{Title: `Back\slash \N`, Content: "Tab\there,\nnew line,\r\nand \\.", Author: "A\tB", Tags: []string{`x\y`}, CreatedAt: until}
	if err := given.BulkInsert(ctx, []store.NewArticle{odd}, lex); err != nil {
		t.Fatal(err)
	}
	back, err := given.GetArticle(ctx, int64(len(in)+1))
	if err != nil || back.Title != odd.Title || back.Content != odd.Content || back.Author != odd.Author || !slices.Equal(back.Tags, odd.Tags) {
		t.Fatalf("article with escapes came back as %+v, %v", back, err)
	}
	title := "Quagga"
	for _, s := range []*store.Store{given, parsed} {
		if _, err := s.UpdateArticle(ctx, 1, store.ArticlePatch{Title: &title}, store.AnyVersion); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Search(ctx, "quagga", 10, 0); err != nil || len(got) != 1 || got[0].ID != 1 {
			t.Fatalf("search for the new title = %+v, %v", got, err)
		}
	}
}

// A search whose query fails says so (it once returned no articles and no error when the
// planner's estimate had been read but the search itself failed).
func TestSearchReportsFailure(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t, store.Postgres)
	s, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateArticle(ctx, store.NewArticle{Title: "A film", Content: "c", Author: "a"}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The estimate reads articles only; the search joins article_views.
	if _, err := conn.Exec(ctx, "ALTER TABLE article_views RENAME TO article_views_gone"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Search(ctx, "film", 10, 0); err == nil {
		t.Fatalf("Search with article_views gone = %v, nil; want an error", got)
	}
}

// Every PostgreSQL connection is dialled with a bound, the URL's own if it has one.
func TestWithConnectTimeout(t *testing.T) {
	for _, tt := range []struct {
		dsn  string
		d    time.Duration
		want string
	}{
		{"postgres://u@h:5432/db?sslmode=disable", 5 * time.Second, "postgres://u@h:5432/db?connect_timeout=5&sslmode=disable"},
		{"postgres://u@h/db", 1500 * time.Millisecond, "postgres://u@h/db?connect_timeout=2"},
		{"postgres://u@h/db", 10 * time.Millisecond, "postgres://u@h/db?connect_timeout=1"},
		{"postgres://u@h/db?connect_timeout=30", 5 * time.Second, "postgres://u@h/db?connect_timeout=30"},
		{"postgres://u@h/%zz", 5 * time.Second, "postgres://u@h/%zz"},
		{"host=h dbname=db", 5 * time.Second, "host=h dbname=db connect_timeout=5"},
		{"host=h connect_timeout=9 dbname=db", 5 * time.Second, "host=h connect_timeout=9 dbname=db"},
	} {
		if got := store.WithConnectTimeout(tt.dsn, tt.d); got != tt.want {
			t.Errorf("WithConnectTimeout(%q, %s) = %q, want %q", tt.dsn, tt.d, got, tt.want)
		}
	}
}
