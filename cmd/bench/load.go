package bench

// This file holds the load loop: a closed loop of a fixed number of connections, each
// sending its next request when the last one has been answered.

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// request is one request of a scenario; label names it in the slowest list.
type request struct {
	method, path string
	body         []byte
	label        string
}

// loadSpec describes one measured run: next makes the requests of one connection.
type loadSpec struct {
	scenario, target, base string
	conns                  int
	want                   int // the status of a success
	token                  string
	next                   func(worker int) func() request
}

// labeledLatency is one request's latency and what it asked.
type labeledLatency struct {
	latency time.Duration
	label   string
}

// maxErrorSamples bounds the errors shown per scenario (all are counted).
const maxErrorSamples = 5

// worker holds what one connection measured.
type worker struct {
	latencies []time.Duration
	errors    int
	samples   []string
	slowest   []labeledLatency
	lastEnd   time.Time
	fatal     error
}

// keepSlowest adds l to the five slowest latencies of the worker.
func (w *worker) keepSlowest(l labeledLatency) {
	if len(w.slowest) == 5 && l.latency <= w.slowest[4].latency {
		return
	}
	w.slowest = append(w.slowest, l)
	slices.SortFunc(w.slowest, func(a, b labeledLatency) int { return cmp.Compare(b.latency, a.latency) })
	w.slowest = w.slowest[:min(len(w.slowest), 5)]
}

// runLoad runs spec.conns connections, each sending one request after the other on its
// own keep-alive client, for warmup (not measured) and then duration. Requests begun
// in the measured window count; the rate is their number over the time from the start
// of the window to the end of the last of them.
func runLoad(ctx context.Context, spec loadSpec, warmup, duration time.Duration) (result, error) {
	start := time.Now()
	from := start.Add(warmup)
	until := from.Add(duration)
	workers := make([]worker, spec.conns)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			w := &workers[i]
			transport := &http.Transport{
				MaxIdleConns:        spec.conns,
				MaxIdleConnsPerHost: spec.conns,
				DisableCompression:  true,
				IdleConnTimeout:     90 * time.Second,
			}
			defer transport.CloseIdleConnections()
			client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
			next := spec.next(i)
			for ctx.Err() == nil {
				rq := next()
				req, err := http.NewRequestWithContext(ctx, rq.method, spec.base+rq.path, bytes.NewReader(rq.body))
				if err != nil {
					w.fatal = err
					return
				}
				if rq.body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				if spec.token != "" {
					req.Header.Set("Authorization", "Bearer "+spec.token)
				}
				t0 := time.Now()
				if !t0.Before(until) {
					return
				}
				resp, err := client.Do(req)
				var status int
				var snippet []byte
				if err == nil {
					status = resp.StatusCode
					if status != spec.want {
						snippet, _ = io.ReadAll(io.LimitReader(resp.Body, 300))
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				end := time.Now()
				if t0.Before(from) {
					continue
				}
				if ctx.Err() != nil {
					return
				}
				lat := end.Sub(t0)
				w.latencies = append(w.latencies, lat)
				w.lastEnd = end
				w.keepSlowest(labeledLatency{lat, rq.label})
				if err != nil || status != spec.want {
					w.errors++
					if len(w.samples) < maxErrorSamples {
						sample := fmt.Sprintf("%s %s: %v", rq.method, rq.path, err)
						if err == nil {
							sample = fmt.Sprintf("%s %s: %d, want %d: %s", rq.method, rq.path, status, spec.want, strings.TrimSpace(string(snippet)))
						}
						if !slices.Contains(w.samples, sample) {
							w.samples = append(w.samples, sample)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	r := result{scenario: spec.scenario, target: spec.target, conns: spec.conns}
	last := from
	for _, w := range workers {
		if w.fatal != nil {
			return r, w.fatal
		}
		r.latencies = append(r.latencies, w.latencies...)
		r.errors += w.errors
		for _, s := range w.samples {
			if len(r.errorSamples) < maxErrorSamples && !slices.Contains(r.errorSamples, s) {
				r.errorSamples = append(r.errorSamples, s)
			}
		}
		r.slowest = append(r.slowest, w.slowest...)
		if w.lastEnd.After(last) {
			last = w.lastEnd
		}
	}
	slices.Sort(r.latencies)
	slices.SortFunc(r.slowest, func(a, b labeledLatency) int { return cmp.Compare(b.latency, a.latency) })
	r.slowest = r.slowest[:min(len(r.slowest), 5)]
	r.requests = len(r.latencies)
	r.reqPerSec = float64(r.requests) / max(last.Sub(from).Seconds(), 1e-9)
	return r, nil
}
