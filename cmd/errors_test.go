package cmd

import (
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/articlesd/articlesd/store"
)

// TestUnknownEnvironmentWarned: an ARTICLESD_* variable that sets nothing is reported at
// start with the name it was probably meant to be; the suite's own are not.
func TestUnknownEnvironmentWarned(t *testing.T) {
	clearEnv(t)
	t.Setenv("ARTICLESD_LOG_LEVLE", "debug")
	t.Setenv("ARTICLESD_TEST_SOMETHING", "1")
	t.Setenv("ARTICLESD_SHUTDOWN_TIMOUT", "3s")
	_, stderr, err := run(t, "migrate", "status", "--database-url", "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	want := "articlesd: warning: unknown environment variable ARTICLESD_LOG_LEVLE (ignored); did you mean ARTICLESD_LOG_LEVEL?\n" +
		"articlesd: warning: unknown environment variable ARTICLESD_SHUTDOWN_TIMOUT (ignored); did you mean ARTICLESD_SHUTDOWN_TIMEOUT?\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
}

// TestServeChecksAddressFirst: a listen address that cannot work is reported before
// anything is touched: no database file, no migration, no token.
func TestServeChecksAddressFirst(t *testing.T) {
	clearEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	inUse := ln.Addr().String()
	for _, addr := range []string{"127.0.0.1:80000", "127.0.0.1:-1", "127.0.0.1:nosuchservice", inUse} {
		dir := t.TempDir()
		db := filepath.Join(dir, "articles.db")
		stdout, stderr, err := run(t, "serve", "--addr", addr, "--database-url", "sqlite://"+db)
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("serve --addr %s = %v, want an error naming the address", addr, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("serve --addr %s touched the database directory before failing: %v", addr, entries)
		}
		if stdout != "" || strings.Contains(stderr, "token") {
			t.Errorf("serve --addr %s printed before failing: stdout %q, stderr %q", addr, stdout, stderr)
		}
	}
}

// TestUnresolvableHostSaysWhy: the reason of a failed connection is in the one line.
func TestUnresolvableHostSaysWhy(t *testing.T) {
	clearEnv(t)
	_, _, err := run(t, "migrate", "status", "--database-url", "postgres://postgres@nonexistent.invalid:5432/x")
	if err == nil || !strings.Contains(err.Error(), "nonexistent.invalid:5432/x: ") ||
		!strings.Contains(err.Error(), "lookup nonexistent.invalid") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error = %q, want one line with the lookup's failure", err)
	}
}

// TestMigrateDownWhileServing: `migrate down` under a running server warns that it pulls
// tables from under it; the server then answers 503 (not 500) and says why in its log,
// and /readyz is 503; `migrate up` mends it all without a restart.
func TestMigrateDownWhileServing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, serveConfig(dbURL))
		if status, _, body := httpDo(t, "POST", srv.url("/articles"), "application/json", `{"title":"t","content":"c","author":"a"}`); status != 201 {
			t.Fatalf("create: %d %s", status, body)
		}
		// Every migration reverted, one by one; each run warns.
		for i := 0; ; i++ {
			stdout, stderr, err := run(t, "migrate", "down", "--database-url", dbURL)
			if err != nil {
				t.Fatal(err)
			}
			if stdout == "no applied migrations\n" {
				break
			}
			if !strings.Contains(stderr, "articlesd: warning: ") || !strings.Contains(stderr, "until `articlesd migrate up`") {
				t.Errorf("migrate down under a server warned %q", stderr)
			}
			if i > 50 {
				t.Fatal("migrate down never ran out of migrations")
			}
		}
		status, hdr, body := httpDo(t, "GET", srv.url("/articles/1"), "", "")
		if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Errorf("GET after migrate down: %d %s, want 503 with Retry-After", status, body)
		}
		waitFor(t, 5*time.Second, "the reason in the log", func() bool {
			return strings.Contains(srv.log.String(), `msg="database schema missing: migrations not applied, or reverted while serving"`)
		})
		if status, _, body := httpDo(t, "GET", srv.url("/readyz"), "", ""); status != http.StatusServiceUnavailable {
			t.Errorf("/readyz after migrate down: %d %s, want 503", status, body)
		}
		if _, stderr, err := run(t, "migrate", "up", "--database-url", dbURL); err != nil || stderr != "" {
			t.Fatalf("migrate up: %v %s", err, stderr)
		}
		if status, _, body := httpDo(t, "POST", srv.url("/articles"), "application/json", `{"title":"t","content":"c","author":"a"}`); status != 201 {
			t.Errorf("create after migrate up: %d %s, want 201", status, body)
		}
		if status, _, body := httpDo(t, "GET", srv.url("/articles/1"), "", ""); status != http.StatusOK {
			t.Errorf("GET after migrate up: %d %s, want 200", status, body)
		}
		if status, _, body := httpDo(t, "GET", srv.url("/readyz"), "", ""); status != http.StatusOK {
			t.Errorf("/readyz after migrate up: %d %s, want 200", status, body)
		}
		if err := srv.stop(t); err != nil {
			t.Fatal(err)
		}
		// With no server left, migrate down says nothing of servers.
		if _, stderr, err := run(t, "migrate", "down", "--database-url", dbURL); err != nil || stderr != "" {
			t.Errorf("migrate down with no server: %v %q", err, stderr)
		}
	})
}

