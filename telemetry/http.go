package telemetry

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Unmatched is the endpoint label of every request that matched no route, so that a scan
// of random URLs adds no series.
const Unmatched = "unmatched"

// RouteTemplate turns Gin's route (/articles/:id) into the OpenAPI template
// (/articles/{id}) used for metric labels, span names and log lines.
func RouteTemplate(ginRoute string) string {
	if ginRoute == "" {
		return Unmatched
	}
	parts := strings.Split(ginRoute, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// quiet routes are probes and static files: not traced, logged at DEBUG only.
func quiet(route string) bool {
	switch {
	case route == "/metrics", route == "/healthz", route == "/readyz", strings.HasPrefix(route, "/ui"),
		strings.HasPrefix(route, "/openapi."), route == "/":
		return true
	}
	return false
}

// Middleware returns the Gin middleware that makes each request observable, outermost
// first: the server span (continuing an incoming traceparent), then metrics and the log
// line. Responses carry X-Trace-Id and X-Request-Id.
func (t *Telemetry) Middleware() []gin.HandlerFunc {
	tracing := otelgin.Middleware("articlesd",
		otelgin.WithTracerProvider(t.TracerProvider),
		otelgin.WithPropagators(t.Propagator),
		otelgin.WithGinFilter(func(c *gin.Context) bool { return !quiet(c.FullPath()) }),
		otelgin.WithSpanNameFormatter(func(c *gin.Context) string {
			return c.Request.Method + " " + RouteTemplate(c.FullPath())
		}),
	)
	return []gin.HandlerFunc{tracing, t.observe}
}

func (t *Telemetry) observe(c *gin.Context) {
	start := time.Now()
	reqID := requestID(c.GetHeader("X-Request-Id"))
	c.Header("X-Request-Id", reqID)
	route := RouteTemplate(c.FullPath())
	span := trace.SpanFromContext(c.Request.Context())
	sc := span.SpanContext()
	if sc.IsValid() {
		c.Header("X-Trace-Id", sc.TraceID().String())
		span.SetAttributes(semconv.HTTPRoute(route))
	}

	c.Next()

	status := c.Writer.Status()
	elapsed := time.Since(start)
	if t.Metrics != nil {
		traceID := ""
		if sc.IsSampled() {
			traceID = sc.TraceID().String()
		}
		t.Metrics.ObserveRequest(c.Request.Method, route, status, elapsed, traceID)
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	case quiet(route):
		level = slog.LevelDebug
	}
	t.Logger.Log(c.Request.Context(), level, "request",
		"method", c.Request.Method,
		"route", route,
		"path", c.Request.URL.Path,
		"status", status,
		"duration_ms", float64(elapsed.Microseconds())/1000,
		"bytes", max(c.Writer.Size(), 0),
		"client_ip", c.ClientIP(),
		"request_id", reqID,
	)
}

// requestID keeps a caller's request id when it is short and printable, else makes one.
func requestID(given string) string {
	if n := len(given); n > 0 && n <= 64 && strings.IndexFunc(given, func(r rune) bool {
		return r <= ' ' || r > '~' || r == '"' || r == '\\' || r == '='
	}) < 0 {
		return given
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
