package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logfmt/logfmt"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/telemetry"
)

const (
	traceparent   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	wantTraceID   = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpanID  = "00f067aa0ba902b7"
	secretContent = "Zyxwvut-unique-article-body-8472"
	secretToken   = "Bearer s3cr3t-token"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers (the span processor logs
// from its own goroutine).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// receiver is an in-process OTLP gRPC trace collector.
type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.ResourceSpans
	addr  string
}

func (r *receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, req.GetResourceSpans()...)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *receiver) resourceSpans() []*tracepb.ResourceSpans {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.ResourceSpans(nil), r.spans...)
}

func startReceiver(tb testing.TB) *receiver {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &receiver{addr: ln.Addr().String()}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, r)
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(srv.Stop)
	return r
}

// setup wires the service as cmd/serve.go does, on the embedded database.
func setup(tb testing.TB, cfg telemetry.Config) (*telemetry.Telemetry, http.Handler) {
	return setupOn(tb, store.SQLite, cfg)
}

// setupOn wires the service as cmd/serve.go does, on a fresh database of dialect d.
func setupOn(tb testing.TB, d store.Dialect, cfg telemetry.Config) (*telemetry.Telemetry, http.Handler) {
	tb.Helper()
	ctx := context.Background()
	tel, err := telemetry.New(ctx, cfg)
	if err != nil {
		tb.Fatalf("telemetry.New: %v", err)
	}
	st, err := store.Open(ctx, storetest.URL(tb, d), store.Options{TracerProvider: tel.TracerProvider, Logger: tel.Logger})
	if err != nil {
		tb.Fatalf("store.Open: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	if _, err := st.MigrateUp(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	opts := app.Options{
		Store: st, Logger: tel.Logger, Routes: testRoutes(tb),
		Middleware: tel.Middleware(testRoutes(tb)), TracerProvider: tel.TracerProvider,
	}
	if tel.Metrics != nil {
		tel.Metrics.WatchArticleCount(st.CountArticles, 0)
		opts.OnArticleCreated = tel.Metrics.ArticleCreated
		opts.Metrics = tel.MetricsHandler()
	}
	h, err := app.NewHandler(opts)
	if err != nil {
		tb.Fatalf("app.NewHandler: %v", err)
	}
	return tel, h
}

// testRoutes is the application's route table, which telemetry names requests from.
func testRoutes(tb testing.TB) *app.Routes {
	tb.Helper()
	r, err := app.NewRoutes()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func do(h http.Handler, method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func createArticle(tb testing.TB, h http.Handler, tags []string, hdr map[string]string) string {
	tb.Helper()
	m := map[string]any{"title": "A title", "content": secretContent, "author": "Ann Author"}
	if tags != nil {
		m["tags"] = tags
	}
	b, _ := json.Marshal(m)
	rec := do(h, http.MethodPost, "/articles", string(b), hdr)
	if rec.Code != http.StatusCreated {
		tb.Fatalf("POST /articles: %d %s", rec.Code, rec.Body)
	}
	var out struct {
		ID any `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		tb.Fatalf("decode created article: %v", err)
	}
	return fmt.Sprint(out.ID)
}

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := do(h, http.MethodGet, "/metrics", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, rec.Body)
	}
	return fams
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func findMetric(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range f.GetMetric() {
		if labelsMatch(m, want) {
			return m
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return nil
}

func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	return findMetric(t, fams, name, want).GetCounter().GetValue()
}

func TestMetrics(t *testing.T) {
	var buf syncBuffer
	tel, h := setup(t, telemetry.Config{Metrics: true, Stderr: &buf})
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	id := createArticle(t, h, []string{"sci-fi", "x"}, nil)
	createArticle(t, h, nil, nil)
	path := "/articles/" + id
	for range 2 {
		if rec := do(h, http.MethodGet, path, "", nil); rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
	}
	if rec := do(h, http.MethodGet, "/articles/999", "", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("GET /articles/999: %d", rec.Code)
	}
	for _, p := range []string{"/nope/abc", "/random/xyz"} {
		if rec := do(h, http.MethodGet, p, "", nil); rec.Code != http.StatusNotFound {
			t.Fatalf("GET %s: %d", p, rec.Code)
		}
	}

	fams := scrape(t, h)
	checks := []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"method": "POST", "endpoint": "/articles", "http_status": "201"}, 2},
		{map[string]string{"method": "GET", "endpoint": "/articles/{id}", "http_status": "200"}, 2},
		{map[string]string{"method": "GET", "endpoint": "/articles/{id}", "http_status": "404"}, 1},
		{map[string]string{"method": "GET", "endpoint": "unmatched", "http_status": "404"}, 2},
	}
	for _, c := range checks {
		if got := counter(t, fams, "request_count_total", c.labels); got != c.want {
			t.Errorf("request_count_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "endpoint" && (strings.Contains(lp.GetValue(), "nope") || strings.Contains(lp.GetValue(), "random")) {
					t.Errorf("%s has a series for endpoint %q", name, lp.GetValue())
				}
			}
		}
	}
	if got := counter(t, fams, "status_code_count_total", map[string]string{"status_code": "201"}); got != 2 {
		t.Errorf("status_code_count_total{201} = %v, want 2", got)
	}
	if got := counter(t, fams, "product_count_total", map[string]string{"product_type": "sci-fi"}); got != 1 {
		t.Errorf("product_count_total{sci-fi} = %v, want 1", got)
	}
	if got := counter(t, fams, "product_count_total", map[string]string{"product_type": "unknown"}); got != 1 {
		t.Errorf("product_count_total{unknown} = %v, want 1", got)
	}
	if got := findMetric(t, fams, "active_article_count", nil).GetGauge().GetValue(); got != 2 {
		t.Errorf("active_article_count = %v, want 2", got)
	}
	hist := findMetric(t, fams, "request_latency_seconds", map[string]string{"method": "GET", "endpoint": "/articles/{id}"}).GetHistogram()
	if got := hist.GetSampleCount(); got != 3 {
		t.Errorf("request_latency_seconds_count{GET,/articles/{id}} = %d, want 3", got)
	}
	for _, name := range []string{"cpu_usage", "memory_usage", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}

	if rec := do(h, http.MethodDelete, path, "", nil); rec.Code != http.StatusNoContent && rec.Code != http.StatusOK {
		t.Fatalf("DELETE %s: %d", path, rec.Code)
	}
	fams = scrape(t, h)
	if got := findMetric(t, fams, "active_article_count", nil).GetGauge().GetValue(); got != 1 {
		t.Errorf("after DELETE active_article_count = %v, want 1", got)
	}
}

func hexID(b []byte) string { return hex.EncodeToString(b) }

func attr(attrs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			return kv.GetValue()
		}
	}
	return nil
}

type gotSpan struct {
	span *tracepb.Span
	res  []*commonpb.KeyValue
}

func allSpans(r *receiver) []gotSpan {
	var out []gotSpan
	for _, rs := range r.resourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				out = append(out, gotSpan{s, rs.GetResource().GetAttributes()})
			}
		}
	}
	return out
}

func TestTracesAndExemplars(t *testing.T) {
	rcv := startReceiver(t)
	var logBuf syncBuffer
	tel, h := setup(t, telemetry.Config{
		Metrics: true, OTLPEndpoint: rcv.addr, OTLPInsecure: true, SampleRatio: 1,
		Stderr: &logBuf, LogLevel: slog.LevelDebug,
	})
	tp := map[string]string{"traceparent": traceparent}
	id := createArticle(t, h, []string{"sci-fi"}, tp)
	path := "/articles/" + id
	rec := do(h, http.MethodGet, path, "", tp)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, rec.Code)
	}
	if got := rec.Header().Get("X-Trace-Id"); got != wantTraceID {
		t.Errorf("X-Trace-Id = %q, want %q", got, wantTraceID)
	}
	if rec := do(h, http.MethodGet, "/articles/999", "", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("GET /articles/999: %d", rec.Code)
	}

	// Exemplars in OpenMetrics.
	mrec := do(h, http.MethodGet, "/metrics", "", map[string]string{"Accept": "application/openmetrics-text; version=1.0.0"})
	if mrec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", mrec.Code)
	}
	found := false
	for _, line := range strings.Split(mrec.Body.String(), "\n") {
		if strings.HasPrefix(line, "request_latency_seconds_bucket") && strings.Contains(line, `# {trace_id="`+wantTraceID+`"}`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no request_latency_seconds_bucket exemplar with trace_id %s in:\n%s", wantTraceID, mrec.Body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	spans := allSpans(rcv)
	var server *gotSpan
	var notFound *gotSpan
	for i := range spans {
		s := spans[i].span
		if s.GetName() != "GET /articles/{id}" {
			continue
		}
		if hexID(s.GetTraceId()) == wantTraceID {
			server = &spans[i]
		}
		if v := attr(s.GetAttributes(), "http.response.status_code"); v != nil && v.GetIntValue() == 404 {
			notFound = &spans[i]
		}
	}
	if server == nil {
		t.Fatalf("no server span GET /articles/{id} in trace %s; got %d spans", wantTraceID, len(spans))
	}
	if got := hexID(server.span.GetParentSpanId()); got != parentSpanID {
		t.Errorf("server span parent = %s, want %s", got, parentSpanID)
	}
	if v := attr(server.res, "service.name"); v.GetStringValue() != "articles-api" {
		t.Errorf("service.name = %q, want articles-api", v.GetStringValue())
	}
	children := map[string]*tracepb.Span{}
	for _, s := range spans {
		if string(s.span.GetParentSpanId()) == string(server.span.GetSpanId()) {
			children[s.span.GetName()] = s.span
		}
	}
	for _, name := range []string{"validate request", "handle GetArticleById", "write response"} {
		if children[name] == nil {
			t.Errorf("server span has no child %q (children: %v)", name, keys(children))
		}
	}
	if handle := children["handle GetArticleById"]; handle != nil {
		dbSpans := 0
		for _, s := range spans {
			if string(s.span.GetParentSpanId()) != string(handle.GetSpanId()) || !strings.HasPrefix(s.span.GetName(), "db ") {
				continue
			}
			q := attr(s.span.GetAttributes(), "db.query.text").GetStringValue()
			if !strings.Contains(q, "UPDATE") && !strings.Contains(q, "SELECT") {
				continue
			}
			if strings.Contains(q, secretContent) {
				t.Errorf("db.query.text carries the article text: %s", q)
			}
			dbSpans++
		}
		if dbSpans == 0 {
			t.Errorf("no db span with a SELECT/UPDATE query under handle GetArticleById")
		}
	}
	if notFound == nil {
		t.Fatalf("no server span for the 404 GET /articles/999")
	}
	if notFound.span.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("404 server span has status Error; want Unset for a 4xx server span")
	}
	for _, s := range spans {
		for _, kv := range s.span.GetAttributes() {
			if strings.Contains(kv.GetValue().GetStringValue(), secretContent) {
				t.Errorf("span %q attribute %s carries the article text", s.span.GetName(), kv.GetKey())
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// logLines decodes every line strictly as logfmt.
func logLines(t *testing.T, name, text string) []map[string]string {
	t.Helper()
	var out []map[string]string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		d := logfmt.NewDecoder(strings.NewReader(line))
		kv := map[string]string{}
		for d.ScanRecord() {
			for d.ScanKeyval() {
				kv[string(d.Key())] = string(d.Value())
			}
		}
		if err := d.Err(); err != nil {
			t.Errorf("%s: line is not logfmt (%v): %s", name, err, line)
			continue
		}
		out = append(out, kv)
	}
	return out
}

func TestLogs(t *testing.T) {
	rcv := startReceiver(t)
	var logBuf syncBuffer
	logFile := filepath.Join(t.TempDir(), "articlesd.log")
	tel, h := setup(t, telemetry.Config{
		Metrics: true, OTLPEndpoint: rcv.addr, OTLPInsecure: true, SampleRatio: 1,
		Stderr: &logBuf, LogLevel: slog.LevelDebug, LogFile: logFile,
	})
	auth := map[string]string{"Authorization": secretToken}
	id := createArticle(t, h, []string{"sci-fi"}, auth)
	path := "/articles/" + id
	if rec := do(h, http.MethodGet, path, "", map[string]string{"traceparent": traceparent, "Authorization": secretToken}); rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, rec.Code)
	}
	if rec := do(h, http.MethodGet, "/articles/999", "", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("GET /articles/999: %d", rec.Code)
	}
	if rec := do(h, http.MethodDelete, path, "", auth); rec.Code >= 300 {
		t.Fatalf("DELETE %s: %d", path, rec.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	fileText, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("read log file: %v", err)
	}
	if len(fileText) == 0 {
		t.Errorf("log file is empty")
	}
	stderrText := logBuf.String()
	logLines(t, "log file", string(fileText))
	lines := logLines(t, "stderr", stderrText)

	for name, text := range map[string]string{"stderr": stderrText, "log file": string(fileText)} {
		if strings.Contains(text, secretContent) {
			t.Errorf("%s log carries the article content", name)
		}
		if strings.Contains(text, "s3cr3t") {
			t.Errorf("%s log carries the Authorization value", name)
		}
	}

	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	var gotReq, got404 bool
	for _, kv := range lines {
		if kv["msg"] != "request" {
			continue
		}
		if kv["trace_id"] == wantTraceID && kv["method"] == "GET" {
			gotReq = true
			for _, k := range []string{"time", "level", "msg", "method", "route", "path", "status", "duration_ms", "bytes", "client_ip", "request_id", "trace_id", "span_id"} {
				if _, ok := kv[k]; !ok {
					t.Errorf("request line lacks %s: %v", k, kv)
				}
			}
			if kv["route"] != "/articles/{id}" || kv["status"] != "200" || kv["path"] != path {
				t.Errorf("request line: route=%q status=%q path=%q", kv["route"], kv["status"], kv["path"])
			}
			if !hex16.MatchString(kv["span_id"]) {
				t.Errorf("span_id %q is not 16 hex digits", kv["span_id"])
			}
		}
		if kv["status"] == "404" {
			got404 = true
			if kv["level"] != "WARN" {
				t.Errorf("404 request line level = %q, want WARN", kv["level"])
			}
		}
	}
	if !gotReq {
		t.Errorf("no request line with trace_id %s:\n%s", wantTraceID, stderrText)
	}
	if !got404 {
		t.Errorf("no request line with status 404")
	}
	debugDelete := false
	for _, line := range strings.Split(stderrText, "\n") {
		if strings.Contains(line, "DELETE") && strings.Contains(line, "level=DEBUG") {
			debugDelete = true
		}
	}
	if !debugDelete {
		t.Errorf("no DEBUG line about the DELETE:\n%s", stderrText)
	}
}

func TestCollectorDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	tel, h := setup(t, telemetry.Config{
		Metrics: true, OTLPEndpoint: addr, OTLPInsecure: true, SampleRatio: 1, Stderr: io.Discard,
	})
	id := createArticle(t, h, nil, nil)
	path := "/articles/" + id
	start := time.Now()
	for i := range 20 {
		if rec := do(h, http.MethodGet, path, "", nil); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("20 requests with the collector down took %v, want under 2s", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tel.Shutdown(ctx) }()
	select {
	case err := <-done:
		t.Logf("Shutdown with the collector down: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatalf("Shutdown did not return within 15s")
	}
}

// BenchmarkGetArticle measures GET /articles/{id} through the real router with telemetry
// off, with metrics and logs only, and fully on (traces exported to an in-process OTLP
// receiver, which shares the machine's cores with the server), on both databases.
//
//	go test -run XXX -bench GetArticle -count 6 ./telemetry/ | benchstat -
func BenchmarkGetArticle(b *testing.B) {
	run := func(b *testing.B, h http.Handler) {
		id := createArticle(b, h, []string{"sci-fi"}, nil)
		path := "/articles/" + id
		b.ReportAllocs()
		for b.Loop() {
			if rec := do(h, http.MethodGet, path, "", nil); rec.Code != http.StatusOK {
				b.Fatalf("GET %s: %d", path, rec.Code)
			}
		}
	}
	for _, d := range storetest.Dialects {
		b.Run("db="+string(d)+"/telemetry=off", func(b *testing.B) {
			h, err := app.NewHandler(app.Options{Store: storetest.Open(b, d)})
			if err != nil {
				b.Fatal(err)
			}
			run(b, h)
		})
		for _, tc := range []struct {
			name    string
			tracing bool
			ratio   float64
		}{
			{"telemetry=metrics+logs", false, 0},
			{"telemetry=on,sampled=0", true, 0},
			{"telemetry=on,sampled=10%", true, 0.1},
			{"telemetry=on,sampled=100%", true, 1},
		} {
			b.Run("db="+string(d)+"/"+tc.name, func(b *testing.B) {
				cfg := telemetry.Config{Metrics: true, Stderr: io.Discard}
				if tc.tracing {
					cfg.OTLPEndpoint, cfg.OTLPInsecure, cfg.SampleRatio = startSink(b), true, tc.ratio
				}
				tel, h := setupOn(b, d, cfg)
				b.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = tel.Shutdown(ctx)
				})
				run(b, h)
			})
		}
	}
}

// BenchmarkTelemetryOverhead measures GET /articles/{id} with telemetry off and fully on
// (metrics, logs, traces sampled at the given ratio) in the same loop, one request of
// each in turn, so that the machine's drift affects both alike. It reports each side's
// time per request and the added time in percent.
//
//	go test -run XXX -bench TelemetryOverhead -benchtime 20000x ./telemetry/
func BenchmarkTelemetryOverhead(b *testing.B) {
	for _, d := range storetest.Dialects {
		for _, ratio := range []float64{0, 0.1, 1} {
			b.Run(fmt.Sprintf("db=%s/sampled=%g", d, ratio), func(b *testing.B) {
				off, err := app.NewHandler(app.Options{Store: storetest.Open(b, d)})
				if err != nil {
					b.Fatal(err)
				}
				tel, on := setupOn(b, d, telemetry.Config{
					Metrics: true, Stderr: io.Discard,
					OTLPEndpoint: startSink(b), OTLPInsecure: true, SampleRatio: ratio,
				})
				b.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = tel.Shutdown(ctx)
				})
				offPath := "/articles/" + createArticle(b, off, []string{"sci-fi"}, nil)
				onPath := "/articles/" + createArticle(b, on, []string{"sci-fi"}, nil)
				b.ResetTimer()
				offTime, onTime := alternate(b, off, offPath, on, onPath)
				n := float64(b.N)
				b.ReportMetric(float64(offTime.Nanoseconds())/n, "off-ns/req")
				b.ReportMetric(float64(onTime.Nanoseconds())/n, "on-ns/req")
				b.ReportMetric(100*(float64(onTime)/float64(offTime)-1), "overhead-%")
			})
		}
	}
}

// alternate sends GET requests to off (for offPath) and to on (for onPath), one of each
// per benchmark iteration, alternating which goes first so that neither always runs on
// a warm cache and the machine's drift affects both alike, and returns each side's time.
func alternate(b *testing.B, off http.Handler, offPath string, on http.Handler, onPath string) (offTime, onTime time.Duration) {
	for i := 0; b.Loop(); i++ {
		first, second := off, on
		firstPath, secondPath := offPath, onPath
		if i%2 == 1 {
			first, second, firstPath, secondPath = on, off, onPath, offPath
		}
		t0 := time.Now()
		r1 := do(first, http.MethodGet, firstPath, "", nil)
		t1 := time.Now()
		r2 := do(second, http.MethodGet, secondPath, "", nil)
		t2 := time.Now()
		if r1.Code != http.StatusOK || r2.Code != http.StatusOK {
			b.Fatalf("GET: %d, %d", r1.Code, r2.Code)
		}
		if i%2 == 0 {
			offTime, onTime = offTime+t1.Sub(t0), onTime+t2.Sub(t1)
		} else {
			onTime, offTime = onTime+t1.Sub(t0), offTime+t2.Sub(t1)
		}
	}
	return offTime, onTime
}
