package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// testBuild is the build information every in-process command runs with.
var testBuild = BuildInfo{Version: "1.2.3", Commit: "abc", Date: "2026-01-01"}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// TestMain fails the run if any test leaves the default embedded database,
// ./articlesd.db, in the package directory: every test must name its database.
func TestMain(m *testing.M) {
	_, err := os.Stat(store.DefaultSQLitePath)
	existed := err == nil
	code := storetest.Main(m)
	if _, err := os.Stat(store.DefaultSQLitePath); err == nil && !existed {
		fmt.Fprintf(os.Stderr, "FAIL: a test created ./%s in the package directory\n", store.DefaultSQLitePath)
		for _, suffix := range []string{"", "-shm", "-wal"} {
			_ = os.Remove(store.DefaultSQLitePath + suffix)
		}
		code = 1
	}
	os.Exit(code)
}

// clearEnv makes a test hermetic: every ARTICLESD_* variable that configures articlesd
// is emptied (viper ignores empty variables) for the duration of the test. The
// variables that configure the test databases (ARTICLESD_TEST_DATABASE_URL,
// ARTICLESD_REQUIRE_POSTGRES) are kept.
func clearEnv(t *testing.T) {
	t.Helper()
	for key := range defaults {
		t.Setenv(envVariable(key), "")
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix+"_") && name != "ARTICLESD_TEST_DATABASE_URL" && name != "ARTICLESD_REQUIRE_POSTGRES" {
			t.Setenv(name, "")
		}
	}
}

// run executes articlesd in-process with args and returns what it wrote and its error.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runWithin(t, 2*time.Minute, args...)
}

// runWithin is run with a time limit: a command still running then has its context
// canceled (a serve that should have failed returns, and the test fails, soon).
func runWithin(t *testing.T, limit time.Duration, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out, errOut bytes.Buffer
	root := NewRootCommand(testBuild)
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// mustRun is run for commands that must succeed and write nothing on stderr.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := run(t, args...)
	if err != nil {
		t.Fatalf("articlesd %s: %v (stdout %q, stderr %q)", strings.Join(args, " "), err, stdout, stderr)
	}
	if stderr != "" {
		t.Fatalf("articlesd %s wrote to stderr: %q", strings.Join(args, " "), stderr)
	}
	return stdout
}

// lines splits output into its lines, without the final newline.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// forEachDialect runs fn as a subtest per dialect with a fresh, empty database URL and a
// clean environment.
func forEachDialect(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			clearEnv(t)
			fn(t, storetest.URL(t, d))
		})
	}
}

// countArticles opens the database behind dbURL and counts its articles.
func countArticles(t *testing.T, dbURL string) int64 {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", store.Redact(dbURL), err)
	}
	defer st.Close()
	n, err := st.CountArticles(ctx)
	if err != nil {
		t.Fatalf("count articles: %v", err)
	}
	return n
}

// writeFile writes content to a new file in a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// subcommand finds a subcommand of a fresh root command by its path.
func subcommand(t *testing.T, path ...string) *cobra.Command {
	t.Helper()
	root := NewRootCommand(BuildInfo{})
	c, rest, err := root.Find(path)
	if err != nil || len(rest) != 0 || c.Name() != path[len(path)-1] {
		t.Fatalf("find %v: %v, %v, rest %v", path, c, err, rest)
	}
	return c
}

