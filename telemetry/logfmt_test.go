package telemetry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-logfmt/logfmt"
	"go.opentelemetry.io/otel/trace"
)

func TestLogfmtHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newLogfmtHandler(&buf, slog.LevelDebug)).With("svc", "articlesd").WithGroup("req")
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	hostile := "a \"quoted\" = value\\ with\nnewline, tab\t, NUL \x00, bad UTF-8 \xff and é"
	log.InfoContext(ctx, "hello world", "path", hostile, "n", 42, "ok", true, "d", 1500*time.Millisecond,
		"f", 0.25, "err", errors.New("boom"), slog.Group("g", "k", "v"), "", "empty key", "bad key=", 1)
	log.Debug("")

	line := buf.String()
	want := `level=INFO msg="hello world" svc=articlesd req.path="a \"quoted\" = value\\ with\nnewline, tab\t, NUL \u0000, bad UTF-8 \ufffd and é" req.n=42 req.ok=true req.d=1.5s req.f=0.25 req.err=boom req.g.k=v req._="empty key" req.bad_key_=1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7`
	first, _, _ := strings.Cut(line, "\n")
	if !strings.HasPrefix(first, "time=") || !strings.HasSuffix(first, want) {
		t.Errorf("line\n got: %s\nwant: time=… %s", first, want)
	}

	// Every line decodes strictly, and the hostile value comes back as it was written
	// (but for the invalid byte, which JSON escapes cannot carry).
	d := logfmt.NewDecoder(strings.NewReader(line))
	records := 0
	for d.ScanRecord() {
		records++
		for d.ScanKeyval() {
			if string(d.Key()) == "req.path" && string(d.Value()) != strings.ToValidUTF8(hostile, "\ufffd") {
				t.Errorf("req.path decoded to %q", d.Value())
			}
		}
	}
	if err := d.Err(); err != nil || records != 2 {
		t.Fatalf("decode: %d records, %v\n%s", records, err, line)
	}
}

func BenchmarkLogLine(b *testing.B) {
	for _, tc := range []struct {
		name string
		h    slog.Handler
	}{
		{"logfmtHandler", newLogfmtHandler(discard{}, slog.LevelInfo)},
		{"slog.TextHandler", slog.NewTextHandler(discard{}, nil)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			log := slog.New(tc.h)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", "GET"), slog.String("route", "/articles/{id}"),
					slog.String("path", "/articles/42"), slog.Int("status", 200), slog.Float64("duration_ms", 0.731),
					slog.Int("bytes", 391), slog.String("client_ip", "127.0.0.1"), slog.String("request_id", "a012823f16f079936e317758"))
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestRequestLineAsRecord: the request line written without a record is, byte for
// byte, the line Handle writes for a record of the same attributes.
func TestRequestLineAsRecord(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	traced := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	at := time.Date(2026, 12, 2, 18, 4, 5, 987654321, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		ctx   context.Context
		level slog.Level
		line  requestLine
	}{
		{traced, slog.LevelInfo, requestLine{method: "GET", route: "/articles/{id}", path: "/articles/42", status: 200,
			durationMS: 0.731, bytes: 391, clientIP: "127.0.0.1", requestID: "a012823f16f079936e317758"}},
		{context.Background(), slog.LevelWarn, requestLine{method: OtherMethod, methodOriginal: "BREW\x00=", route: Unmatched,
			path: "/a b/\"c\"\xff", status: 404, durationMS: 1234567.25, clientIP: "::1", requestID: "x=y",
			principal: "writer one", pools: "primary+replica"}},
		{traced, slog.LevelError, requestLine{method: "POST", route: "/articles", path: "/articles", status: 503,
			durationMS: 0.000001, bytes: 0, requestID: "r"}},
	} {
		var viaRecord, direct bytes.Buffer
		h := newLogfmtHandler(&viaRecord, slog.LevelDebug)
		r := slog.NewRecord(at, tc.level, "request", 0)
		r.AddAttrs(tc.line.attrs()...)
		if err := h.Handle(tc.ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := newLogfmtHandler(&direct, slog.LevelDebug).writeRequest(tc.ctx, at, tc.level, &tc.line); err != nil {
			t.Fatal(err)
		}
		if direct.String() != viaRecord.String() {
			t.Errorf("request line\n got: %s\nwant: %s", direct.String(), viaRecord.String())
		}
	}
}

// TestAppendTime: the cached second gives the layout's text for times in the same
// second, the next, long before, and before the epoch.
func TestAppendTime(t *testing.T) {
	base := time.Date(2026, 12, 2, 23, 59, 59, 999999999, time.UTC)
	for _, at := range []time.Time{
		base, base.Add(-999 * time.Millisecond), base.Add(time.Nanosecond), base.Add(1500 * time.Millisecond),
		time.Date(1969, 12, 31, 23, 59, 59, 1000000, time.UTC), time.Unix(0, 0), time.Date(2026, 1, 2, 3, 4, 5, 60000000, time.FixedZone("Y", -7200)),
		base.Add(-24 * time.Hour), base,
	} {
		got := string(appendTime(nil, at))
		if want := at.UTC().Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", at, got, want)
		}
	}
}
