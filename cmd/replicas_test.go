package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// replicaArticle is the part of an API article this test looks at.
type replicaArticle struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Tags      []string  `json:"tags"`
	Views     int64     `json:"views"`
	CreatedAt time.Time `json:"createdAt"`
}

// replicaClient sends the test's requests to the replicas: from any goroutine, never
// failing the test itself, each bounded by the traffic's context and a timeout.
type replicaClient struct {
	http *http.Client
}

func newReplicaClient(t *testing.T) *replicaClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     10 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &replicaClient{http: &http.Client{Timeout: 10 * time.Second, Transport: tr}}
}

func (c *replicaClient) do(ctx context.Context, method, url, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return resp.StatusCode, b, nil
}

// create posts an article with the given tags and returns it as the API answered.
func (c *replicaClient) create(ctx context.Context, base, title string, tags []string) (replicaArticle, error) {
	body, _ := json.Marshal(map[string]any{
		"title": title, "content": "Content of " + title + ".", "author": "Replica Tester", "tags": tags,
	})
	status, b, err := c.do(ctx, http.MethodPost, base+"/articles", string(body))
	if err != nil {
		return replicaArticle{}, fmt.Errorf("POST %s/articles: %w", base, err)
	}
	if status != http.StatusCreated {
		return replicaArticle{}, fmt.Errorf("POST %s/articles = %d %s, want 201", base, status, b)
	}
	var a replicaArticle
	if err := json.Unmarshal(b, &a); err != nil || a.ID == "" {
		return replicaArticle{}, fmt.Errorf("POST %s/articles body %q: %w", base, b, err)
	}
	return a, nil
}

// errorLog collects the failures of the traffic goroutines, which must not call t.Fatal.
type errorLog struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (e *errorLog) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.first) < 20 {
		e.first = append(e.first, fmt.Sprintf(format, args...))
	}
}

// scrape reads one replica's /metrics and parses it.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET %s/metrics = %d:\n%.500s", base, code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s/metrics: %v\n%.1000s", base, err, body)
	}
	return fams
}

// gaugeValue returns the value of an unlabelled gauge, or -1 when it is missing.
func gaugeValue(fams map[string]*dto.MetricFamily, name string) float64 {
	mf, ok := fams[name]
	if !ok || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetGauge() == nil {
		return -1
	}
	return mf.GetMetric()[0].GetGauge().GetValue()
}

// counterByLabel returns a counter's values by the value of one of its labels.
func counterByLabel(t *testing.T, fams map[string]*dto.MetricFamily, name, label string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	mf, ok := fams[name]
	if !ok {
		return out
	}
	if mf.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("%s is a %s, want a counter", name, mf.GetType())
	}
	for _, m := range mf.GetMetric() {
		v := ""
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				v = lp.GetValue()
			}
		}
		out[v] += m.GetCounter().GetValue()
	}
	return out
}