// loadFor parses args as the flags of the subcommand at path (its own flags and the
// persistent flags of the root) and resolves the configuration as the command would.
func loadFor(t *testing.T, path []string, args ...string) (Config, error) {
	t.Helper()
	c := subcommand(t, path...)
	if err := c.ParseFlags(args); err != nil {
		t.Fatalf("parse flags %v: %v", args, err)
	}
	return loadConfig(c)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a server's goroutines
// and the reads of the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until cond holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveConfig is a valid configuration for a test server on a free local port.
func serveConfig(dbURL string) Config {
	return Config{
		Addr:              "127.0.0.1:0",
		DatabaseURL:       dbURL,
		LogLevel:          "info",
		AutoMigrate:       true,
		ShutdownTimeout:   10 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxBodyBytes:      1 << 20,
		DBMaxConns:        4,
		Auth:              "on",
		BootstrapToken:    testToken,
		RequestTimeout:    5 * time.Second,
		WriteStallTimeout: 10 * time.Second,
	}
}

// testToken is the bootstrap token of the test servers; httpDo sends it.
const testToken = "test-token-0123456789abcdef"

// testServer is a runServe running in the background.
type testServer struct {
	addr   string
	log    *syncBuffer
	cancel context.CancelFunc
	exited chan struct{} // closed when runServe has returned, with err set
	err    error
}

// startServer runs runServe with cfg until the test stops it (or ends) and waits until it
// serves requests.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration is invalid: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{log: &syncBuffer{}, cancel: cancel, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		defer close(s.exited)
		s.err = runServe(ctx, cfg, BuildInfo{Version: "t"}, s.log, ready)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("server still running 30s after the end of the test")
		}
	})
	select {
	case s.addr = <-ready:
	case <-s.exited:
		t.Fatalf("runServe returned before serving: %v\nlog:\n%s", s.err, s.log)
	case <-time.After(60 * time.Second):
		t.Fatalf("server not ready after 60s\nlog:\n%s", s.log)
	}
	return s
}

// stop cancels the server's context and returns what runServe returned.
func (s *testServer) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case <-s.exited:
		return s.err
	case <-time.After(15 * time.Second):
		t.Fatalf("runServe did not return within 15s of the cancel\nlog:\n%s", s.log)
		return nil
	}
}

func (s *testServer) url(path string) string { return "http://" + s.addr + path }

// httpDo sends one request and returns the status, headers and body of the response.
func httpDo(t *testing.T, method, url, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// ---------------------------------------------------------------------------
// migrate
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// seed
// ---------------------------------------------------------------------------

func TestSeedDemo(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		// seed applies pending migrations itself: the database is empty here.
		if got, want := mustRun(t, "seed", "--database-url", dbURL), "added 12 demo articles (0 were already there)\n"; got != want {
			t.Fatalf("first seed printed %q, want %q", got, want)
		}
		if n := countArticles(t, dbURL); n != 12 {
			t.Fatalf("after the first seed there are %d articles, want 12", n)
		}
		if got, want := mustRun(t, "seed", "--database-url", dbURL), "added 0 demo articles (12 were already there)\n"; got != want {
			t.Fatalf("second seed printed %q, want %q", got, want)
		}
		if n := countArticles(t, dbURL); n != 12 {
			t.Fatalf("after the second seed there are %d articles, want 12", n)
		}
		checkStatus(t, mustRun(t, "migrate", "status", "--database-url", dbURL), len(migrationNames(t)))
	})
}

// TestSeedDemoKnowsItsOwn: an article a user wrote under a demo article's title and
// author is not taken for the demo article.
func TestSeedDemoKnowsItsOwn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		mustRun(t, "migrate", "--database-url", dbURL)
		st, err := store.Open(context.Background(), dbURL, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		demo := store.DemoArticles()[0]
		if _, err := st.CreateArticle(context.Background(), store.NewArticle{Title: demo.Title, Content: "mine", Author: demo.Author, CreatedBy: "me"}); err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		if got, want := mustRun(t, "seed", "--database-url", dbURL), "added 12 demo articles (0 were already there)\n"; got != want {
			t.Fatalf("seed printed %q, want %q", got, want)
		}
		if n := countArticles(t, dbURL); n != 13 {
			t.Fatalf("after the seed there are %d articles, want 13", n)
		}
		checkStatus(t, mustRun(t, "migrate", "status", "--database-url", dbURL), len(migrationNames(t)))
	})
}

var insertedLine = regexp.MustCompile(`^inserted (\d+) synthetic articles in \S+ \(\d+ articles/s\)$`)