// TestServeRefusesChangedMigration: a migration applied from another file than this
// binary's stops serve before it serves, with migrations applied at start or not.
func TestServeRefusesChangedMigration(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		mustRun(t, "migrate", "--database-url", dbURL)
		execSQL(t, dbURL, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 3")
		for _, auto := range []string{"true", "false"} {
			_, _, err := run(t, "serve", "--addr", "127.0.0.1:0", "--auto-migrate="+auto, "--database-url", dbURL)
			if !errors.Is(err, store.ErrMigrationChanged) || !strings.Contains(err.Error(), "0003_title_search") {
				t.Errorf("serve --auto-migrate=%s = %v, want a refusal naming 0003_title_search", auto, err)
			}
		}
		if out := mustRun(t, "migrate", "status", "--database-url", dbURL); !strings.Contains(out, "0003     title_search         changed") {
			t.Errorf("migrate status:\n%s", out)
		}
	})
}

// TestPrincipalRecorded: the name of the token that made a write is in the request's log
// line and in the article's created_by.
func TestPrincipalRecorded(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, serveConfig(dbURL))
		if status, _, body := httpDo(t, "POST", srv.url("/articles"), "application/json", `{"title":"t","content":"c","author":"a"}`); status != 201 {
			t.Fatalf("create: %d %s", status, body)
		}
		if got := querySQL(t, dbURL, "SELECT created_by FROM articles WHERE id = 1"); got != "bootstrap" {
			t.Errorf("created_by = %q, want bootstrap (the bootstrap token's name)", got)
		}
		waitFor(t, 5*time.Second, "the log line with the principal", func() bool {
			return strings.Contains(srv.log.String(), "status=201") && strings.Contains(srv.log.String(), "principal=bootstrap")
		})
		if status, _, _ := httpDo(t, "GET", srv.url("/articles/1"), "", ""); status != 200 {
			t.Fatal(status)
		}
	})
}

// rawDB opens the database behind dbURL outside articlesd, closed at the end of the test.
func rawDB(t *testing.T, dbURL string) *gorm.DB {
	t.Helper()
	loc, err := store.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	var dialector gorm.Dialector = postgres.Open(loc.DSN)
	if loc.Dialect == store.SQLite {
		dialector = sqlite.Open(loc.DSN)
	}
	db, err := gorm.Open(dialector, &gorm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// execSQL runs one statement on the database behind dbURL, outside articlesd.
func execSQL(t *testing.T, dbURL, statement string) {
	t.Helper()
	if err := rawDB(t, dbURL).Exec(statement).Error; err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
}

// querySQL returns the one value a query selects, as text, from the database behind dbURL.
func querySQL(t *testing.T, dbURL, query string) string {
	t.Helper()
	var v string
	if err := rawDB(t, dbURL).Raw(query).Scan(&v).Error; err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}
