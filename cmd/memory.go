package cmd

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// What reclaimWhenIdle is run with; tests shorten them.
var (
	reclaimInterval        = 5 * time.Second
	reclaimFloor    uint64 = 64 << 20
)

// reclaimWhenIdle returns the heap's free memory to the operating system once the
// process has gone a whole interval without a garbage collection (it allocates little)
// while holding more than floor. After a burst nothing else does so for minutes: the
// heap goal stays where the burst left it (twice the memory then in use), so no
// collection runs until the runtime forces one, every 2 minutes; and the scavenger then
// skips for one more cycle the chunks of memory that were full during the burst. An
// idle server that had 300 MB in use kept 300 MB for 2 minutes, 150 MB for 2 more.
// A reclaim that finds little to return (the memory is in use) doubles the wait before
// the next, up to 8 intervals; a collection (activity) resets it.
func reclaimWhenIdle(ctx context.Context, every time.Duration, floor uint64, log *slog.Logger) {
	s := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	read := func() (cycles, retained uint64) {
		metrics.Read(s)
		return s[0].Value.Uint64(), s[1].Value.Uint64() + s[2].Value.Uint64() + s[3].Value.Uint64()
	}
	lastCycles, _ := read()
	wait, left := 1, 0 // ticks to wait after a reclaim, and what is left of that wait
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cycles, retained := read()
		if cycles != lastCycles {
			lastCycles, wait, left = cycles, 1, 0
			continue
		}
		if left--; retained < floor || left > 0 {
			continue
		}
		start := time.Now()
		debug.FreeOSMemory()
		var kept uint64
		lastCycles, kept = read()
		if kept >= retained || retained-kept < retained/4 {
			wait = min(2*wait, 8)
		} else {
			wait = 1
		}
		left = wait
		log.Info("returned idle heap memory to the operating system", "retained_mb", retained>>20, "kept_mb", kept>>20, "took", time.Since(start))
	}
}