func TestSeedSynthetic(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		seed := func(args ...string) string {
			t.Helper()
			out := mustRun(t, append([]string{"seed", "--database-url", dbURL}, args...)...)
			ls := lines(out)
			if len(ls) != 1 {
				t.Fatalf("seed %v printed %d lines, want 1: %q", args, len(ls), out)
			}
			m := insertedLine.FindStringSubmatch(ls[0])
			if m == nil {
				t.Fatalf("seed %v printed %q, want %q", args, ls[0], insertedLine)
			}
			return m[1]
		}

		if n := seed("--count", "250", "--batch-size", "100"); n != "250" {
			t.Fatalf("seed --count 250 reported %s articles", n)
		}
		if n := countArticles(t, dbURL); n != 250 {
			t.Fatalf("after seed --count 250 there are %d articles, want 250", n)
		}
		// A count that is not a multiple of the batch size, with more writers than batches.
		if n := seed("--count", "7", "--batch-size", "3", "--workers", "4"); n != "7" {
			t.Fatalf("seed --count 7 reported %s articles", n)
		}
		if n := countArticles(t, dbURL); n != 257 {
			t.Fatalf("after seed --count 7 there are %d articles, want 257", n)
		}
		// One writer, and a batch larger than the count.
		if n := seed("--count", "5", "--batch-size", "1000", "--workers", "1"); n != "5" {
			t.Fatalf("seed --count 5 reported %s articles", n)
		}
		if n := countArticles(t, dbURL); n != 262 {
			t.Fatalf("after seed --count 5 there are %d articles, want 262", n)
		}
		if n := seed("--count", "0"); n != "0" {
			t.Fatalf("seed --count 0 reported %s articles", n)
		}
		if n := countArticles(t, dbURL); n != 262 {
			t.Fatalf("after seed --count 0 there are %d articles, want 262", n)
		}

		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--batch-size", "0"}, "--batch-size must be between 1 and 10000, not 0"},
			{[]string{"--count", "10", "--batch-size", "0"}, "--batch-size must be between 1 and 10000, not 0"},
			{[]string{"--count", "10", "--batch-size", "10001"}, "--batch-size must be between 1 and 10000, not 10001"},
			{[]string{"--count", "-1"}, "--count must not be negative, not -1"},
			{[]string{"--count", "10", "--workers", "0"}, "--workers must be between 1 and 64, not 0"},
			{[]string{"--count", "10", "--workers", "65"}, "--workers must be between 1 and 64, not 65"},
			{[]string{"--count", "ten"}, `invalid argument "ten" for "--count"`},
		} {
			stdout, _, err := runWithin(t, 30*time.Second, append([]string{"seed", "--database-url", dbURL}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("seed %v: error %v, want it to contain %q", tt.args, err, tt.want)
			}
			if stdout != "" {
				t.Errorf("seed %v printed %q on failure", tt.args, stdout)
			}
		}
		if n := countArticles(t, dbURL); n != 262 {
			t.Fatalf("after the rejected seeds there are %d articles, want 262", n)
		}
	})
}

// ---------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------

