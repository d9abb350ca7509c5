package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/articlesd/articlesd/embedded"
)

// Options configure the HTTP handler.
type Options struct {
	Store  ArticleStore
	Logger *slog.Logger
	// Routes is the route table (default: NewRoutes). Telemetry's middleware names
	// requests from the same table.
	Routes *Routes
	// MaxBodyBytes bounds request bodies (default 1 MiB); larger ones get 413.
	MaxBodyBytes int64
	// ReadyTimeout bounds the database check behind /readyz (default 2s).
	ReadyTimeout time.Duration
	// Middleware runs first on every request (telemetry: the server span, metrics and
	// the request log line).
	Middleware []gin.HandlerFunc
	// TracerProvider makes the spans of request validation, handling and response
	// writing (default: none).
	TracerProvider trace.TracerProvider
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// OnArticleCreated, when set, is told of each article created.
	OnArticleCreated func(tags []string)
	// Auth checks the bearer token of the operations the document marks as needing one
	// (creating, updating, deleting). Nil leaves them open.
	Auth Authenticator
	// RequireIfMatch answers 428 to updates and deletes without If-Match.
	RequireIfMatch bool
	// RateLimit, when above zero, is the requests per second each client address may
	// make (with bursts of RateBurst); beyond it the answer is 429 with Retry-After.
	RateLimit float64
	RateBurst int
	// RequestTimeout bounds the work of one API request, database included (default
	// 10s): with the database away, requests fail fast with 503 instead of hanging.
	RequestTimeout time.Duration
	// StallTimeout bounds how long one write of an answer may wait for the client to
	// read (default DefaultStallTimeout; negative: no bound but WriteTimeout), so a
	// client that stops reading does not hold an answer in memory for the whole
	// WriteTimeout.
	StallTimeout time.Duration
	// WriteTimeout is the server's: no answer is written past it.
	WriteTimeout time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For or Forwarded header names the
	// client (for logs, spans and the rate limit); from others they are ignored.
	TrustedProxies []netip.Prefix
}

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// LoadOpenAPI parses and validates the embedded OpenAPI document.
func LoadOpenAPI() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(embedded.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load openapi document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate openapi document: %w", err)
	}
	return doc, nil
}