// TestTwoReplicasStayCorrect runs two servers on one PostgreSQL database under mixed
// traffic and checks that what each tells (article count and creations in /metrics,
// popular articles) and what ends up stored (view counts) is exact: no view is lost or
// counted twice between the replicas' in-memory counters and the shared table.
func TestTwoReplicasStayCorrect(t *testing.T) {
	clearEnv(t)
	dbURL := storetest.URL(t, store.Postgres)

	var replicas [2]*testServer
	var bases [2]string
	for i := range replicas {
		cfg := serveConfig(dbURL)
		cfg.Metrics = true
		replicas[i] = startServer(t, cfg)
		bases[i] = "http://" + replicas[i].addr
		if !strings.HasPrefix(replicas[i].addr, "127.0.0.1:") {
			t.Fatalf("replica %d listens on %s, want 127.0.0.1", i, replicas[i].addr)
		}
	}
	t.Logf("replica 0 at %s, replica 1 at %s, database %s", bases[0], bases[1], store.Redact(dbURL))

	// Everything the test does is bounded: the traffic by its context, the whole by this one.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := newReplicaClient(t)

	// The hot articles, created before the traffic on alternating replicas. Each gets a
	// known, different number of reads; the permutation keeps the read order apart from
	// the creation order.
	plannedReads := []int{45, 120, 15, 90, 60, 105, 30, 75}
	const hotTag = "hot"
	createsByTag := map[string]int{} // creates answered 201, by first tag
	hot := make([]replicaArticle, len(plannedReads))
	hotIndex := map[string]int{}
	for i := range hot {
		a, err := client.create(ctx, bases[i%2], fmt.Sprintf("Hot article %d", i), []string{hotTag, "extra"})
		if err != nil {
			t.Fatal(err)
		}
		hot[i] = a
		hotIndex[a.ID] = i
		createsByTag[hotTag]++
	}

	// The read plan: every planned read of a hot article, each on a replica picked at
	// random (fixed seed), shuffled, then dealt to the readers, which pace them over the
	// traffic's duration.
	rng := rand.New(rand.NewPCG(20260101, 7))
	type read struct{ article, replica int }
	var plan []read
	for i, n := range plannedReads {
		for range n {
			plan = append(plan, read{article: i, replica: rng.IntN(2)})
		}
	}
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })

	const (
		traffic = 3 * time.Second
		readers = 4
		writers = 3
	)
	tags := []string{"news", "tech", "sport", "culture"}
	var (
		errs errorLog
		mu   sync.Mutex
		// reads200[i][r]: successful reads of hot article i on replica r.
		reads200   = make([][2]int, len(hot))
		created    []replicaArticle // created during the traffic and answered 201
		deleted    = map[string]bool{}
		noiseCalls int
	)
	start := time.Now()
	end := start.Add(traffic)
	var wg sync.WaitGroup

	// Readers.
	for g := range readers {
		var mine []read
		for k := g; k < len(plan); k += readers {
			mine = append(mine, plan[k])
		}
		wg.Go(func() {
			step := traffic / time.Duration(len(mine))
			for k, r := range mine {
				if d := time.Until(start.Add(time.Duration(k) * step)); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						errs.add("reader %d: %v", g, ctx.Err())
						return
					}
				}
				url := bases[r.replica] + "/articles/" + hot[r.article].ID
				status, b, err := client.do(ctx, http.MethodGet, url, "")
				switch {
				case err != nil:
					errs.add("GET %s: %v", url, err)
				case status != http.StatusOK:
					errs.add("GET %s = %d %s, want 200", url, status, b)
				default:
					mu.Lock()
					reads200[r.article][r.replica]++
					mu.Unlock()
				}
			}
		})
	}

	// Writers: create articles with a tag from the small set, on either replica,
	// and delete every third one of their own older articles through the other replica.
	for w := range writers {
		wg.Go(func() {
			var own []replicaArticle
			pick := rand.New(rand.NewPCG(uint64(w), 99)) // the replica, independent of the tag
			for n := 0; time.Now().Before(end) && ctx.Err() == nil; n++ {
				tag := tags[(w+n)%len(tags)]
				r := pick.IntN(2)
				a, err := client.create(ctx, bases[r], fmt.Sprintf("Writer %d article %d", w, n), []string{tag, "t" + strconv.Itoa(w)})
				if err != nil {
					errs.add("writer %d: %v", w, err)
					continue
				}
				mu.Lock()
				created = append(created, a)
				createsByTag[tag]++
				mu.Unlock()
				own = append(own, a)
				if n%3 == 2 && len(own) > 1 {
					victim := own[0]
					own = own[1:]
					url := bases[1-r] + "/articles/" + victim.ID
					status, b, err := client.do(ctx, http.MethodDelete, url, "")
					switch {
					case err != nil:
						errs.add("DELETE %s: %v", url, err)
					case status != http.StatusOK:
						errs.add("DELETE %s = %d %s, want 200", url, status, b)
					default:
						mu.Lock()
						deleted[victim.ID] = true
						mu.Unlock()
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}

	// Noise: listings and popular lists (which flush a replica's views mid-traffic).
	wg.Go(func() {
		for n := 0; time.Now().Before(end) && ctx.Err() == nil; n++ {
			path := "/articles?limit=5"
			if n%2 == 1 {
				path = "/articles/popular?limit=3"
			}
			url := bases[n%2] + path
			status, b, err := client.do(ctx, http.MethodGet, url, "")
			switch {
			case err != nil:
				errs.add("GET %s: %v", url, err)
			case status != http.StatusOK:
				errs.add("GET %s = %d %s, want 200", url, status, b)
			}
			mu.Lock()
			noiseCalls++
			mu.Unlock()
			time.Sleep(40 * time.Millisecond)
		}
	})

	wg.Wait()
	elapsed := time.Since(start)
	if errs.n > 0 {
		t.Fatalf("%d requests failed during the traffic; the first ones:\n%s", errs.n, strings.Join(errs.first, "\n"))
	}

	totalReads := 0
	for i := range hot {
		got := reads200[i][0] + reads200[i][1]
		totalReads += got
		if got != plannedReads[i] {
			t.Fatalf("hot article %s: %d successful reads, planned %d", hot[i].ID, got, plannedReads[i])
		}
	}
	wantCount := len(hot) + len(created) - len(deleted)
	t.Logf("traffic: %s; %d reads (all 200), %d creates (plus %d hot), %d deletes, %d listing/popular calls; %d articles expected",
		elapsed.Round(time.Millisecond), totalReads, len(created), len(hot), len(deleted), noiseCalls, wantCount)
	for i, a := range hot {
		t.Logf("  hot article %-4s reads %3d (replica 0: %3d, replica 1: %3d)", a.ID, plannedReads[i], reads200[i][0], reads200[i][1])
	}
	t.Logf("creates by first tag: %v", createsByTag)
	if len(created) == 0 || len(deleted) == 0 {
		t.Fatalf("the traffic created %d and deleted %d articles: not the mix this test needs", len(created), len(deleted))
	}

	// (1) active_article_count, read from the database at each scrape, is the true count
	// on both replicas.
	var dbCount int64
	var metricCounts [2]float64
	var fams [2]map[string]*dto.MetricFamily
	deadline := time.Now().Add(3 * time.Second)
	for {
		dbCount = countArticles(t, dbURL)
		for r := range bases {
			fams[r] = scrape(t, bases[r])
			metricCounts[r] = gaugeValue(fams[r], "active_article_count")
		}
		ok := dbCount == int64(wantCount)
		for _, v := range metricCounts {
			ok = ok && v == float64(dbCount)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("active_article_count: replica 0 says %v, replica 1 says %v; the database holds %d; want %d (%d hot + %d created - %d deleted)",
				metricCounts[0], metricCounts[1], dbCount, wantCount, len(hot), len(created), len(deleted))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("(1) active_article_count: replica 0 = %v, replica 1 = %v, database = %d, expected %d + %d - %d = %d",
		metricCounts[0], metricCounts[1], dbCount, len(hot), len(created), len(deleted), wantCount)

	// (4) product_count_total, summed over the replicas, counts every create by first tag.
	sum := map[string]float64{}
	for r := range bases {
		per := counterByLabel(t, fams[r], "product_count_total", "product_type")
		t.Logf("(4) replica %d product_count_total: %v", r, per)
		for k, v := range per {
			sum[k] += v
		}
	}
	for tag, n := range createsByTag {
		if sum[tag] != float64(n) {
			t.Errorf("product_count_total{product_type=%q} summed over the replicas = %v, want %d", tag, sum[tag], n)
		}
	}
	for tag, v := range sum {
		if _, ok := createsByTag[tag]; !ok {
			t.Errorf("product_count_total{product_type=%q} = %v, but no article was created with that first tag", tag, v)
		}
	}
	t.Logf("(4) product_count_total summed: %v, creates by first tag: %v", sum, createsByTag)

	// (3) The popular list, on either replica, has the hot articles first by their read
	// counts (ties: newest first) with those counts as views, then the unread articles
	// newest first. Views counted by the other replica reach the table within a flush
	// interval, and the ranking that orders popular articles at its next rebuild (on a
	// database this small, a second or two after a change), hence the wait.
	wantOrder := slices.Clone(hot)
	sort.SliceStable(wantOrder, func(i, j int) bool {
		a, b := wantOrder[i], wantOrder[j]
		ra, rb := plannedReads[hotIndex[a.ID]], plannedReads[hotIndex[b.ID]]
		if ra != rb {
			return ra > rb
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		ia, _ := strconv.ParseInt(a.ID, 10, 64)
		ib, _ := strconv.ParseInt(b.ID, 10, 64)
		return ia > ib
	})
	var unread []replicaArticle
	for _, a := range created {
		if !deleted[a.ID] {
			unread = append(unread, a)
		}
	}
	sort.Slice(unread, func(i, j int) bool {
		a, b := unread[i], unread[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		ia, _ := strconv.ParseInt(a.ID, 10, 64)
		ib, _ := strconv.ParseInt(b.ID, 10, 64)
		return ia > ib
	})
	tail := min(5, len(unread))
	limit := len(hot) + tail
	var want []string
	for _, a := range wantOrder {
		want = append(want, fmt.Sprintf("%s:%d", a.ID, plannedReads[hotIndex[a.ID]]))
	}
	for _, a := range unread[:tail] {
		want = append(want, a.ID+":0")
	}
	popular := func(r int) []string {
		code, body := get(t, fmt.Sprintf("%s/articles/popular?limit=%d", bases[r], limit))
		if code != http.StatusOK {
			t.Fatalf("GET %s/articles/popular = %d %s", bases[r], code, body)
		}
		var list []replicaArticle
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("popular list %q: %v", body, err)
		}
		var got []string
		for _, a := range list {
			got = append(got, fmt.Sprintf("%s:%d", a.ID, a.Views))
		}
		return got
	}
	var got [2][]string
	deadline = time.Now().Add(10 * time.Second)
	for {
		ok := true
		for r := range bases {
			got[r] = popular(r)
			ok = ok && slices.Equal(got[r], want)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("(3) GET /articles/popular?limit=%d (id:views), want\n  %v\nreplica 0:\n  %v\nreplica 1:\n  %v", limit, want, got[0], got[1])
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("(3) popular on both replicas (id:views): %v", got[0])

	// (2) After a graceful stop of both replicas (each flushes its counted views when its
	// store closes), the stored view counts are exactly the successful reads.
	for r, s := range replicas {
		if err := s.stop(t); err != nil {
			t.Fatalf("replica %d stopped with %v\nlog:\n%s", r, err, s.log)
		}
		if log := s.log.String(); strings.Contains(log, "views lost at close") || strings.Contains(log, "flushing article views failed") {
			t.Errorf("replica %d lost or retried views:\n%s", r, log)
		}
	}
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatalf("open the database after the stop: %v", err)
	}
	defer st.Close()
	var stored []string
	for i, a := range hot {
		id, _ := strconv.ParseInt(a.ID, 10, 64)
		got, err := st.GetArticle(ctx, id)
		if err != nil {
			t.Fatalf("get hot article %d: %v", id, err)
		}
		stored = append(stored, fmt.Sprintf("%d:%d", id, got.Views))
		if got.Views != int64(reads200[i][0]+reads200[i][1]) {
			t.Errorf("(2) hot article %d: stored view_count %d, want %d (%d reads on replica 0 + %d on replica 1)",
				id, got.Views, reads200[i][0]+reads200[i][1], reads200[i][0], reads200[i][1])
		}
	}
	t.Logf("(2) stored view_count after the stop (id:views): %v", stored)
	for _, a := range created {
		id, _ := strconv.ParseInt(a.ID, 10, 64)
		_, err := st.GetArticle(ctx, id)
		switch {
		case deleted[a.ID] && !errors.Is(err, store.ErrNotFound):
			t.Errorf("deleted article %d: GetArticle = %v, want ErrNotFound", id, err)
		case !deleted[a.ID] && err != nil:
			t.Errorf("surviving article %d: GetArticle = %v", id, err)
		}
	}
	if n, err := st.CountArticles(ctx); err != nil || n != int64(wantCount) {
		t.Errorf("after the stop the database holds %d articles (%v), want %d", n, err, wantCount)
	}
}
