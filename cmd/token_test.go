package cmd

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

var tokenSecret = regexp.MustCompile(`ad_[A-Za-z0-9_-]{43}`)

func TestTokenCommands(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		db := "--database-url=" + dbURL
		stdout, stderr, err := run(t, "token", "create", "--name", "ci-deploy", db)
		if err != nil {
			t.Fatal(err)
		}
		secret := strings.TrimSpace(stdout)
		if !tokenSecret.MatchString(secret) || secret != tokenSecret.FindString(stdout) {
			t.Fatalf("token create printed %q", stdout)
		}
		if !strings.Contains(stderr, "cannot be shown again") || strings.Contains(stderr, secret) {
			t.Errorf("token create stderr: %q", stderr)
		}
		if _, _, err := run(t, "token", "create", "--name", "ci-deploy", db); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Errorf("duplicate name: %v", err)
		}
		if _, _, err := run(t, "token", "create", db); err == nil || !strings.Contains(err.Error(), `"name" not set`) {
			t.Errorf("no --name: %v", err)
		}
		if _, _, err := run(t, "token", "create", "--name", "alice", db); err != nil {
			t.Fatal(err)
		}

		list := mustRun(t, "token", "list", db)
		ls := lines(list)
		if len(ls) != 3 || !equal(strings.Fields(ls[0]), []string{"NAME", "CREATED", "LAST", "USED"}) ||
			!strings.HasPrefix(ls[1], "alice ") || !strings.HasPrefix(ls[2], "ci-deploy ") || !strings.HasSuffix(ls[2], "never") {
			t.Fatalf("token list:\n%s", list)
		}
		if tokenSecret.MatchString(list) {
			t.Fatal("token list shows a secret")
		}

		// The token works against a server on that database, until revoked.
		cfg := serveConfig(dbURL)
		cfg.BootstrapToken = ""
		srv := startServer(t, cfg)
		post := func(token string) int {
			code, hdr, _ := httpDoAs(t, token, "POST", "http://"+srv.addr+"/articles", `{"title":"t","content":"c","author":"a"}`)
			if code == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			return code
		}
		if code := post(""); code != 401 {
			t.Errorf("POST without a token: %d", code)
		}
		if code := post(secret); code != 201 {
			t.Errorf("POST with the token: %d", code)
		}
		if out := mustRun(t, "token", "list", db); !regexp.MustCompile(`ci-deploy\s+\S+\s+20\d\d-`).MatchString(out) {
			t.Errorf("last use not recorded:\n%s", out)
		}
		if out := mustRun(t, "token", "revoke", "ci-deploy", db); out != "revoked ci-deploy\n" {
			t.Errorf("revoke: %q", out)
		}
		if code := post(secret); code != 401 {
			t.Errorf("POST with a revoked token: %d", code)
		}
		if _, _, err := run(t, "token", "revoke", "ci-deploy", db); err == nil || err.Error() != `no token named "ci-deploy"` {
			t.Errorf("revoke again: %v", err)
		}
		if strings.Contains(srv.log.String(), secret) {
			t.Error("a token secret reached the log")
		}
	})
}

func TestFirstServeCreatesAToken(t *testing.T) {
	clearEnv(t)
	dbURL := storetestURL(t)
	cfg := serveConfig(dbURL)
	cfg.BootstrapToken = ""
	s := startServer(t, cfg)
	out := s.log.String()
	secret := tokenSecret.FindString(out)
	if secret == "" || !strings.Contains(out, "Authorize") {
		t.Fatalf("first serve did not print a token with instructions:\n%s", out)
	}
	// Printed once, apart from the log lines (which never carry it).
	if strings.Count(out, secret) != 1 {
		t.Errorf("the secret appears %d times", strings.Count(out, secret))
	}
	for _, line := range lines(out) {
		if strings.Contains(line, "level=") && strings.Contains(line, secret) {
			t.Errorf("log line carries the secret: %s", line)
		}
	}
	if code, _, _ := httpDoAs(t, secret, "POST", "http://"+s.addr+"/articles", `{"title":"t","content":"c","author":"a"}`); code != 201 {
		t.Errorf("POST with the printed token: %d", code)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	// A second start finds a token and prints none.
	s2 := startServer(t, cfg)
	if tokenSecret.MatchString(s2.log.String()) {
		t.Errorf("second serve printed a token:\n%s", s2.log)
	}
}

func TestAuthOff(t *testing.T) {
	clearEnv(t)
	cfg := serveConfig(storetestURL(t))
	cfg.Auth = "off"
	s := startServer(t, cfg)
	if !strings.Contains(s.log.String(), "WARNING: --auth=off") || !strings.Contains(s.log.String(), "AUTH IS OFF") {
		t.Errorf("auth off is not said loudly:\n%s", s.log)
	}
	if code, _, _ := httpDoAs(t, "", "POST", "http://"+s.addr+"/articles", `{"title":"t","content":"c","author":"a"}`); code != 201 {
		t.Errorf("POST with auth off: %d", code)
	}
	if _, _, err := run(t, "serve", "--auth", "maybe", "--database-url", "sqlite://"+t.TempDir()+"/x.db"); err == nil || !strings.Contains(err.Error(), `auth "maybe"`) {
		t.Errorf("--auth maybe: %v", err)
	}
}

// httpDoAs sends a JSON request with the given bearer token (none when empty).
func httpDoAs(t *testing.T, token, method, url, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func storetestURL(t *testing.T) string { return storetest.URL(t, store.SQLite) }
