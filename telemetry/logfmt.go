package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

// logfmtHandler writes records as logfmt lines: time, level and msg first, then the
// attributes, then trace_id and span_id when the context carries a span. It is
// slog.TextHandler's format with two differences: quoted values use JSON escapes
// (\n, \u0000), which strict logfmt parsers such as Loki's accept, and it costs a
// fraction of the time, which matters since every request writes a line.
type logfmtHandler struct {
	w      io.Writer
	mu     *sync.Mutex
	level  slog.Leveler
	prefix string // group prefix for attribute keys, with a trailing dot
	attrs  []byte // pre-encoded attributes of WithAttrs, each with a leading space
}

func newLogfmtHandler(w io.Writer, level slog.Leveler) *logfmtHandler {
	return &logfmtHandler{w: w, mu: &sync.Mutex{}, level: level}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *logfmtHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *logfmtHandler) Handle(ctx context.Context, r slog.Record) error {
	bp := bufPool.Get().(*[]byte)
	b := h.begin((*bp)[:0], r.Time, r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.prefix, a)
		return true
	})
	return h.finish(ctx, bp, b, r.Level)
}

// begin writes what opens every line: time, level, msg and the attributes of WithAttrs.
func (h *logfmtHandler) begin(b []byte, t time.Time, level slog.Level, msg string) []byte {
	if !t.IsZero() {
		b = append(b, "time="...)
		b = appendTime(b, t)
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = append(b, level.String()...)
	b = append(b, " msg="...)
	b = appendValue(b, msg)
	return append(b, h.attrs...)
}

// finish ends the line b (held by bp, from bufPool) with the span's ids and writes it.
func (h *logfmtHandler) finish(ctx context.Context, bp *[]byte, b []byte, level slog.Level) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		tid, sid := sc.TraceID(), sc.SpanID()
		b = append(b, " trace_id="...)
		b = appendHex(b, tid[:])
		b = append(b, " span_id="...)
		b = appendHex(b, sid[:])
	}
	b = append(b, '\n')
	h.mu.Lock()
	_, err := h.w.Write(b)
	if f, ok := h.w.(interface{ Flush() error }); ok && level >= slog.LevelWarn {
		// A warning or an error is written before the call returns: the process may
		// be about to stop, or someone is watching for it.
		err = f.Flush()
	}
	h.mu.Unlock()
	*bp = b
	bufPool.Put(bp)
	return err
}

// second is a second's time formatted, up to its fraction: "2006-01-02T15:04:05.".
type second struct {
	unix   int64
	prefix []byte
}

// lastSecond is the second the latest line was written in: lines of the same second
// reuse its text.
var lastSecond atomic.Pointer[second]

// appendTime writes t in UTC to the millisecond, as t.UTC().AppendFormat(b,
// "2006-01-02T15:04:05.000Z07:00") does; formatting by the layout cost a request's line
// half a microsecond.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	s := lastSecond.Load()
	if s == nil || s.unix != t.Unix() {
		s = &second{unix: t.Unix(), prefix: t.AppendFormat(nil, "2006-01-02T15:04:05.")}
		lastSecond.Store(s)
	}
	ms := t.Nanosecond() / 1e6
	b = append(b, s.prefix...)
	return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// requestLine is what a request's log line says (see Telemetry.observe), in its order.
type requestLine struct {
	method, methodOriginal, route, path string
	status, bytes                       int
	durationMS                          float64
	clientIP, requestID                 string
	principal, pools                    string // left out when empty
}

// attrs returns the line's attributes, for a logger that is not a logfmtHandler.
func (l *requestLine) attrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs, slog.String("method", l.method))
	if l.methodOriginal != "" {
		attrs = append(attrs, slog.String("method_original", l.methodOriginal))
	}
	attrs = append(attrs,
		slog.String("route", l.route),
		slog.String("path", l.path),
		slog.Int("status", l.status),
		slog.Float64("duration_ms", l.durationMS),
		slog.Int("bytes", l.bytes),
		slog.String("client_ip", l.clientIP),
		slog.String("request_id", l.requestID),
	)
	if l.principal != "" {
		attrs = append(attrs, slog.String("principal", l.principal))
	}
	if l.pools != "" {
		attrs = append(attrs, slog.String("db_pool", l.pools))
	}
	return attrs
}

// writeRequest writes the line Handle would write for a record of l.attrs(), without
// building the record: every request writes one, and the record, its attributes and
// slog's look-up of the caller were most of the line's cost. The handler must have no
// group (Telemetry.observe checks).
func (h *logfmtHandler) writeRequest(ctx context.Context, t time.Time, level slog.Level, l *requestLine) error {
	bp := bufPool.Get().(*[]byte)
	b := h.begin((*bp)[:0], t, level, "request")
	b = append(b, " method="...)
	b = appendValue(b, l.method)
	if l.methodOriginal != "" {
		b = append(b, " method_original="...)
		b = appendValue(b, l.methodOriginal)
	}
	b = append(b, " route="...)
	b = appendValue(b, l.route)
	b = append(b, " path="...)
	b = appendValue(b, l.path)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(l.status), 10)
	b = append(b, " duration_ms="...)
	b = strconv.AppendFloat(b, l.durationMS, 'g', -1, 64)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, int64(l.bytes), 10)
	b = append(b, " client_ip="...)
	b = appendValue(b, l.clientIP)
	b = append(b, " request_id="...)
	b = appendValue(b, l.requestID)
	if l.principal != "" {
		b = append(b, " principal="...)
		b = appendValue(b, l.principal)
	}
	if l.pools != "" {
		b = append(b, " db_pool="...)
		b = appendValue(b, l.pools)
	}
	return h.finish(ctx, bp, b, level)
}

func (h *logfmtHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range as {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

func (h *logfmtHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range v.Group() {
			b = appendAttr(b, p, ga)
		}
		return b
	}
	key := a.Key
	if key == "" {
		key = "_"
	}
	b = append(b, ' ')
	b = appendKey(b, prefix+key)
	b = append(b, '=')
	switch v.Kind() {
	case slog.KindString:
		return appendValue(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return appendValue(b, v.Duration().String())
	case slog.KindTime:
		return v.Time().UTC().AppendFormat(b, time.RFC3339Nano)
	default:
		x := v.Any()
		if err, ok := x.(error); ok {
			return appendValue(b, err.Error())
		}
		return appendValue(b, fmt.Sprint(x))
	}
}

// appendKey writes a key; characters logfmt keys cannot hold become underscores.
func appendKey(b []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c == '=' || c == '"' || c >= utf8.RuneSelf {
			c = '_'
		}
		b = append(b, c)
	}
	return b
}

// appendValue writes a value bare when it can be, else quoted with JSON escapes.
func appendValue(b []byte, s string) []byte {
	if s != "" && !needsQuote(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < ' ' || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func needsQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, src []byte) []byte {
	for _, c := range src {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}
