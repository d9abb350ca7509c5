package cmd

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressFrames drives the seed's progress line on a fake clock: no rate before a
// second of work (the first frame once said 327,064,595 articles/s), a sane rate and time
// left after, throttled frames, and a last frame at 100% that stays.
func TestProgressFrames(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &progress{w: &out, total: 1000, every: 100 * time.Millisecond, now: func() time.Time { return clock }}
	p.start = clock
	frame := func() string {
		s := out.String()
		out.Reset()
		return strings.TrimSuffix(strings.TrimPrefix(s, "\r"), "\x1b[K")
	}

	clock = clock.Add(3 * time.Millisecond)
	p.set(100)
	if got, want := frame(), "seeding  100/1000   10%"; got != want {
		t.Errorf("first frame %q, want %q (no rate from 3 ms)", got, want)
	}
	clock = clock.Add(50 * time.Millisecond)
	p.set(150)
	if got := frame(); got != "" {
		t.Errorf("a frame 50 ms after the last: %q, want none", got)
	}
	clock = clock.Add(1947 * time.Millisecond) // 2 s in
	p.set(500)
	if got, want := frame(), "seeding  500/1000   50%  250 articles/s  2s left"; got != want {
		t.Errorf("frame at 2 s %q, want %q", got, want)
	}
	clock = clock.Add(10 * time.Millisecond)
	p.set(1000) // the last batch: drawn however soon
	if got, want := frame(), "seeding  1000/1000  100%  497 articles/s"; got != want {
		t.Errorf("last frame %q, want %q", got, want)
	}
	clock = clock.Add(time.Millisecond)
	p.finish()
	if got := out.String(); !strings.HasPrefix(got, "\rseeding  1000/1000  100%") || !strings.HasSuffix(got, "\n") {
		t.Errorf("finish wrote %q, want the 100%% frame and a new line", got)
	}
	if thousands(18230) != "18,230" || thousands(7) != "7" || thousands(1000000) != "1,000,000" {
		t.Errorf("thousands: %s %s %s", thousands(18230), thousands(7), thousands(1000000))
	}
}
