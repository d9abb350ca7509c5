package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/telemetry"
)

// TestLabelsFromClosedSets sends what a client controls (methods of its own invention,
// hundreds of distinct first tags) and checks that every label of every metric still
// comes from a closed set, so the registry and the scrape stay small.
func TestLabelsFromClosedSets(t *testing.T) {
	var logs syncBuffer
	tel, h := setup(t, telemetry.Config{Metrics: true, Stderr: &logs})
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	const invented = 300
	for i := range invented {
		method := fmt.Sprintf("M%07999d", i) // 8 KB, unique
		for _, path := range []string{"/x", "/articles"} {
			if rec := do(h, method, path, "", nil); rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("%s… %s: %d", method[:8], path, rec.Code)
			}
		}
	}
	if rec := do(h, "get", "/articles", "", nil); rec.Code >= 500 {
		t.Fatalf("lower-case get: %d", rec.Code)
	}
	const tags = 150
	for i := range tags {
		createArticle(t, h, []string{fmt.Sprintf("tag-%03d", i)}, nil)
	}

	rec := do(h, http.MethodGet, "/metrics", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	if n := rec.Body.Len(); n > 64<<10 {
		t.Errorf("/metrics is %d bytes after %d invented methods and %d tags, want under 64 KiB", n, invented, tags)
	}
	fams := scrape(t, h)
	methods := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
		"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true, telemetry.OtherMethod: true}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "method" && !methods[lp.GetValue()] {
					t.Errorf("%s has a series for method %.20q", name, lp.GetValue())
				}
			}
		}
	}
	if got := counter(t, fams, "request_count_total", map[string]string{"method": "other", "endpoint": "unmatched", "http_status": "404"}); got != invented {
		t.Errorf("request_count_total{other, unmatched, 404} = %v, want %d", got, invented)
	}
	if got := counter(t, fams, "request_count_total", map[string]string{"method": "other", "endpoint": "unmatched", "http_status": "405"}); got != invented+1 {
		t.Errorf("request_count_total{other, unmatched, 405} = %v, want %d (with the lower-case get)", got, invented+1)
	}
	products := fams["product_count_total"].GetMetric()
	if len(products) != 101 {
		t.Errorf("product_count_total has %d series, want 100 tags and %q", len(products), telemetry.OtherProductType)
	}
	if got := counter(t, fams, "product_count_total", map[string]string{"product_type": "tag-099"}); got != 1 {
		t.Errorf("product_count_total{tag-099} = %v, want 1", got)
	}
	if got := counter(t, fams, "product_count_total", map[string]string{"product_type": telemetry.OtherProductType}); got != tags-100 {
		t.Errorf("product_count_total{other} = %v, want %d", got, tags-100)
	}
	// Without read replicas every request that reached the database used the primary.
	for _, m := range fams["articlesd_requests_by_db_pool_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "pool" && lp.GetValue() != "primary" {
				t.Errorf("articlesd_requests_by_db_pool_total has a series for pool %q", lp.GetValue())
			}
		}
	}
	if got := counter(t, fams, "articlesd_requests_by_db_pool_total", map[string]string{"endpoint": "/articles", "pool": "primary"}); got != tags {
		t.Errorf("articlesd_requests_by_db_pool_total{/articles, primary} = %v, want %d (the creates)", got, tags)
	}
	// The log line keeps a bounded prefix of an invented method, never all of it.
	if strings.Contains(logs.String(), fmt.Sprintf("M%031d", 0)+"0") {
		t.Errorf("a log line holds more than 32 bytes of an invented method")
	}
	if !strings.Contains(logs.String(), `method=other method_original=M0000000`) {
		t.Errorf("no log line says method=other with the method's first bytes:\n%.2000s", logs.String())
	}
}

// TestMetricsWhenCountFails scrapes while the database cannot count the articles: the
// scrape still answers 200 with every other metric, leaves active_article_count out,
// counts the failure, says nothing of the error in its body, and logs it.
func TestMetricsWhenCountFails(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			var logs syncBuffer
			ctx := context.Background()
			tel, err := telemetry.New(ctx, telemetry.Config{Metrics: true, Stderr: &logs})
			if err != nil {
				t.Fatal(err)
			}
			st := storetest.Open(t, d)
			tel.Metrics.WatchArticleCount(st.CountArticles, 0)
			h, err := app.NewHandler(app.Options{Store: st, Middleware: tel.Middleware(testRoutes(t)), OnArticleCreated: tel.Metrics.ArticleCreated, Metrics: tel.MetricsHandler()})
			if err != nil {
				t.Fatal(err)
			}
			createArticle(t, h, nil, nil)
			if got := findMetric(t, scrape(t, h), "active_article_count", nil).GetGauge().GetValue(); got != 1 {
				t.Fatalf("active_article_count = %v, want 1", got)
			}
			_ = st.Close() // the database is gone from now on

			for range 2 {
				rec := do(h, http.MethodGet, "/metrics", "", nil)
				if rec.Code != http.StatusOK {
					t.Fatalf("GET /metrics with the database gone: %d %s", rec.Code, rec.Body)
				}
				body, _ := io.ReadAll(rec.Body)
				for _, leak := range []string{"count articles", "store:", "sql:", "closed", "collected metric"} {
					if strings.Contains(string(body), leak) {
						t.Errorf("the scrape body says %q", leak)
					}
				}
			}
			fams := scrape(t, h)
			if f := fams["active_article_count"]; f != nil && len(f.GetMetric()) > 0 {
				t.Errorf("active_article_count is served although it could not be counted: %v", f.GetMetric())
			}
			if got := counter(t, fams, "articlesd_metric_collect_failures_total", map[string]string{"metric": "active_article_count"}); got != 3 {
				t.Errorf("articlesd_metric_collect_failures_total{active_article_count} = %v, want 3", got)
			}
			if got := counter(t, fams, "request_count_total", map[string]string{"method": "POST", "endpoint": "/articles", "http_status": "201"}); got != 1 {
				t.Errorf("request_count_total{POST, /articles, 201} = %v, want 1", got)
			}
			if !strings.Contains(logs.String(), `msg="metrics: article count failed; active_article_count left out of this scrape"`) {
				t.Errorf("the failure is not logged:\n%s", logs.String())
			}
		})
	}
}

// TestArticleCountReused checks that however often /metrics is scraped, the articles are
// counted at most once per interval: the count is a scan of the table, and /metrics is
// public.
func TestArticleCountReused(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Config{Metrics: true, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	tel.Metrics.WatchArticleCount(func(context.Context) (int64, error) { return calls.Add(1), nil }, time.Hour)
	h := tel.MetricsHandler()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "active_article_count 1\n") {
				t.Errorf("scrape: %d, want active_article_count 1", rec.Code)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("20 scrapes counted the articles %d times, want once", n)
	}
}
