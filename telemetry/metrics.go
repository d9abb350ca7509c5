package telemetry

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the seed system's metrics, with its names and labels, which its
// dashboards and queries use.
type Metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	statuses     *prometheus.CounterVec
	products     *prometheus.CounterVec
	productTypes *boundedLabels
	pools        *prometheus.CounterVec
	spansDropped prometheus.Counter
	series       sync.Map // requestKey → *requestSeries
	log          *slog.Logger
	reg          *prometheus.Registry
}

// latencyBuckets span a cached read (well under a millisecond) to a slow search (seconds).
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

func newMetrics(reg *prometheus.Registry, log *slog.Logger) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "request_count_total",
			Help: "HTTP requests served, by method, route template and status.",
		}, []string{"method", "endpoint", "http_status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "request_latency_seconds",
			Help:    "Time to serve an HTTP request, in seconds, by method and route template.",
			Buckets: latencyBuckets,
		}, []string{"method", "endpoint"}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "status_code_count_total",
			Help: "HTTP responses by status code.",
		}, []string{"status_code"}),
		products: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "product_count_total",
			Help: "Articles created, by their first tag (unknown when untagged).",
		}, []string{"product_type"}),
		productTypes: newBoundedLabels(maxProductTypes, OtherProductType),
		pools: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "articlesd_requests_by_db_pool_total",
			Help: "Requests by the database pools that served them (primary, replica, primary+replica), by route template.",
		}, []string{"endpoint", "pool"}),
		spansDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "articlesd_trace_spans_dropped_total",
			Help: "Spans dropped because the export queue was full or the collector failed.",
		}),
		log: log,
		reg: reg,
	}
	reg.MustRegister(m.requests, m.latency, m.statuses, m.products, m.pools, m.spansDropped)
	return m
}

// ObserveRequest records one served request. method is labelled with MethodLabel and
// status with its code; endpoint must already be a route template or Unmatched. traceID,
// when not empty, is attached as an exemplar so that a latency bucket leads to a trace.
func (m *Metrics) ObserveRequest(method, endpoint string, status int, d time.Duration, traceID string) {
	se := m.seriesOf(MethodLabel(method), endpoint, statusLabel(status))
	if traceID != "" {
		ex := prometheus.Labels{"trace_id": traceID}
		se.requests.(prometheus.ExemplarAdder).AddWithExemplar(1, ex)
		se.latency.(prometheus.ExemplarObserver).ObserveWithExemplar(d.Seconds(), ex)
	} else {
		se.requests.Inc()
		se.latency.Observe(d.Seconds())
	}
	se.status.Inc()
}

// requestKey names the series a request is counted in; every part is from a closed set.
type requestKey struct{ method, endpoint, code string }

// requestSeries are the series of one requestKey, looked up once: finding them by
// their label values hashes and checks the labels at every request.
type requestSeries struct {
	requests, status prometheus.Counter
	latency          prometheus.Observer
}

func (m *Metrics) seriesOf(method, endpoint, code string) *requestSeries {
	k := requestKey{method, endpoint, code}
	if se, ok := m.series.Load(k); ok {
		return se.(*requestSeries)
	}
	se, _ := m.series.LoadOrStore(k, &requestSeries{
		requests: m.requests.WithLabelValues(method, endpoint, code),
		latency:  m.latency.WithLabelValues(method, endpoint),
		status:   m.statuses.WithLabelValues(code),
	})
	return se.(*requestSeries)
}

// poolLabels are the pool label's closed set.
var poolLabels = map[string]bool{"primary": true, "replica": true, "primary+replica": true}

// ObservePools counts a request under the database pools that served it; pools not of
// the closed set are "other".
func (m *Metrics) ObservePools(endpoint, pools string) {
	if !poolLabels[pools] {
		pools = "other"
	}
	m.pools.WithLabelValues(endpoint, pools).Inc()
}

// ArticleCreated counts a new article under its first tag (see maxProductTypes).
func (m *Metrics) ArticleCreated(tags []string) {
	kind := "unknown"
	if len(tags) > 0 {
		kind = m.productTypes.label(tags[0])
	}
	m.products.WithLabelValues(kind).Inc()
}