func TestBadConfiguration(t *testing.T) {
	clearEnv(t)
	sqliteURL := storetest.URL(t, store.SQLite)
	unknownKey := writeFile(t, "unknown.yaml", "addr: \":7000\"\ncolour: blue\n")
	configKey := writeFile(t, "config.yaml", "config: other.yaml\n")
	badYAML := writeFile(t, "bad.yaml", "addr: [\":7000\"\nlog-level: warn\n")
	badDuration := writeFile(t, "duration.yaml", "shutdown-timeout: soon\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")

	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		contains []string
		prefix   string
	}{
		{
			name:     "unsupported scheme",
			args:     []string{"migrate", "status", "--database-url", "mysql://x"},
			contains: []string{`unsupported scheme "mysql"`},
		},
		{
			name:     "URL without scheme",
			args:     []string{"migrate", "status", "--database-url", "articles.db"},
			contains: []string{`want postgres://…, host=… dbname=… or sqlite://PATH`},
		},
		{
			name:   "unreachable postgres",
			args:   []string{"migrate", "status", "--database-url", "postgres://u:secret@127.0.0.1:1/x?sslmode=disable"},
			prefix: "connect to postgres at postgres://u:xxxxx@127.0.0.1:1/x",
		},
		{
			name:   "unreachable postgres from the environment",
			args:   []string{"seed"},
			env:    map[string]string{"ARTICLESD_DATABASE_URL": "postgres://u:secret@127.0.0.1:1/x?sslmode=disable"},
			prefix: "connect to postgres at postgres://u:xxxxx@127.0.0.1:1/x",
		},
		{
			name:     "bad log level",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--log-level", "loud"},
			contains: []string{`log-level "loud"`},
		},
		{
			name:     "bad log level from the environment",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0"},
			env:      map[string]string{"ARTICLESD_LOG_LEVEL": "verbose"},
			contains: []string{`log-level "verbose"`},
		},
		{
			name:     "unknown key in config file",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--config", unknownKey},
			contains: []string{"config file " + unknownKey, `unknown key "colour"`},
		},
		{
			name:     "config key in config file",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--config", configKey},
			contains: []string{`unknown key "config"`},
		},
		{
			name:     "config file is not YAML",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--config", badYAML},
			contains: []string{"config file " + badYAML},
		},
		{
			name:     "missing config file",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--config", missing},
			contains: []string{"config file " + missing, "no such file or directory"},
		},
		{
			name:     "missing config file from the environment",
			args:     []string{"migrate", "status", "--database-url", sqliteURL},
			env:      map[string]string{"ARTICLESD_CONFIG": missing},
			contains: []string{"config file " + missing, "no such file or directory"},
		},
		{
			name:     "bad addr",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "nonsense"},
			contains: []string{`addr "nonsense"`},
		},
		{
			name:     "zero shutdown timeout",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--shutdown-timeout", "0s"},
			contains: []string{"shutdown-timeout must be a positive duration", "not 0s"},
		},
		{
			name:     "negative read timeout from the environment",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0"},
			env:      map[string]string{"ARTICLESD_READ_TIMEOUT": "-1s"},
			contains: []string{"read-timeout must be a positive duration"},
		},
		{
			name:     "small body limit",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--max-body-bytes", "10"},
			contains: []string{"max-body-bytes must be at least 1024, not 10"},
		},
		{
			name:     "negative log flush",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--log-flush", "-1s"},
			contains: []string{"log-flush must be between 0 and 1m, not -1s"},
		},
		{
			name:     "no connections",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--db-max-conns", "0"},
			contains: []string{"db-max-conns must be at least 1, not 0"},
		},
		{
			name:   "duration that does not parse in the config file",
			args:   []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--config", badDuration},
			prefix: "configuration: 'shutdown-timeout' time: invalid duration",
		},
		{
			name:   "number that does not parse from the environment",
			args:   []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0"},
			env:    map[string]string{"ARTICLESD_DB_MAX_CONNS": "many"},
			prefix: "configuration: 'db-max-conns' cannot parse value as 'int'",
		},
		{
			name:   "duration that does not parse from the environment",
			args:   []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0"},
			env:    map[string]string{"ARTICLESD_SHUTDOWN_TIMEOUT": "soon"},
			prefix: "configuration: 'shutdown-timeout' time: invalid duration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var (
				stdout, stderr string
				err            error
			)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("articlesd %v panicked: %v", tt.args, p)
					}
				}()
				stdout, stderr, err = runWithin(t, 10*time.Second, tt.args...)
			}()
			if err == nil {
				t.Fatalf("articlesd %v: no error", tt.args)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error has several lines: %q", msg)
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("error leaks the password: %q", msg)
			}
			for _, want := range tt.contains {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if tt.prefix != "" && !strings.HasPrefix(msg, tt.prefix) {
				t.Errorf("error %q does not start with %q", msg, tt.prefix)
			}
			// main prints the error once; cobra prints neither it nor the usage.
			if stdout != "" || stderr != "" {
				t.Errorf("articlesd %v wrote stdout %q, stderr %q; want nothing", tt.args, stdout, stderr)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "articlesd.yaml", strings.Join([]string{
		`log-level: warn`,
		`addr: ":7000"`,
		`shutdown-timeout: 2s`,
		`auto-migrate: false`,
		`max-body-bytes: 4096`,
		``,
	}, "\n"))
	serve := []string{"serve"}

	type want struct {
		addr     string
		level    string
		shutdown time.Duration
		migrate  bool
		body     int64
	}
	defaultsOnly := want{":8080", "info", 15 * time.Second, true, 1 << 20}
	fromFile := want{":7000", "warn", 2 * time.Second, false, 4096}
	fromEnv := want{":7001", "error", 3 * time.Second, true, 8192}
	fromFlags := want{":7002", "debug", 4 * time.Second, false, 16384}
	env := map[string]string{
		"ARTICLESD_ADDR":             ":7001",
		"ARTICLESD_LOG_LEVEL":        "error",
		"ARTICLESD_SHUTDOWN_TIMEOUT": "3s",
		"ARTICLESD_AUTO_MIGRATE":     "true",
		"ARTICLESD_MAX_BODY_BYTES":   "8192",
	}
	flags := []string{"--addr", ":7002", "--log-level", "debug", "--shutdown-timeout", "4s", "--auto-migrate=false", "--max-body-bytes", "16384"}

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want want
	}{
		{name: "defaults", want: defaultsOnly},
		{name: "file by flag", args: []string{"--config", file}, want: fromFile},
		{name: "file by env", env: map[string]string{"ARTICLESD_CONFIG": file}, want: fromFile},
		{name: "env beats file", env: env, args: []string{"--config", file}, want: fromEnv},
		{name: "env beats default", env: env, want: fromEnv},
		{name: "flag beats env and file", env: env, args: append([]string{"--config", file}, flags...), want: fromFlags},
		{name: "flag beats file", args: append([]string{"--config", file}, flags...), want: fromFlags},
		{name: "flag beats default", args: flags, want: fromFlags},
		// A flag given its default value is still a flag: it beats the file.
		{
			name: "flag equal to its default beats file",
			args: []string{"--config", file, "--addr", ":8080", "--log-level", "info", "--shutdown-timeout", "15s", "--auto-migrate=true", "--max-body-bytes", "1048576"},
			want: defaultsOnly,
		},
		// The persistent flags of the root may come before the subcommand's own.
		{
			name: "mixed sources",
			env:  map[string]string{"ARTICLESD_SHUTDOWN_TIMEOUT": "3s"},
			args: []string{"--log-level", "debug", "--config", file},
			want: want{":7000", "debug", 3 * time.Second, false, 4096},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			// Every test in this file uses a database URL; here none is opened.
			cfg, err := loadFor(t, serve, append([]string{"--database-url", "sqlite://unused.db"}, tt.args...)...)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			got := want{cfg.Addr, cfg.LogLevel, cfg.ShutdownTimeout, cfg.AutoMigrate, cfg.MaxBodyBytes}
			if got != tt.want {
				t.Fatalf("config = %+v, want %+v", got, tt.want)
			}
			// Keys nobody set keep their defaults.
			if cfg.ReadTimeout != 30*time.Second || cfg.IdleTimeout != 120*time.Second || cfg.DBMaxConns != 8 || cfg.LogFlush != 100*time.Millisecond {
				t.Fatalf("untouched keys changed: %+v", cfg)
			}
		})
	}
}

