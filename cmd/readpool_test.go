package cmd

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestServeReadPool: with --database-read-url the log line and the metric say which pool
// served each request (the read URL here is the primary's own database: what is tested
// is the wiring; store's TestReadReplicaRules tests the rules on a lagging "replica"),
// and --trusted-proxies makes the proxy's X-Forwarded-For the logged client. When the
// database goes away, /readyz names the host that refused.
func TestServeReadPool(t *testing.T) {
	clearEnv(t)
	dbURL := storetest.URL(t, store.Postgres)
	cfg := serveConfig(dbURL)
	cfg.DatabaseReadURL = dbURL
	cfg.TrustedProxies = "127.0.0.1/32"
	cfg.Metrics = true
	cfg.LogFlush = 0
	s := startServer(t, cfg)

	code, _, body := httpDo(t, "POST", s.url("/articles"), "application/json", `{"title":"Pooled","content":"c","author":"a"}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", s.url("/articles?author=a"), nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d", resp.StatusCode)
	}

	waitFor(t, 5*time.Second, "both request lines", func() bool { return strings.Count(s.log.String(), `msg=request`) >= 2 })
	var create, list string
	for _, line := range lines(s.log.String()) {
		switch {
		case strings.Contains(line, "method=POST route=/articles "):
			create = line
		case strings.Contains(line, "method=GET route=/articles "):
			list = line
		}
	}
	if !strings.Contains(create, " db_pool=primary") || !strings.Contains(create, " client_ip=127.0.0.1 ") {
		t.Errorf("create's line %q: want db_pool=primary and client_ip=127.0.0.1", create)
	}
	if !strings.Contains(list, " db_pool=replica") || !strings.Contains(list, " client_ip=203.0.113.9 ") {
		t.Errorf("list's line %q: want db_pool=replica and the forwarded client_ip=203.0.113.9", list)
	}
	fams := scrape(t, "http://"+s.addr)
	got := map[string]float64{}
	for _, m := range fams["articlesd_requests_by_db_pool_total"].GetMetric() {
		var endpoint, pool string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "endpoint":
				endpoint = l.GetValue()
			case "pool":
				pool = l.GetValue()
			}
		}
		got[endpoint+" "+pool] = m.GetCounter().GetValue()
	}
	// The token check of the create goes to the primary as well: one request, one count.
	want := map[string]float64{"/articles primary": 1, "/articles replica": 1}
	if len(got) != len(want) || got["/articles primary"] != 1 || got["/articles replica"] != 1 {
		t.Errorf("articlesd_requests_by_db_pool_total = %v, want %v", got, want)
	}

	// The database goes away: /readyz says which host refused.
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	admin := rawDB(t, storetest.AdminURL())
	if err := admin.Exec("DROP DATABASE " + pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize() + " WITH (FORCE)").Error; err != nil {
		t.Fatal(err)
	}
	wantDetail := `the database does not answer: database host 127.0.0.1:5432 (127.0.0.1) refused the connection: FATAL: database \"` +
		strings.TrimPrefix(u.Path, "/") + `\" does not exist (SQLSTATE 3D000)`
	var last string
	waitFor(t, 10*time.Second, "/readyz naming the host", func() bool {
		code, _, body := httpDo(t, "GET", s.url("/readyz"), "", "")
		last = body
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"detail":"`+wantDetail+`"`)
	})
	if strings.Contains(last, "xxxxx") || strings.Contains(last, "password") {
		t.Errorf("/readyz shows credentials: %s", last)
	}
}
