package cmd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// migrationNames are the embedded migrations as `migrate` prints them: 0001_articles, …
func migrationNames(t *testing.T) []string {
	t.Helper()
	ms, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, fmt.Sprintf("%04d_%s", m.Version, m.Name))
	}
	if len(names) < 2 {
		t.Fatalf("only %d migrations: %v", len(names), names)
	}
	return names
}

// checkStatus checks the output of `migrate status`: the header, one row per migration
// with its columns aligned under the header, the first `applied` of them applied (with
// a recent RFC 3339 time) and the others pending.
func checkStatus(t *testing.T, out string, applied int) {
	t.Helper()
	names := migrationNames(t)
	ls := lines(out)
	if len(ls) != 1+len(names) {
		t.Fatalf("migrate status printed %d lines, want %d:\n%s", len(ls), 1+len(names), out)
	}
	header := ls[0]
	if got, want := strings.Fields(header), []string{"VERSION", "NAME", "STATUS", "APPLIED", "AT"}; !equal(got, want) {
		t.Fatalf("header fields = %q, want %q", got, want)
	}
	for r, row := range ls[1:] {
		fields := strings.Fields(row)
		if len(fields) != 4 {
			t.Fatalf("row %q has %d columns, want 4", row, len(fields))
		}
		// The columns line up: each value starts where its heading starts.
		for i, heading := range []string{"VERSION", "NAME", "STATUS", "APPLIED AT"} {
			h, v := strings.Index(header, heading), columnStart(row, i)
			if h != v {
				t.Errorf("column %d (%s) starts at %d in the header but at %d in the row:\n%s", i, heading, h, v, out)
			}
		}
		if got := fields[0] + "_" + fields[1]; got != names[r] {
			t.Fatalf("row %d = %q, want migration %s", r, row, names[r])
		}
		if r >= applied {
			if fields[2] != "pending" || fields[3] != "-" {
				t.Fatalf("row = %q, want %s pending -", row, names[r])
			}
			continue
		}
		if fields[2] != "applied" {
			t.Fatalf("row = %q, want status applied", row)
		}
		at, err := time.Parse(time.RFC3339, fields[3])
		if err != nil {
			t.Fatalf("applied at %q is not RFC 3339: %v", fields[3], err)
		}
		if d := time.Since(at); d < -time.Minute || d > 10*time.Minute {
			t.Fatalf("applied at %s, which is %s from now", at, d)
		}
	}
}

// columnStart returns the byte offset at which the i-th whitespace-separated field of
// line starts.
func columnStart(line string, i int) int {
	locs := regexp.MustCompile(`\S+`).FindAllStringIndex(line, -1)
	if i >= len(locs) {
		return -1
	}
	return locs[i][0]
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMigrate(t *testing.T) {
	names := migrationNames(t)
	last, all := len(names)-1, len(names)
	appliedAll := ""
	for _, n := range names {
		appliedAll += "applied " + n + "\n"
	}
	forEachDialect(t, func(t *testing.T, dbURL string) {
		db := "--database-url=" + dbURL
		steps := []struct {
			args     []string
			want     string // exact stdout; empty means: a `migrate status` listing
			applied  int    // for status: how many migrations are applied
			articles bool   // whether the articles table exists afterwards
		}{
			{args: []string{"migrate", "status", db}, applied: 0},
			{args: []string{"migrate", "up", db}, want: appliedAll, articles: true},
			{args: []string{"migrate", "up", db}, want: "no pending migrations\n", articles: true},
			{args: []string{"migrate", "status", db}, applied: all, articles: true},
			// down is one step: the newest migration only.
			{args: []string{"migrate", "down", db}, want: "reverted " + names[last] + "\n", articles: true},
			{args: []string{"migrate", "status", db}, applied: all - 1, articles: true},
		}
		for i := last - 1; i >= 0; i-- {
			steps = append(steps, struct {
				args     []string
				want     string
				applied  int
				articles bool
			}{args: []string{"migrate", "down", db}, want: "reverted " + names[i] + "\n", articles: i > 0})
		}
		steps = append(steps, []struct {
			args     []string
			want     string
			applied  int
			articles bool
		}{
			{args: []string{"migrate", "status", db}, applied: 0},
			{args: []string{"migrate", "down", db}, want: "no applied migrations\n"},
			// Bare `migrate` is `migrate up`.
			{args: []string{"migrate", db}, want: appliedAll, articles: true},
			{args: []string{"migrate", db}, want: "no pending migrations\n", articles: true},
			{args: []string{"migrate", "status", db}, applied: all, articles: true},
		}...)
		for i, step := range steps {
			out := mustRun(t, step.args...)
			if step.want == "" {
				checkStatus(t, out, step.applied)
			} else if out != step.want {
				t.Fatalf("step %d: articlesd %s printed %q, want %q", i, strings.Join(step.args[:len(step.args)-1], " "), out, step.want)
			}
			// The schema really follows: counting articles works exactly when the table is there.
			st, err := store.Open(context.Background(), dbURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.CountArticles(context.Background())
			st.Close()
			if (err == nil) != step.articles {
				t.Fatalf("step %d (%v): counting articles gave %v, want the table to exist = %v", i, step.args[:len(step.args)-1], err, step.articles)
			}
		}
	})
}

func TestMigrateRejectsArguments(t *testing.T) {
	clearEnv(t)
	dbURL := storetest.URL(t, store.SQLite)
	for _, args := range [][]string{
		{"migrate", "up", "extra"},
		{"migrate", "down", "extra"},
		{"migrate", "status", "extra"},
	} {
		_, _, err := run(t, append(args, "--database-url", dbURL)...)
		if err == nil {
			t.Errorf("articlesd %v: no error, want one about the extra argument", args)
		}
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
		// The stopped server's backends leave pg_stat_activity a moment after it exits.
		if strings.HasPrefix(dbURL, "postgres") {
			st, err := store.Open(context.Background(), dbURL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the stopped server's connections to end", func() bool {
				n, err := st.ServersConnected(context.Background())
				return err == nil && n == 0
			})
			_ = st.Close()
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