func TestConfigDatabaseURLPrecedence(t *testing.T) {
	file := writeFile(t, "db.yaml", "database-url: sqlite://from-file.db\n")
	tests := []struct {
		name string
		path []string
		env  string
		args []string
		want string
	}{
		{name: "default is the embedded database", path: []string{"migrate", "status"}, want: ""},
		{name: "file", path: []string{"migrate", "status"}, args: []string{"--config", file}, want: "sqlite://from-file.db"},
		{name: "env beats file", path: []string{"seed"}, env: "sqlite://from-env.db", args: []string{"--config", file}, want: "sqlite://from-env.db"},
		{name: "flag beats env", path: []string{"migrate"}, env: "sqlite://from-env.db", args: []string{"--config", file, "--database-url", "sqlite://from-flag.db"}, want: "sqlite://from-flag.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("ARTICLESD_DATABASE_URL", tt.env)
			cfg, err := loadFor(t, tt.path, tt.args...)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if cfg.DatabaseURL != tt.want {
				t.Fatalf("database URL = %q, want %q", cfg.DatabaseURL, tt.want)
			}
		})
	}
}

// configStringChild names the environment variable that makes TestConfigString run its
// checks in a child process (see inChild).
const configStringChild = "ARTICLESD_TEST_CHILD_CONFIG_STRING"

