package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"gopkg.in/natefinch/lumberjack.v2"
)

// newLogger returns the process logger: logfmt (key=value, values quoted where needed,
// parseable by Loki's `| logfmt --strict`) to stderr and, when configured, to a
// size-rotated file. Each record made with a context of a span carries trace_id and
// span_id.
func newLogger(cfg Config) (*slog.Logger, func(context.Context) error) {
	w := cfg.Stderr
	closeFn := func(context.Context) error { return nil }
	if cfg.LogFile != "" {
		maxMB := cfg.LogFileMaxMB
		if maxMB <= 0 {
			maxMB = 100
		}
		// Created readable by all before lumberjack opens it (lumberjack would make it
		// 0600 and keeps an existing file's mode across rotations): the log shippers
		// that read it run as other users.
		if err := os.MkdirAll(filepath.Dir(cfg.LogFile), 0o755); err == nil {
			if f, err := os.OpenFile(cfg.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
				f.Close()
			}
		}
		file := &lumberjack.Logger{Filename: cfg.LogFile, MaxSize: maxMB, MaxBackups: 5}
		w = io.MultiWriter(cfg.Stderr, &tolerantWriter{w: file, report: cfg.Stderr, name: cfg.LogFile})
		closeFn = func(context.Context) error { return file.Close() }
	}
	if cfg.LogFlush > 0 {
		buf := newLogBuffer(w, cfg.LogFlush, 64<<10)
		closeFile := closeFn
		closeFn = func(ctx context.Context) error {
			_ = buf.Close()
			return closeFile(ctx)
		}
		w = buf
	}
	return slog.New(newLogfmtHandler(w, cfg.LogLevel)), closeFn
}

// tolerantWriter keeps logging alive when the log file cannot be written (disk full,
// permissions): it reports the first failure on the other output, then drops file
// writes silently until one succeeds again.
type tolerantWriter struct {
	w      io.Writer
	report io.Writer
	name   string
	mu     sync.Mutex
	failed bool
}

func (t *tolerantWriter) Write(p []byte) (int, error) {
	_, err := t.w.Write(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err != nil && !t.failed:
		t.failed = true
		fmt.Fprintf(t.report, "level=ERROR msg=\"log file unwritable; logging to stderr only\" file=%q err=%q\n", t.name, err.Error())
	case err == nil && t.failed:
		t.failed = false
		fmt.Fprintf(t.report, "level=INFO msg=\"log file writable again\" file=%q\n", t.name)
	}
	return len(p), nil
}
