package telemetry

import (
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Unmatched is the endpoint label of every request that matched no route, so that a scan
// of random URLs adds no series.
const Unmatched = "unmatched"

// Routes is what telemetry learns of requests from the application, which owns its
// routes: the template a matched route is known by (for metric labels, span names and
// log lines), whether it is quiet (probes and static files: not traced, logged at DEBUG
// only), and, once served, who made the request.
type Routes interface {
	// Template returns the template of the route Gin matched (c.FullPath()); ok is false
	// for one the application does not know.
	Template(fullPath string) (template string, quiet, ok bool)
	// Principal returns who made the request ("" for an anonymous one).
	Principal(c *gin.Context) string
	// Pools names the database pools that served the request, from a closed set
	// ("primary", "replica", "primary+replica"; "" for none).
	Pools(c *gin.Context) string
}

// routeOf returns the template and quietness of a request's route, Unmatched for none.
func routeOf(routes Routes, c *gin.Context) (string, bool) {
	if t, quiet, ok := routes.Template(c.FullPath()); ok {
		return t, quiet
	}
	return Unmatched, false
}

// Middleware returns the Gin middleware that makes each request observable: the server
// span (continuing an incoming traceparent) when tracing is on, then metrics and the log
// line. Responses carry X-Trace-Id and X-Request-Id.
func (t *Telemetry) Middleware(routes Routes) []gin.HandlerFunc {
	observe := func(c *gin.Context) { t.observe(c, routes) }
	if !t.tracing {
		return []gin.HandlerFunc{observe}
	}
	tracer := t.TracerProvider.Tracer("github.com/articlesd/articlesd/telemetry")
	return []gin.HandlerFunc{t.serverSpan(tracer, routes), observe}
}

// serverSpanKind is the start option of every server span, made once.
var serverSpanKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// serverSpan starts the server span of a request, named by method and route template,
// with the HTTP semantic-convention attributes; 5xx responses mark it as an error (4xx
// do not, for a server span). Probes and static files are not traced.
func (t *Telemetry) serverSpan(tracer trace.Tracer, routes Routes) gin.HandlerFunc {
	// The headers the propagator reads, as requests hold them: most requests carry none,
	// and then there is nothing to extract.
	fields := t.Propagator.Fields()
	for i, f := range fields {
		fields[i] = textproto.CanonicalMIMEHeaderKey(f)
	}
	return func(c *gin.Context) {
		route, quiet := routeOf(routes, c)
		if quiet {
			c.Next()
			return
		}
		req := c.Request
		ctx := req.Context()
		for _, f := range fields {
			if len(req.Header[f]) > 0 {
				ctx = t.Propagator.Extract(ctx, propagation.HeaderCarrier(req.Header))
				break
			}
		}
		// Span names, like metric labels, come from closed sets (Tempo's span metrics
		// make a series per name): "HTTP" for a method that is not a standard one, as
		// the semantic conventions say.
		method := MethodLabel(req.Method)
		name := method + " " + route
		if method == OtherMethod {
			name = "HTTP " + route
		}
		ctx, span := tracer.Start(ctx, name, serverSpanKind...)
		defer span.End()
		recording := span.IsRecording()
		if recording {
			// Attributes only for sampled requests: building them costs every request.
			scheme := "http"
			if req.TLS != nil {
				scheme = "https"
			}
			if method == OtherMethod {
				span.SetAttributes(semconv.HTTPRequestMethodKey.String("_OTHER"),
					semconv.HTTPRequestMethodOriginal(truncate(req.Method, maxOriginalMethod)))
			} else {
				span.SetAttributes(semconv.HTTPRequestMethodKey.String(method))
			}
			span.SetAttributes(
				semconv.URLPath(req.URL.Path),
				semconv.URLScheme(scheme),
				semconv.ServerAddress(req.Host),
				semconv.ClientAddress(c.ClientIP()),
				semconv.UserAgentOriginal(req.UserAgent()),
			)
			if route != Unmatched {
				span.SetAttributes(semconv.HTTPRoute(route))
			}
		}
		c.Request = req.WithContext(ctx)

		c.Next()

		if !recording {
			return
		}
		status := c.Writer.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
			span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		}
	}
}

func (t *Telemetry) observe(c *gin.Context, routes Routes) {
	start := time.Now()
	var given string
	if v := c.Request.Header["X-Request-Id"]; len(v) > 0 { // keys arrive canonical
		given = v[0]
	}
	reqID := requestID(given)
	hdr := c.Writer.Header()
	hdr["X-Request-Id"] = []string{reqID}
	route, quiet := routeOf(routes, c)
	sc := trace.SpanContextFromContext(c.Request.Context())
	traceID := ""
	if sc.IsValid() {
		traceID = sc.TraceID().String()
		hdr["X-Trace-Id"] = []string{traceID}
	}

	c.Next()

	status := c.Writer.Status()
	elapsed := time.Since(start)
	pools := routes.Pools(c)
	if t.Metrics != nil {
		exemplar := ""
		if sc.IsSampled() {
			exemplar = traceID
		}
		t.Metrics.ObserveRequest(c.Request.Method, route, status, elapsed, exemplar)
		if pools != "" {
			t.Metrics.ObservePools(route, pools)
		}
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	case quiet:
		level = slog.LevelDebug
	}
	ctx := c.Request.Context()
	if !t.Logger.Enabled(ctx, level) {
		return
	}
	line := requestLine{
		method:     MethodLabel(c.Request.Method),
		route:      route,
		path:       c.Request.URL.Path,
		status:     status,
		durationMS: float64(elapsed.Microseconds()) / 1000,
		bytes:      max(c.Writer.Size(), 0),
		clientIP:   c.ClientIP(),
		requestID:  reqID,
		principal:  routes.Principal(c),
		pools:      pools,
	}
	if line.method == OtherMethod {
		line.methodOriginal = truncate(c.Request.Method, maxOriginalMethod)
	}
	if h, ok := t.Logger.Handler().(*logfmtHandler); ok && h.prefix == "" {
		_ = h.writeRequest(ctx, time.Now(), level, &line)
		return
	}
	t.Logger.LogAttrs(ctx, level, "request", line.attrs()...)
}

// maxOriginalMethod bounds how much of a non-standard method a log line or span keeps.
const maxOriginalMethod = 32

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// requestID keeps a caller's request id when it is short and printable, else makes one.
func requestID(given string) string {
	if n := len(given); n > 0 && n <= 64 && strings.IndexFunc(given, func(r rune) bool {
		return r <= ' ' || r > '~' || r == '"' || r == '\\' || r == '='
	}) < 0 {
		return given
	}
	// Unique enough to find a request's lines; not a secret, so no crypto randomness.
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], rand.Uint32())
	return hex.EncodeToString(b[:])
}