// inChild runs the test named name again in a child test process with env set, and
// fails the test with the child's output if the child fails. A check that can crash the
// whole process (a stack overflow is not recoverable) fails only its own test this way.
func inChild(t *testing.T, name, env string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	c.Env = append(os.Environ(), env+"=1")
	out, err := c.CombinedOutput()
	if err != nil {
		out := string(out)
		if i := strings.Index(out, "fatal error:"); i >= 0 {
			// A crash: its first lines and the top of the stack say enough.
			out = strings.Join(firstLines(out[i:], 30), "\n")
		}
		t.Fatalf("child test process failed (%v):\n%s", err, out)
	}
}

func firstLines(s string, n int) []string {
	ls := strings.SplitN(s, "\n", n+1)
	return ls[:min(n, len(ls))]
}

func TestConfigString(t *testing.T) {
	if os.Getenv(configStringChild) == "" {
		inChild(t, "TestConfigString", configStringChild)
		return
	}
	cfg := serveConfig("postgres://app:s3cret-pw@db.example:5432/articles?sslmode=disable")
	s := cfg.String()
	if strings.Contains(s, "s3cret-pw") {
		t.Fatalf("Config.String() leaks the password: %s", s)
	}
	for _, want := range []string{"postgres://app:xxxxx@db.example:5432/articles?sslmode=disable", "Addr:127.0.0.1:0", "LogLevel:info"} {
		if !strings.Contains(s, want) {
			t.Errorf("Config.String() = %s, want it to contain %q", s, want)
		}
	}
	if cfg.DatabaseURL != "postgres://app:s3cret-pw@db.example:5432/articles?sslmode=disable" {
		t.Fatalf("String changed the configuration: %q", cfg.DatabaseURL)
	}
	// fmt and slog use String too.
	if s := fmt.Sprint(cfg); strings.Contains(s, "s3cret-pw") {
		t.Fatalf("fmt.Sprint(cfg) leaks the password: %s", s)
	}

	q := serveConfig("postgres://app@db/articles?password=s3cret-pw")
	if s := q.String(); strings.Contains(s, "s3cret-pw") || !strings.Contains(s, "password=xxxxx") {
		t.Fatalf("Config.String() with a password parameter = %s", s)
	}
}

// ---------------------------------------------------------------------------
// version
// ---------------------------------------------------------------------------

func TestVersion(t *testing.T) {
	clearEnv(t)
	out := mustRun(t, "version")
	if !strings.HasPrefix(out, "articlesd 1.2.3 (commit abc, built 2026-01-01, go1.26") {
		t.Fatalf("version printed %q", out)
	}
	want := fmt.Sprintf("articlesd 1.2.3 (commit abc, built 2026-01-01, %s %s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if out != want {
		t.Fatalf("version printed %q, want %q", out, want)
	}

	if out := mustRun(t, "--version"); out != "articlesd version 1.2.3 (commit abc, built 2026-01-01)\n" {
		t.Fatalf("--version printed %q", out)
	}

	if _, _, err := run(t, "version", "extra"); err == nil {
		t.Fatal("version with an argument: no error")
	}

	// Unset build information gets placeholders rather than blanks.
	root := NewRootCommand(BuildInfo{})
	var buf bytes.Buffer
	root.SetArgs([]string{"version"})
	root.SetOut(&buf)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "(commit unknown, built unknown, go") || strings.HasPrefix(buf.String(), "articlesd  ") {
		t.Fatalf("version without build information printed %q", buf.String())
	}
}

// ---------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------

func TestServeLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		srv := startServer(t, serveConfig(dbURL))

		// Auto-migration applied the schema of the fresh database.
		if log := srv.log.String(); !strings.Contains(log, `msg="applied migration" version=1 name=articles`) {
			t.Errorf("log does not record the applied migration:\n%s", log)
		}
		if log := srv.log.String(); !strings.Contains(log, `msg="serving the Articles API" version=t addr=`+srv.addr+" database="+string(mustParse(t, dbURL).Dialect)) {
			t.Errorf("log does not announce the server:\n%s", log)
		}

		status, _, body := httpDo(t, http.MethodGet, srv.url("/readyz"), "", "")
		if status != http.StatusOK {
			t.Fatalf("GET /readyz = %d %s, want 200", status, body)
		}

		status, hdr, body := httpDo(t, http.MethodPost, srv.url("/articles"), "application/json",
			`{"title":"Hello","content":"A first article.","author":"Ann","tags":["intro"]}`)
		if status != http.StatusCreated {
			t.Fatalf("POST /articles = %d %s, want 201", status, body)
		}
		var created struct {
			ID     string   `json:"id"`
			Title  string   `json:"title"`
			Author string   `json:"author"`
			Tags   []string `json:"tags"`
		}
		if err := json.Unmarshal([]byte(body), &created); err != nil {
			t.Fatalf("POST /articles body %q: %v", body, err)
		}
		if created.Title != "Hello" || created.Author != "Ann" || created.ID == "" {
			t.Fatalf("created article = %+v", created)
		}
		if loc := hdr.Get("Location"); loc != "/articles/"+created.ID {
			t.Fatalf("Location = %q, want /articles/%s", loc, created.ID)
		}
		status, _, body = httpDo(t, http.MethodGet, srv.url("/articles/"+created.ID), "", "")
		if status != http.StatusOK || !strings.Contains(body, `"title":"Hello"`) {
			t.Fatalf("GET /articles/%s = %d %s", created.ID, status, body)
		}

		// A request in flight when the stop comes is completed before runServe returns:
		// send its headers and half of its body, stop, then send the rest.
		article := `{"title":"Late","content":"Sent while stopping.","author":"Bo"}`
		conn, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "POST /articles HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
			srv.addr, testToken, len(article), article[:10])
		time.Sleep(200 * time.Millisecond) // let the server read the headers: the request is now active

		srv.cancel()
		waitFor(t, 10*time.Second, "the shutdown to start", func() bool {
			return strings.Contains(srv.log.String(), `msg="shutting down: draining"`)
		})
		select {
		case <-srv.exited:
			t.Fatalf("runServe returned %v with a request in flight\nlog:\n%s", srv.err, srv.log)
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := io.WriteString(conn, article[10:]); err != nil {
			t.Fatalf("send the rest of the body: %v", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read the response of the request in flight: %v", err)
		}
		late, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || !strings.Contains(string(late), `"title":"Late"`) {
			t.Fatalf("request in flight answered %d %s, want 201", resp.StatusCode, late)
		}

		if err := srv.stop(t); err != nil {
			t.Fatalf("runServe returned %v, want nil\nlog:\n%s", err, srv.log)
		}
		if log := srv.log.String(); !strings.Contains(log, "msg=stopped") {
			t.Fatalf("log does not say the server stopped:\n%s", log)
		}
		if c, err := net.DialTimeout("tcp", srv.addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("%s still accepts connections after the stop", srv.addr)
		}
		// Both articles are stored, and the store was closed cleanly.
		if n := countArticles(t, dbURL); n != 2 {
			t.Fatalf("after the stop there are %d articles, want 2", n)
		}
	})
}

