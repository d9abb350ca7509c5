package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/embedded"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// requireTool finds a program of Debian's prometheus package, skipping the test where it
// is missing unless ARTICLESD_REQUIRE_PROMETHEUS=1 (as in CI).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		storetest.Skip(t, storetest.Prometheus, name+" is not on PATH")
	}
	return path
}

// provisionFor writes the stack configuration into a temporary directory, pointed at
// the given addresses, with /stack paths made to point at that directory.
func provisionFor(t *testing.T, p embedded.StackParams) string {
	t.Helper()
	dir := t.TempDir()
	p.StackDir = dir
	files, err := embedded.Stack(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeStack(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPromtoolAcceptsProvisionedFiles(t *testing.T) {
	promtool := requireTool(t, "promtool")
	dir := provisionFor(t, embedded.DefaultStackParams())
	for _, args := range [][]string{
		{"check", "config", filepath.Join(dir, "prometheus", "prometheus.yml")},
		{"check", "rules", filepath.Join(dir, "prometheus", "alerts.yml")},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// promQuery runs an instant query against Prometheus' HTTP API.
func promQuery(t *testing.T, base, q string) (status string, results int, errText string) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	return body.Status, len(body.Data.Result), body.Error
}

// spanMetrics are produced by Tempo's metrics generator, which no test here can run:
// their dashboard queries are checked for syntax and names only.
var spanMetrics = regexp.MustCompile(`traces_(spanmetrics|service_graph)_`)

// TestDashboardsAgainstRealPrometheus runs a real Prometheus (Debian's package) with the
// provisioned prometheus.yml pointed at a real articlesd, drives traffic, and then runs
// every PromQL expression of the dashboards and alert rules through Prometheus' HTTP
// API: each must return data. It also checks that every metric the dashboards name is
// in a live /metrics scrape, and that exemplars with trace ids are stored.
func TestDashboardsAgainstRealPrometheus(t *testing.T) {
	prometheus := requireTool(t, "prometheus")
	clearEnv(t)
	cfg := serveConfig(storetest.URL(t, store.SQLite))
	cfg.Metrics = true
	cfg.LogLevel = "warn"
	// Traces sampled and exported (to nowhere that answers: exemplars need only the ids).
	cfg.OTLPEndpoint = freeAddr(t)
	cfg.OTLPInsecure = true
	cfg.TraceSampleRatio = 1
	srv := startServer(t, cfg)

	promAddr := freeAddr(t)
	dir := provisionFor(t, embedded.StackParams{
		API: srv.addr, Prometheus: promAddr, Loki: freeAddr(t), Tempo: freeAddr(t),
		LogDir: "/var/log/articlesd", StackDir: "/stack",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var promLog bytes.Buffer
	cmd := exec.CommandContext(ctx, prometheus,
		"--config.file="+filepath.Join(dir, "prometheus", "prometheus.yml"),
		"--storage.tsdb.path="+t.TempDir(),
		"--web.listen-address="+promAddr,
		"--enable-feature=exemplar-storage",
		"--web.enable-remote-write-receiver",
	)
	cmd.Stdout, cmd.Stderr = &promLog, &promLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	base := "http://" + promAddr

	// Traffic on every route, errors included, over a few scrapes.
	api := "http://" + srv.addr
	traffic := func() {
		for i := 0; i < 3; i++ {
			code, _, _ := httpDo(t, "POST", api+"/articles", "application/json", fmt.Sprintf(`{"title":"Scene %d","content":"Light and shadow","author":"Ridley Scott","tags":["sci-fi"]}`, i))
			if code != 201 {
				t.Fatalf("create: %d", code)
			}
		}
		for _, path := range []string{"/articles", "/articles/1", "/articles/999999", "/articles/search?query=light", "/articles/popular", "/articles?date=bad", "/nope", "/healthz", "/readyz"} {
			get(t, api+path)
		}
		httpDo(t, "DELETE", api+"/articles/2", "", "")
	}
	waitUp := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if _, n, _ := promQuery(t, base, `up{job="articlesd"} == 1`); n == 1 {
				break
			}
		}
		if time.Now().After(waitUp) {
			t.Fatalf("Prometheus never scraped articlesd\n%s", promLog.String())
		}
		traffic()
		time.Sleep(time.Second)
	}
	// rate() needs two samples of each series in its window: keep traffic flowing over
	// three scrapes (5s apart).
	for i := 0; i < 4; i++ {
		traffic()
		time.Sleep(4 * time.Second)
	}

	exprs, err := embedded.DashboardPromQL()
	if err != nil {
		t.Fatal(err)
	}
	if len(exprs) < 10 {
		t.Fatalf("only %d dashboard expressions", len(exprs))
	}
	_, scrape := get(t, api+"/metrics")
	nameRef := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	checked := 0
	for _, q := range exprs {
		status, n, errText := promQuery(t, base, q)
		if status != "success" {
			t.Errorf("Prometheus rejects %q: %s", q, errText)
			continue
		}
		if spanMetrics.MatchString(q) {
			continue
		}
		checked++
		if n == 0 {
			t.Errorf("no data for dashboard query %q", q)
		}
		for _, name := range nameRef.FindAllString(q, -1) {
			if strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_usage") || strings.HasSuffix(name, "_count") {
				base := strings.TrimSuffix(name, "_bucket")
				if !strings.Contains(scrape, "\n"+base) && !strings.Contains(scrape, "\n"+name) {
					t.Errorf("%q names %s, which articlesd's /metrics does not expose", q, name)
				}
			}
		}
	}
	t.Logf("%d dashboard queries returned data (%d span-metric queries need Tempo)", checked, len(exprs)-checked)

	// Exemplars: latency observations carry the trace id of their request.
	resp, err := http.Get(base + "/api/v1/query_exemplars?query=" + url.QueryEscape("request_latency_seconds_bucket") +
		fmt.Sprintf("&start=%d&end=%d", time.Now().Add(-5*time.Minute).Unix(), time.Now().Unix()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ex struct {
		Data []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ex); err != nil {
		t.Fatal(err)
	}
	traceID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	found := 0
	for _, series := range ex.Data {
		for _, e := range series.Exemplars {
			if traceID.MatchString(e.Labels["trace_id"]) {
				found++
			}
		}
	}
	if found == 0 {
		t.Errorf("Prometheus stored no exemplar with a trace_id for request_latency_seconds")
	}

	// The alert rules load and evaluate.
	resp2, err := http.Get(base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp2.Body).Decode(&rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health == "err" {
				t.Errorf("alert rule %s fails to evaluate", r.Name)
			}
		}
	}
	if n < 3 {
		t.Errorf("Prometheus loaded %d alert rules, want 3", n)
	}
}
