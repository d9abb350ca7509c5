package cmd

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress draws one line that `seed --count` rewrites in place on a terminal:
//
//	seeding  412000/1000000  41%  18,230 articles/s  32s left
//
// The rate is shown once a second of work is behind it (a rate from the first batch's
// few milliseconds said 327,064,595 articles/s), and the last frame is always drawn, at
// 100%, and kept.
type progress struct {
	w     io.Writer
	total int64
	start time.Time
	every time.Duration // at most one frame per interval, but the last
	now   func() time.Time

	mu    sync.Mutex
	drawn time.Time
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total, every: 100 * time.Millisecond, now: time.Now}
	p.start = p.now()
	return p
}

// set reports how many articles are done.
func (p *progress) set(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if done < p.total && now.Sub(p.drawn) < p.every {
		return
	}
	p.drawn = now
	p.draw(done, now)
}

// finish draws the 100% frame and ends the line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(p.total, p.now())
	fmt.Fprintln(p.w)
}

func (p *progress) draw(done int64, now time.Time) {
	pct := 100 * done / max(p.total, 1)
	line := fmt.Sprintf("\rseeding  %d/%d  %3d%%", done, p.total, pct)
	if elapsed := now.Sub(p.start); elapsed >= time.Second && done > 0 {
		rate := float64(done) / elapsed.Seconds()
		line += fmt.Sprintf("  %s articles/s", thousands(int64(rate)))
		if done < p.total {
			left := time.Duration(float64(p.total-done)/rate) * time.Second
			line += fmt.Sprintf("  %s left", left.Round(time.Second))
		}
	}
	fmt.Fprintf(p.w, "%s\x1b[K", line) // clear what a longer frame left
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
