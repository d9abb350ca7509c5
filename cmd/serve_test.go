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
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

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
