package telemetry_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/telemetry"
)

// seedNameLint is the one finding promtool reports on articlesd's exposition: the seed
// system's dashboards need the gauge to be called active_article_count, and promtool's
// linter reserves the _count suffix for histograms and summaries.
const seedNameLint = `active_article_count non-histogram and non-summary metrics should not have "_count" suffix`

// TestExpositionPassesPromtool pipes a real scrape to `promtool check metrics` (Debian's
// prometheus package). It skips where promtool is missing, unless
// ARTICLESD_REQUIRE_PROMTOOL=1, as in CI.
func TestExpositionPassesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		storetest.Skip(t, storetest.Promtool, "promtool is not on PATH")
	}
	_, h := setup(t, telemetry.Config{Metrics: true, Stderr: io.Discard})
	createArticle(t, h, []string{"sci-fi"}, nil)
	createArticle(t, h, nil, nil)
	do(h, http.MethodGet, "/articles/1", "", nil)
	do(h, http.MethodGet, "/no/such/route", "", nil)
	rec := do(h, http.MethodGet, "/metrics", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	body := rec.Body.Bytes()
	for _, name := range []string{"request_count_total", "request_latency_seconds_bucket", "status_code_count_total", "product_count_total", "active_article_count", "cpu_usage", "memory_usage", "go_goroutines", "process_resident_memory_bytes"} {
		if !bytes.Contains(body, []byte("\n"+name)) {
			t.Errorf("exposition lacks %s", name)
		}
	}

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		// Exit status 3 means lint findings only (the text parsed); accept exactly the
		// one the seed's metric name forces.
		if got := strings.TrimSpace(string(out)); got != seedNameLint {
			t.Fatalf("promtool check metrics found:\n%s", out)
		}
	default:
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