// WatchArticleCount exposes active_article_count, read from the database, so it is
// right whichever replica created or deleted the articles. A count younger than maxAge
// is reused, so that however often /metrics is asked for, the database counts at most
// once per maxAge (0: at every scrape). When the count fails, the gauge is left out of
// that scrape (the rest of it is served), the failure is counted in
// articlesd_metric_collect_failures_total{metric="active_article_count"} and logged.
func (m *Metrics) WatchArticleCount(count func(context.Context) (int64, error), maxAge time.Duration) {
	const name = "active_article_count"
	m.reg.MustRegister(&articleCountCollector{
		count:  count,
		maxAge: maxAge,
		log:    m.log,
		desc:   prometheus.NewDesc(name, "Articles stored in the database.", nil, nil),
		failDesc: prometheus.NewDesc("articlesd_metric_collect_failures_total",
			"Scrapes that could not read a metric, by metric; the metric is left out of that scrape.",
			nil, prometheus.Labels{"metric": name}),
	})
}

type articleCountCollector struct {
	count          func(context.Context) (int64, error)
	maxAge         time.Duration
	log            *slog.Logger
	desc, failDesc *prometheus.Desc

	mu       sync.Mutex // held while counting: concurrent scrapes share one count
	n        int64
	at       time.Time
	valid    bool
	failures float64
}

func (c *articleCountCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.failDesc }

func (c *articleCountCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.valid || time.Since(c.at) >= c.maxAge {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		n, err := c.count(ctx)
		cancel()
		if err != nil {
			c.valid = false
			c.failures++
			c.log.Warn("metrics: article count failed; active_article_count left out of this scrape", "err", err)
		} else {
			c.n, c.at, c.valid = n, time.Now(), true
		}
	}
	// The failure count is the collector's own, so a scrape's failure is in that scrape.
	ch <- prometheus.MustNewConstMetric(c.failDesc, prometheus.CounterValue, c.failures)
	if c.valid {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(c.n))
	}
}

// hostCollector exposes the seed's cpu_usage and memory_usage gauges: host CPU busy
// percent since the previous scrape, and host memory in use, from /proc. Where /proc is
// missing (not Linux) it exposes nothing.
type hostCollector struct {
	cpu, mem *prometheus.Desc
	mu       sync.Mutex
	lastBusy uint64
	lastAll  uint64
}

func newHostCollector() *hostCollector {
	return &hostCollector{
		cpu: prometheus.NewDesc("cpu_usage", "Host CPU busy, in percent (0-100) of all cores, since the previous scrape.", nil, nil),
		mem: prometheus.NewDesc("memory_usage", "Host memory in use, in percent (0-100) of total memory (MemTotal minus MemAvailable).", nil, nil),
	}
}

func (h *hostCollector) Describe(ch chan<- *prometheus.Desc) { ch <- h.cpu; ch <- h.mem }

func (h *hostCollector) Collect(ch chan<- prometheus.Metric) {
	if busy, all, ok := readCPU(); ok {
		h.mu.Lock()
		db, da := busy-h.lastBusy, all-h.lastAll
		h.lastBusy, h.lastAll = busy, all
		h.mu.Unlock()
		if da > 0 {
			ch <- prometheus.MustNewConstMetric(h.cpu, prometheus.GaugeValue, 100*float64(db)/float64(da))
		}
	}
	if pct, ok := readMemory(); ok {
		ch <- prometheus.MustNewConstMetric(h.mem, prometheus.GaugeValue, pct)
	}
}

// readCPU returns busy and total jiffies from the first line of /proc/stat.
func readCPU() (busy, total uint64, ok bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, false
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range fields[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i != 3 && i != 4 { // idle and iowait
			busy += v
		}
	}
	return busy, total, true
}

func readMemory() (float64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var total, avail float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total == 0 {
		return 0, false
	}
	return 100 * (total - avail) / total, true
}
