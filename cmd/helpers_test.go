package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// testBuild is the build information every in-process command runs with.
var testBuild = BuildInfo{Version: "1.2.3", Commit: "abc", Date: "2026-01-01"}

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
