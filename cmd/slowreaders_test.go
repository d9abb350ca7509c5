package cmd

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// heapRetained is the heap memory backed by RAM: in use, fragmented, or free but not
// returned to the operating system.
func heapRetained() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64() + s[2].Value.Uint64()
}

// TestSlowReadersLetGo: connections that pipeline GETs of a 400 KB article and never
// read hold an article each until the write stall timeout drops them, well before the
// write timeout; once they are gone and the server is idle, the heap they held is
// returned to the operating system within a few reclaim intervals. Counts and ratios
// only (goroutines, heap bytes), with slack that a loaded 2-core machine keeps: before,
// the connections stayed for the whole write timeout and the memory for minutes.
func TestSlowReadersLetGo(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 40 connections for seconds")
	}
	interval, floor := reclaimInterval, reclaimFloor
	reclaimInterval, reclaimFloor = 200*time.Millisecond, 8<<20
	t.Cleanup(func() { reclaimInterval, reclaimFloor = interval, floor })
	cfg := serveConfig("sqlite://" + t.TempDir() + "/a.db")
	cfg.WriteTimeout = 60 * time.Second
	cfg.WriteStallTimeout = time.Second
	s := startServer(t, cfg)
	// 100,000 characters, the most an article may have, of 4 bytes each.
	body, _ := json.Marshal(map[string]string{"title": "large", "author": "a", "content": strings.Repeat("𝐚", 100000)})
	if code, _, resp := httpDo(t, "POST", s.url("/articles"), "application/json", string(body)); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, resp)
	}
	runtime.GC()
	goroutines, retained := runtime.NumGoroutine(), heapRetained()

	const conns = 40
	req := strings.Repeat("GET /articles/1 HTTP/1.1\r\nHost: x\r\n\r\n", 20)
	var attack []net.Conn
	for range conns {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		attack = append(attack, c)
	}
	waitFor(t, 10*time.Second, "the connections' handlers to be stuck writing", func() bool {
		return runtime.NumGoroutine() >= goroutines+conns
	})
	stuck := time.Now()
	var pinned uint64
	// The stall timeout is 1s; the write timeout, 60s.
	waitFor(t, 15*time.Second, "the server to drop the connections that do not read", func() bool {
		pinned = max(pinned, heapRetained())
		return runtime.NumGoroutine() < goroutines+conns/4
	})
	t.Logf("connections dropped %s after their handlers were stuck; heap %d MB before, %d MB with them",
		time.Since(stuck).Round(100*time.Millisecond), retained>>20, pinned>>20)
	for _, c := range attack {
		c.Close()
	}
	// Idle now: the heap comes back to what it was, give or take half of what the
	// connections added (at least 8 MB of slack).
	bound := retained + max((pinned-retained)/2, 8<<20)
	waitFor(t, 10*time.Second, fmt.Sprintf("the heap to fall under %d MB (now %d MB)", bound>>20, heapRetained()>>20), func() bool {
		return heapRetained() < bound
	})
}