// NewHandler returns the HTTP handler of the API: the operations of the OpenAPI
// document, the document itself, Swagger UI and the health checks. Every error it
// answers is a problem document.
//
// A request goes through, in order: the security headers, telemetry
// (Options.Middleware), the rate limit, panic recovery, the response span, the request
// deadline, authentication (the operations that need it), validation against the
// document, then its handler; whatever the handler fails with goes through answerError.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("app: a store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Routes == nil {
		var err error
		if opts.Routes, err = NewRoutes(); err != nil {
			return nil, err
		}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 2 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.StallTimeout == 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = noop.NewTracerProvider()
	}
	if opts.OnArticleCreated == nil {
		opts.OnArticleCreated = func([]string) {}
	}
	tracer := opts.TracerProvider.Tracer("github.com/articlesd/articlesd/app")
	specJSON, err := json.Marshal(opts.Routes.doc)
	if err != nil {
		return nil, fmt.Errorf("render openapi document as JSON: %w", err)
	}

	// Release mode only silences Gin's start-up banner and route dump on stdout.
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Gin believes no forwarding header: the client address is the peer's, which
	// clientAddress replaces for trusted proxies only.
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("gin trusted proxies: %w", err)
	}
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusNotFound, fmt.Sprintf("no route for %s %s", c.Request.Method, c.Request.URL.Path)))
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s", c.Request.Method, c.Request.URL.Path)))
	})
	r.Use(clientAddress(opts.TrustedProxies), securityHeaders, trackPools)
	r.Use(opts.Middleware...)
	if opts.RateLimit > 0 {
		r.Use(newClientLimiter(opts.RateLimit, opts.RateBurst).middleware)
	}
	r.Use(recoverProblem(opts.Logger), responseSpan(tracer), deadline(opts.RequestTimeout))
	if opts.Auth != nil {
		r.Use(authenticate(opts.Routes, opts.Auth))
	}
	r.Use(newValidator(opts.Routes, opts.MaxBodyBytes, tracer).middleware)

	defaults, err := documentLimits(opts.Routes)
	if err != nil {
		return nil, err
	}
	server := &Server{store: opts.Store, created: opts.OnArticleCreated, requireIfMatch: opts.RequireIfMatch,
		limits: defaults, answers: writing{stall: opts.StallTimeout, writeTimeout: opts.WriteTimeout}}
	strict := NewStrictHandlerWithOptions(server, []StrictMiddlewareFunc{handlerSpan(tracer)}, StrictGinServerOptions{
		RequestErrorHandlerFunc: func(c *gin.Context, err error) {
			writeProblem(c, newProblem(http.StatusBadRequest, "the request body is not valid JSON for this operation"))
		},
		HandlerErrorFunc:         answerError(opts.Logger),
		ResponseErrorHandlerFunc: answerError(opts.Logger),
	})
	RegisterHandlersWithOptions(r, strict, GinServerOptions{
		ErrorHandler: func(c *gin.Context, err error, status int) {
			writeProblem(c, newProblem(status, err.Error()))
		},
	})

	h := &Handler{next: r}
	uiFiles := embedded.SwaggerUI()
	ui := http.StripPrefix("/ui", http.FileServerFS(uiFiles))
	own := map[string]gin.HandlerFunc{
		"/": func(c *gin.Context) { c.Redirect(http.StatusFound, "/ui/") },
		"/ui/*filepath": func(c *gin.Context) {
			name := strings.TrimPrefix(c.Param("filepath"), "/")
			if name == "" {
				name = "index.html"
			}
			if _, err := fs.Stat(uiFiles, name); err != nil {
				writeProblem(c, newProblem(http.StatusNotFound, fmt.Sprintf("no file %s in the Swagger UI", c.Param("filepath"))))
				return
			}
			ui.ServeHTTP(c.Writer, c.Request)
		},
		"/openapi.yaml": func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml; charset=utf-8", embedded.OpenAPI()) },
		"/openapi.json": func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", specJSON) },
		"/healthz":      func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) },
		"/readyz":       h.readiness(opts.Store, opts.ReadyTimeout, opts.Logger),
	}
	if opts.Metrics != nil {
		own["/metrics"] = gin.WrapH(opts.Metrics)
	}
	for _, o := range ownRoutes {
		if handle, ok := own[o.path]; ok {
			r.GET(o.path, handle)
		}
	}
	return h, nil
}

// readiness answers /readyz: 200 while the store can serve, 503 with the reason while
// it cannot, or once the server drains.
func (h *Handler) readiness(st ArticleStore, timeout time.Duration, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if h.draining.Load() {
			writeProblem(c, newProblem(http.StatusServiceUnavailable, "shutting down"))
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
		defer cancel()
		if err := st.Ready(ctx); err != nil {
			log.WarnContext(ctx, "readiness check failed", "err", err)
			c.Header("Retry-After", "5")
			writeProblem(c, newProblem(http.StatusServiceUnavailable, unavailableDetail(err, true)))
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}

// uiPolicy lets Swagger UI load only the binary's own assets and talk only to this
// server (inline style attributes are how Swagger UI lays itself out).
const uiPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// apiPolicy: API answers are data, never documents to render.
const apiPolicy = "default-src 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if p := c.Request.URL.Path; p == "/ui" || strings.HasPrefix(p, "/ui/") {
		h.Set("Content-Security-Policy", uiPolicy)
		h.Set("X-Frame-Options", "DENY")
	} else {
		h.Set("Content-Security-Policy", apiPolicy)
	}
	c.Next()
}

// deadline bounds each request's context, which every database call takes.
func deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// recoverProblem turns a panic into a 500 problem document and a log line with the
// panic value; the client sees no stack trace.
func recoverProblem(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				log.ErrorContext(c.Request.Context(), "panic serving request", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", fmt.Sprint(v))
				writeProblem(c, newProblem(http.StatusInternalServerError, "the server could not complete the request"))
			}
		}()
		c.Next()
	}
}
