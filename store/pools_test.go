package store_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestReadReplicaRules: with a read URL, listings, search, popular and reads by id go
// to the read pool; a read by id the replica misses is answered by the primary; writes
// and token checks go to the primary; and while the primary's database is gone, the
// store stays ready, reads go on, and writes fail as unavailable, naming the host that
// refused. The "replica" is a second database that never receives the primary's writes:
// a standby lagging forever, which makes every rule visible.
func TestReadReplicaRules(t *testing.T) {
	ctx := context.Background()
	primaryURL, replicaURL := migratedURL(t), migratedURL(t)
	// What the replica already has: one article the primary does not, under an id the
	// primary will not hand out during the test.
	replica := openRaw(t, replicaURL)
	if _, err := replica.Exec(ctx, `SELECT setval(pg_get_serial_sequence('articles', 'id'), 1000)`); err != nil {
		t.Fatal(err)
	}
	onReplica, err := store.Open(ctx, replicaURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old, err := onReplica.CreateArticle(ctx, store.NewArticle{Title: "Replicated", Content: "standby words", Author: "r", Tags: []string{"old"}})
	_ = onReplica.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err := store.Open(ctx, primaryURL, store.Options{ReadURL: replicaURL, ConnectTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	// served runs a store call and returns the pools it used.
	served := func(what string, call func(ctx context.Context) error) string {
		t.Helper()
		ctx, use := store.WithPoolUse(ctx)
		if err := call(ctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return use.String()
	}
	expect := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s served by %q, want %q", what, got, want)
		}
	}

	var fresh store.Article
	expect("create", served("create", func(ctx context.Context) (err error) {
		fresh, err = s.CreateArticle(ctx, store.NewArticle{Title: "Fresh", Content: "primary words", Author: "p", Tags: []string{"new"}})
		return err
	}), store.PoolPrimary)
	expect("create with a key", served("create with a key", func(ctx context.Context) error {
		_, _, err := s.CreateArticleOnce(ctx, store.NewArticle{Title: "Keyed", Content: "k", Author: "p"}, store.IdempotencyKey{Principal: "p", Key: "k"})
		return err
	}), store.PoolPrimary)

	expect("listing", served("listing", func(ctx context.Context) error {
		titles, _, err := s.ListTitles(ctx, store.ListFilter{Limit: 10})
		if err == nil && !slices.Equal(titles, []string{"Replicated"}) {
			t.Errorf("listing %q, want the replica's [Replicated]", titles)
		}
		return err
	}), store.PoolReplica)
	expect("search", served("search", func(ctx context.Context) error {
		found, err := s.Search(ctx, "standby", 10, 0)
		if err == nil && (len(found) != 1 || found[0].ID != old.ID) {
			t.Errorf("search found %+v, want the replica's article %d", found, old.ID)
		}
		return err
	}), store.PoolReplica)
	expect("popular", served("popular", func(ctx context.Context) error {
		_, err := s.Popular(ctx, store.ListFilter{Limit: 10})
		return err
	}), store.PoolReplica)
	expect("read of a replicated article", served("read", func(ctx context.Context) error {
		a, err := s.GetArticle(ctx, old.ID)
		if err == nil && a.Title != "Replicated" {
			t.Errorf("read %+v, want Replicated", a)
		}
		return err
	}), store.PoolReplica)
	expect("read of an article the replica misses", served("read", func(ctx context.Context) error {
		a, err := s.GetArticle(ctx, fresh.ID)
		if err == nil && (a.Title != "Fresh" || a.Version != 1) {
			t.Errorf("read %+v, want Fresh at version 1", a)
		}
		return err
	}), store.PoolPrimary+"+"+store.PoolReplica)
	ctxMiss, use := store.WithPoolUse(ctx)
	if _, err := s.GetArticle(ctxMiss, 999_999); !errors.Is(err, store.ErrNotFound) || use.String() != "primary+replica" {
		t.Errorf("read of no article: %v via %q, want ErrNotFound via both pools", err, use)
	}
	expect("update", served("update", func(ctx context.Context) error {
		_, err := s.UpdateArticle(ctx, fresh.ID, store.ArticlePatch{Title: new("Fresher")}, store.AnyVersion)
		return err
	}), store.PoolPrimary)
	var secret string
	expect("token create", served("token create", func(ctx context.Context) (err error) {
		secret, err = s.CreateToken(ctx, "ci")
		return err
	}), store.PoolPrimary)
	expect("token check", served("token check", func(ctx context.Context) error {
		name, ok, err := s.VerifyToken(ctx, secret)
		if err == nil && (!ok || name != "ci") {
			t.Errorf("token check: %q %v", name, ok)
		}
		return err
	}), store.PoolPrimary)
	expect("delete", served("delete", func(ctx context.Context) error {
		return s.DeleteArticle(ctx, fresh.ID, store.AnyVersion)
	}), store.PoolPrimary)

	// The primary's database goes away (what a standby that has not replayed its CREATE
	// DATABASE answers, too): reads and readiness go on from the replica, writes fail as
	// unavailable and say which host refused.
	admin := openRaw(t, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	u, err := url.Parse(primaryURL)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{dbName}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Errorf("ready without the primary: %v, want ready on the replica", err)
	}
	if titles, _, err := s.ListTitles(ctx, store.ListFilter{Limit: 10}); err != nil || len(titles) != 1 {
		t.Errorf("listing without the primary: %q, %v", titles, err)
	}
	// The pool's connections were terminated with the database: the first write may
	// meet one of them (57P01); the next connects anew and is refused.
	var refused *store.RefusedError
	for range 3 {
		_, err = s.CreateArticle(ctx, store.NewArticle{Title: "Lost", Content: "c", Author: "p"})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("create without the primary: %v, want ErrUnavailable", err)
		}
		if errors.As(err, &refused) {
			break
		}
	}
	if refused == nil {
		t.Fatalf("create without the primary: %v, want ErrUnavailable naming the host that refused", err)
	}
	if refused.Host != "127.0.0.1:5432 (127.0.0.1)" || !strings.Contains(refused.Reason, "(SQLSTATE 3D000)") || refused.Untried {
		t.Errorf("refusal %+v, want host 127.0.0.1:5432 (127.0.0.1), SQLSTATE 3D000, none untried", refused)
	}
}

// TestRefusalNamesTheHost: pgx stops at the first host that refuses the database; the
// error names it and says the hosts after it were not tried.
func TestRefusalNamesTheHost(t *testing.T) {
	storetest.URL(t, store.Postgres) // skips where PostgreSQL is missing
	dbURL := "postgres://postgres@127.0.0.1:5432,127.0.0.1:1/articlesd_no_such_database?sslmode=disable"
	_, err := store.Open(context.Background(), dbURL, store.Options{ConnectTimeout: 3 * time.Second})
	want := "connect to postgres at " + dbURL + ": database host 127.0.0.1:5432 (127.0.0.1) refused the connection: " +
		`FATAL: database "articlesd_no_such_database" does not exist (SQLSTATE 3D000) ` +
		"(the hosts after it were not tried: pgx stops at a host that refuses)"
	if err == nil || err.Error() != want {
		t.Fatalf("open: %v\nwant: %s", err, want)
	}
}

func openRaw(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// TestReadByIDWithoutTheReplica: a read by id that the replica cannot answer (its
// database gone, as a restarting standby refuses connections) is answered by the
// primary, not failed.
func TestReadByIDWithoutTheReplica(t *testing.T) {
	ctx := context.Background()
	primaryURL, replicaURL := migratedURL(t), migratedURL(t)
	s, err := store.Open(ctx, primaryURL, store.Options{ReadURL: replicaURL, ConnectTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	a, err := s.CreateArticle(ctx, store.NewArticle{Title: "Kept", Content: "c", Author: "p"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(replicaURL)
	if err != nil {
		t.Fatal(err)
	}
	admin := openRaw(t, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	for range 3 { // the pool's terminated connections first, then refused new ones
		rctx, use := store.WithPoolUse(ctx)
		got, err := s.GetArticle(rctx, a.ID)
		if err != nil || got.Title != "Kept" {
			t.Fatalf("read without the replica: %+v, %v", got, err)
		}
		if use.String() != "primary+replica" {
			t.Errorf("served by %q, want primary+replica", use.String())
		}
	}
}

// migratedURL returns the URL of a fresh, migrated PostgreSQL database, dropped at the
// end of the test.
func migratedURL(t *testing.T) string {
	t.Helper()
	u := storetest.URL(t, store.Postgres)
	s, err := store.Open(context.Background(), u, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return u
}