func mustParse(t *testing.T, dbURL string) store.Location {
	t.Helper()
	loc, err := store.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestServeWithoutSchema(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		cfg := serveConfig(dbURL)
		cfg.AutoMigrate = false
		srv := startServer(t, cfg)
		if strings.Contains(srv.log.String(), "applied migration") {
			t.Fatalf("auto-migrate=false applied migrations:\n%s", srv.log)
		}

		// Without its tables the service cannot serve, and says so: 503 with Retry-After
		// (an operator's `migrate up` mends it), never a 500.
		status, hdr, body := httpDo(t, http.MethodGet, srv.url("/articles"), "", "")
		if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Fatalf("GET /articles without a schema = %d %s, want 503 with Retry-After", status, body)
		}
		if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("Content-Type = %q, want application/problem+json", ct)
		}
		var problem struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal([]byte(body), &problem); err != nil {
			t.Fatalf("problem body %q: %v", body, err)
		}
		if problem.Status != 503 || problem.Detail != "the database schema is older than this server needs; try again once it is migrated" {
			t.Fatalf("problem = %+v", problem)
		}
		for _, leak := range []string{"relation", "no such table", "SELECT", "articles\"", "SQLSTATE"} {
			if strings.Contains(body, leak) {
				t.Fatalf("problem body leaks %q: %s", leak, body)
			}
		}
		// The log, not the client, gets the database's reason.
		waitFor(t, 5*time.Second, "the failed request in the log", func() bool {
			return strings.Contains(srv.log.String(), `msg="database schema missing: migrations not applied, or reverted while serving"`)
		})
		status, _, body = httpDo(t, http.MethodGet, srv.url("/readyz"), "", "")
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "run articlesd migrate up") {
			t.Fatalf("GET /readyz = %d %s, want 503 saying to migrate", status, body)
		}
		waitFor(t, 5*time.Second, "the reason of the readiness check in the log", func() bool {
			return strings.Contains(srv.log.String(), "the database is at migration 0, this binary needs")
		})
		if err := srv.stop(t); err != nil {
			t.Fatalf("runServe returned %v, want nil", err)
		}
		if !strings.Contains(srv.log.String(), "msg=stopped") {
			t.Fatalf("log does not say the server stopped:\n%s", srv.log)
		}
	})
}

func TestServeAddressInUse(t *testing.T) {
	clearEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := serveConfig(storetest.URL(t, store.SQLite))
	cfg.Addr = ln.Addr().String()
	var log syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = runServe(ctx, cfg, BuildInfo{Version: "t"}, &log, nil)
	if err == nil {
		t.Fatal("runServe on a port in use: no error")
	}
	if want := "listen on " + cfg.Addr + ": "; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error = %q, want one line starting with %q", err, want)
	}
}

func TestServeUnreachableDatabase(t *testing.T) {
	clearEnv(t)
	cfg := serveConfig("postgres://u:secret@127.0.0.1:1/x?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var log syncBuffer
	err := runServe(ctx, cfg, BuildInfo{Version: "t"}, &log, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "connect to postgres at postgres://u:xxxxx@127.0.0.1:1/x") {
		t.Fatalf("runServe = %v, want a connect error", err)
	}
	if strings.Contains(err.Error(), "secret") || strings.Contains(log.String(), "secret") {
		t.Fatalf("password leaked: error %q, log %q", err, log.String())
	}
}

// TestServeCommand runs `articlesd serve` end to end: flags, configuration, logging to
// the command's stderr and a stop by the context.
func TestServeCommand(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		var stdout bytes.Buffer
		var stderr syncBuffer
		root := NewRootCommand(testBuild)
		root.SetArgs([]string{"serve", "--database-url", dbURL, "--addr", "127.0.0.1:0", "--shutdown-timeout", "5s"})
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()

		addrRE := regexp.MustCompile(`msg="serving the Articles API" version=1\.2\.3 addr=(\S+)`)
		var addr string
		waitFor(t, 60*time.Second, "the server to announce its address", func() bool {
			select {
			case err := <-done:
				t.Fatalf("serve returned early: %v\nstderr:\n%s", err, stderr.String())
			default:
			}
			if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
				addr = m[1]
				return true
			}
			return false
		})
		if status, _, body := httpDo(t, http.MethodGet, "http://"+addr+"/healthz", "", ""); status != http.StatusOK {
			t.Fatalf("GET /healthz = %d %s", status, body)
		}
		if status, _, body := httpDo(t, http.MethodGet, "http://"+addr+"/articles", "", ""); status != http.StatusOK || strings.TrimSpace(body) != "[]" {
			t.Fatalf("GET /articles on the auto-migrated database = %d %s, want 200 []", status, body)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve returned %v after the stop", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not return within 15s of the stop")
		}
		if !strings.Contains(stderr.String(), "msg=stopped") {
			t.Fatalf("stderr does not say the server stopped:\n%s", stderr.String())
		}
		if stdout.Len() != 0 {
			t.Fatalf("serve wrote on stdout: %q", stdout.String())
		}
	})
}
