package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records what reaches it and in how many writes.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *countingWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

func TestLogBufferGathersInfoLinesAndWritesWarningsAtOnce(t *testing.T) {
	out := &countingWriter{}
	log, closeLog := newLogger(Config{Stderr: out, LogLevel: slog.LevelInfo, LogFlush: time.Hour})
	for i := range 100 {
		log.Info("request", "i", i)
	}
	if s, n := out.state(); n != 0 || s != "" {
		t.Fatalf("INFO lines written before the interval: %d writes, %q", n, s)
	}
	log.Warn("slow")
	s, n := out.state()
	if n != 1 {
		t.Fatalf("a warning after 100 INFO lines: %d writes, want 1", n)
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) != 101 || !strings.Contains(lines[0], "i=0") || !strings.Contains(lines[100], "level=WARN msg=slow") {
		t.Fatalf("want the 100 INFO lines in order, then the warning; got %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
	log.Info("last")
	if err := closeLog(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s, n := out.state(); n != 2 || !strings.HasSuffix(s, "msg=last\n") {
		t.Fatalf("close must write the line left: %d writes, ends %q", n, s[len(s)-30:])
	}
	log.Info("after close")
	if s, n := out.state(); n != 3 || !strings.HasSuffix(s, "msg=\"after close\"\n") {
		t.Fatalf("after close lines go straight through: %d writes, ends %q", n, s[len(s)-30:])
	}
}

func TestLogBufferWritesWithinTheIntervalAndAtTheLimit(t *testing.T) {
	out := &countingWriter{}
	b := newLogBuffer(out, 20*time.Millisecond, 1024)
	_, _ = b.Write([]byte("one\n"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s, _ := out.state(); s == "one\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not written within 5s of a 20ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}

	full := &countingWriter{}
	b = newLogBuffer(full, time.Hour, 1024)
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 10 {
		_, _ = b.Write(line)
	}
	if _, n := full.state(); n != 0 {
		t.Fatalf("1000 bytes under a 1024-byte limit: %d writes, want 0", n)
	}
	_, _ = b.Write(line)
	if s, n := full.state(); n != 1 || len(s) != 1100 {
		t.Fatalf("past the limit: %d writes of %d bytes, want 1 of 1100", n, len(s))
	}
}

func TestLogFlushZeroWritesEachLine(t *testing.T) {
	out := &countingWriter{}
	log, _ := newLogger(Config{Stderr: out, LogLevel: slog.LevelInfo})
	log.Info("a")
	log.Info("b")
	if _, n := out.state(); n != 2 {
		t.Fatalf("LogFlush 0: %d writes for two lines, want 2", n)
	}
}
