package cmd

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeTelemetrySwitches checks that each piece of telemetry is wired by serve and can
// be switched off on its own.
func TestServeTelemetrySwitches(t *testing.T) {
	clearEnv(t)
	url := storetest.URL(t, store.SQLite)

	t.Run("metrics on the API port and on --metrics-addr, log file written", func(t *testing.T) {
		cfg := serveConfig(url)
		cfg.Metrics = true
		cfg.MetricsAddr = freeAddr(t)
		cfg.LogFile = filepath.Join(t.TempDir(), "logs", "articlesd.log")
		cfg.LogFileMaxMB = 1
		s := startServer(t, cfg)
		get(t, "http://"+s.addr+"/articles")
		for _, u := range []string{"http://" + s.addr + "/metrics", "http://" + cfg.MetricsAddr + "/metrics"} {
			code, body := get(t, u)
			if code != 200 || !strings.Contains(body, `request_count_total{endpoint="/articles",http_status="200",method="GET"} 1`) {
				t.Errorf("GET %s = %d:\n%.400s", u, code, body)
			}
		}
		if err := s.stop(t); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(cfg.LogFile)
		if err != nil {
			t.Fatalf("log file: %v", err)
		}
		if !strings.Contains(string(b), "msg=request method=GET route=/articles path=/articles status=200") {
			t.Errorf("log file lacks the request line:\n%s", b)
		}
	})

	t.Run("metrics off", func(t *testing.T) {
		cfg := serveConfig(url)
		cfg.Metrics = false
		s := startServer(t, cfg)
		if code, body := get(t, "http://"+s.addr+"/metrics"); code != 404 || !strings.Contains(body, `"status":404`) {
			t.Errorf("GET /metrics with metrics off = %d %s, want a 404 problem", code, body)
		}
		if code, _ := get(t, "http://"+s.addr+"/articles"); code != 200 {
			t.Errorf("GET /articles = %d", code)
		}
	})
}

func TestOTelEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://tempo:4317")
	t.Setenv("OTEL_SERVICE_NAME", "articles-api-eu")
	cfg, err := loadFor(t, []string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OTLPEndpoint != "http://tempo:4317" || cfg.ServiceName != "articles-api-eu" {
		t.Errorf("from OTEL_* variables: endpoint %q, service %q", cfg.OTLPEndpoint, cfg.ServiceName)
	}
	t.Setenv("ARTICLESD_OTLP_ENDPOINT", "collector:4317")
	if cfg, _ = loadFor(t, []string{"serve"}); cfg.OTLPEndpoint != "collector:4317" {
		t.Errorf("ARTICLESD_OTLP_ENDPOINT should win, got %q", cfg.OTLPEndpoint)
	}
	if cfg, _ = loadFor(t, []string{"serve"}, "--otlp-endpoint", "flag:4317"); cfg.OTLPEndpoint != "flag:4317" {
		t.Errorf("the flag should win, got %q", cfg.OTLPEndpoint)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("ARTICLESD_OTLP_ENDPOINT", "")
	if cfg, _ = loadFor(t, []string{"serve"}); cfg.OTLPEndpoint != "" || cfg.TraceSampleRatio != 1 {
		t.Errorf("defaults: endpoint %q (want none: tracing off), ratio %v", cfg.OTLPEndpoint, cfg.TraceSampleRatio)
	}
	if _, err := loadFor(t, []string{"serve"}, "--trace-sample-ratio", "1.5"); err == nil || !strings.Contains(err.Error(), "trace-sample-ratio") {
		t.Errorf("ratio 1.5: %v", err)
	}
}

func TestPprofOnItsOwnAddress(t *testing.T) {
	clearEnv(t)
	cfg := serveConfig(storetest.URL(t, store.SQLite))
	cfg.PprofAddr = freeAddr(t)
	s := startServer(t, cfg)
	if code, body := get(t, "http://"+cfg.PprofAddr+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index: %d", code)
	}
	if code, _ := get(t, "http://"+s.addr+"/debug/pprof/"); code != 404 {
		t.Errorf("pprof on the API port: %d, want 404", code)
	}
}
