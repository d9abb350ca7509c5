// Package storetest gives tests real databases: a fresh PostgreSQL database or SQLite
// file per test, migrated, and dropped when the test ends. There is no mock.
//
// PostgreSQL is found at ARTICLESD_TEST_DATABASE_URL, or else at the local server
// (postgres://postgres@127.0.0.1:5432/postgres). Where none answers, PostgreSQL tests
// skip with a loud message, unless ARTICLESD_REQUIRE_POSTGRES=1, which makes them fail;
// Main reports the skips of a package in go test's default output (see skips.go).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/store"
)

const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Dialects lists the databases every store-backed test runs on.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// ForEachDialect runs fn as a subtest per dialect, each with its own fresh, migrated store.
func ForEachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a fresh, migrated store of the given dialect, closed at the end of the test.
func Open(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	s := OpenEmpty(t, d)
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// OpenEmpty is Open without migrating.
func OpenEmpty(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), URL(t, d), store.Options{})
	if err != nil {
		t.Fatalf("open %s store: %v", d, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// URL creates a fresh, empty database of the given dialect and returns its URL. The
// database is dropped when the test ends.
func URL(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return "sqlite://" + filepath.Join(t.TempDir(), "articles.db")
	}
	admin := adminURL()
	name := databaseName(t)
	adminExec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { adminExec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", store.Redact(admin), err)
	}
	u.Path = "/" + name
	return u.String()
}

// RequirePostgres reports whether PostgreSQL tests must run (fail rather than skip).
func RequirePostgres() bool { return Postgres.Required() }

// AdminURL is the URL of the PostgreSQL database the test databases are made from.
func AdminURL() string { return adminURL() }

func adminURL() string {
	if u := os.Getenv("ARTICLESD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultAdminURL
}

// adminExec runs one statement on the admin database, skipping the test (or failing it,
// when PostgreSQL is required) where the server does not answer.
func adminExec(t testing.TB, admin, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		Skip(t, Postgres, fmt.Sprintf("not reachable at %s (%v)", store.Redact(admin), err))
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName is unique per call and says which test made it.
func databaseName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	return "articlesd_" + base + "_" + hex.EncodeToString(b[:])
}
