package bench

// This file holds the results: one row per scenario and target, its percentiles, the
// medians of the rounds, and the report printed at the end.

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// result is one row of the table.
type result struct {
	scenario, target string
	conns            int
	skipped          string // why it did not run; empty when it did
	requests         int
	reqPerSec        float64
	latencies        []time.Duration // sorted
	errors           int
	errorSamples     []string
	slowest          []labeledLatency
	ratio            string
}

// percentile is the nearest-rank percentile p (0.5, 0.99, 1) of the latencies.
func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.latencies)))) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

// line is the one-line report printed when the row completes.
func (r result) line() string {
	if r.skipped != "" {
		return fmt.Sprintf("%-12s %-9s %s", r.scenario, r.target, r.skipped)
	}
	s := fmt.Sprintf("%-12s %-9s %3d conns %9s req/s  p50 %s  p95 %s  p99 %s  max %s  errors %d",
		r.scenario, r.target, r.conns, fmtRate(r.reqPerSec),
		fmtDuration(r.percentile(0.50)), fmtDuration(r.percentile(0.95)), fmtDuration(r.percentile(0.99)), fmtDuration(r.percentile(1)), r.errors)
	if r.ratio != "" {
		s += "  " + r.ratio
	}
	return s
}

// mergeRounds folds the rounds of one target into one row: the median rate, the
// latencies and errors of all rounds.
func mergeRounds(rounds []result) result {
	m := rounds[0]
	m.latencies = nil
	m.errorSamples = nil
	m.requests, m.errors = 0, 0
	var rates []float64
	for _, r := range rounds {
		rates = append(rates, r.reqPerSec)
		m.latencies = append(m.latencies, r.latencies...)
		m.requests += r.requests
		m.errors += r.errors
		m.errorSamples = append(m.errorSamples, r.errorSamples...)
	}
	slices.Sort(m.latencies)
	m.reqPerSec = median(rates)
	return m
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report is everything the final report prints.
type report struct {
	opts                                    Options
	picked                                  []scenario
	seedLine                                string
	startup                                 time.Duration
	rssStart, rssSampled, rssPeak, rssAfter int64 // kB
	spans                                   int64
	rows                                    []result
	quality                                 *QualityReport
	elapsed                                 time.Duration
}

func (rep report) print(w io.Writer) {
	o := rep.opts
	rounds := ""
	if s, ok := inRounds(rep.picked); ok {
		rounds = ", " + plural(o.Rounds, "round") + " of " + s.name
	}
	fmt.Fprintf(w, "\n## articlesd bench: %d articles, %s per run after %s warm-up%s, seed %d\n\n",
		o.Count, o.Duration, o.Warmup, rounds, o.Seed)
	fmt.Fprintf(w, "- seed: %s\n", rep.seedLine)
	fmt.Fprintf(w, "- start-up: %s (exec to the first 200 from /readyz)\n", fmtDuration(rep.startup))
	fmt.Fprintf(w, "- RSS idle after start: %s\n", fmtMiB(rep.rssStart))
	fmt.Fprintf(w, "- RSS peak during load: %s (VmHWM; largest sample every 200 ms: %s)\n", fmtMiB(max(rep.rssPeak, rep.rssSampled)), fmtMiB(rep.rssSampled))
	fmt.Fprintf(w, "- RSS idle 2 s after load: %s\n", fmtMiB(rep.rssAfter))
	fmt.Fprintf(w, "- spans received: %d (trace sample ratio 0.1)\n", rep.spans)
	fmt.Fprintf(w, "- bench took %s\n\n", rep.elapsed.Round(time.Second))
	fmt.Fprintln(w, "| scenario | target | conns | req/s | p50 | p95 | p99 | max | errors | ratio |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rep.rows {
		if r.skipped != "" {
			fmt.Fprintf(w, "| %s | %s | %d | %s | - | - | - | - | - | - |\n", r.scenario, r.target, r.conns, r.skipped)
			continue
		}
		ratio := r.ratio
		if ratio == "" {
			ratio = "-"
		}
		lat := func(p float64) string {
			if len(r.latencies) == 0 {
				return "-"
			}
			return fmtDuration(r.percentile(p))
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %d | %s |\n",
			r.scenario, r.target, r.conns, fmtRate(r.reqPerSec), lat(0.50), lat(0.95), lat(0.99), lat(1), r.errors, ratio)
	}
	if rep.quality != nil {
		fmt.Fprintf(w, "\n### search-quality: served answers against the ranking over every match, by matches\n\n")
		rep.quality.print(w)
	}
}

// fmtDuration prints a latency in milliseconds, or seconds from 10 s up.
func fmtDuration(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// plural says "1 round", "2 rounds".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func fmtRate(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

func fmtMiB(kb int64) string {
	if kb <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}
