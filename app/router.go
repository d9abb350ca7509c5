package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/articlesd/articlesd/embedded"
	"github.com/articlesd/articlesd/store"
)

// Options configure the HTTP handler.
type Options struct {
	Store  ArticleStore
	Logger *slog.Logger
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
	// StallTimeout bounds how long one write of a large article may wait for the client
	// to read (default DefaultStallTimeout; negative: no bound but WriteTimeout), so a
	// client that stops reading does not hold the article in memory for the whole
	// WriteTimeout.
	StallTimeout time.Duration
	// WriteTimeout is the server's: no answer is written past it.
	WriteTimeout time.Duration
}

// Authenticator decides whether a bearer token may use the protected operations.
type Authenticator interface {
	// Authenticate returns the name of the token's owner, or ok=false for an unknown
	// token; an error means the answer could not be found (database unavailable).
	Authenticate(ctx context.Context, token string) (name string, ok bool, err error)
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
func NewHandler(opts Options) (http.Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("app: a store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
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
	doc, err := LoadOpenAPI()
	if err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("render openapi document as JSON: %w", err)
	}

	// Release mode only silences Gin's start-up banner and route dump on stdout.
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Handlers receive *gin.Context as their context.Context; with the fallback it
	// carries the request's context (deadline, cancellation, trace) down to the store.
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	// The client address is the peer's: X-Forwarded-For from anyone would let a client
	// choose the address it is logged (and, later, rate limited) under.
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("gin trusted proxies: %w", err)
	}
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusNotFound, fmt.Sprintf("no route for %s %s", c.Request.Method, c.Request.URL.Path)))
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s", c.Request.Method, c.Request.URL.Path)))
	})
	r.Use(securityHeaders)
	r.Use(opts.Middleware...)
	if opts.RateLimit > 0 {
		r.Use(newClientLimiter(opts.RateLimit, opts.RateBurst).middleware)
	}
	r.Use(recoverProblem(opts.Logger), responseSpan(tracer))

	v := newValidator(doc, opts.MaxBodyBytes, tracer)
	v.auth = opts.Auth
	r.Use(deadline(opts.RequestTimeout), v.middleware)

	server := &Server{store: opts.Store, created: opts.OnArticleCreated, requireIfMatch: opts.RequireIfMatch,
		answers: writing{stall: opts.StallTimeout, writeTimeout: opts.WriteTimeout}}
	strict := NewStrictHandlerWithOptions(server, []StrictMiddlewareFunc{handlerSpan(tracer)}, StrictGinServerOptions{
		RequestErrorHandlerFunc: func(c *gin.Context, err error) {
			writeProblem(c, newProblem(http.StatusBadRequest, "the request body is not valid JSON for this operation"))
		},
		HandlerErrorFunc:         internalError(opts.Logger),
		ResponseErrorHandlerFunc: internalError(opts.Logger),
	})
	RegisterHandlersWithOptions(r, strict, GinServerOptions{
		ErrorHandler: func(c *gin.Context, err error, status int) {
			writeProblem(c, newProblem(status, err.Error()))
		},
	})

	r.GET("/openapi.yaml", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml; charset=utf-8", embedded.OpenAPI())
	})
	r.GET("/openapi.json", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json; charset=utf-8", specJSON)
	})
	uiFiles := embedded.SwaggerUI()
	ui := http.StripPrefix("/ui", http.FileServerFS(uiFiles))
	r.GET("/ui/*filepath", func(c *gin.Context) {
		name := strings.TrimPrefix(c.Param("filepath"), "/")
		if name == "" {
			name = "index.html"
		}
		if _, err := fs.Stat(uiFiles, name); err != nil {
			writeProblem(c, newProblem(http.StatusNotFound, fmt.Sprintf("no file %s in the Swagger UI", c.Param("filepath"))))
			return
		}
		ui.ServeHTTP(c.Writer, c.Request)
	})
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/ui/") })
	if opts.Metrics != nil {
		r.GET("/metrics", gin.WrapH(opts.Metrics))
	}
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), opts.ReadyTimeout)
		defer cancel()
		if err := opts.Store.Ready(ctx); err != nil {
			opts.Logger.WarnContext(c, "readiness check failed", "err", err)
			c.Header("Retry-After", "5")
			detail := "the database does not answer"
			switch {
			case errors.Is(err, store.ErrStorageFull):
				detail = "the database cannot write: its storage is full"
			case errors.Is(err, store.ErrSchema):
				detail = "the database schema is older than this server needs: run articlesd migrate up"
			}
			writeProblem(c, newProblem(http.StatusServiceUnavailable, detail))
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	return r, nil
}

// internalError answers 500 without saying anything internal; the log says it all.
func internalError(log *slog.Logger) func(c *gin.Context, err error) {
	return func(c *gin.Context, err error) {
		var p Problem
		if errors.As(err, &p) {
			writeProblem(c, p)
			return
		}
		if c.Writer.Written() && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
			// The answer was under way and the client stopped reading it (see
			// Options.StallTimeout) or went away: the connection is closed, and one line
			// per such client at INFO is all the log needs.
			log.InfoContext(c, "client did not read the answer; connection dropped", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
			return
		}
		if errors.Is(err, context.Canceled) && c.Request.Context().Err() == context.Canceled {
			// The client went away; nobody reads this response.
			log.InfoContext(c, "request canceled by the client", "method", c.Request.Method, "path", c.Request.URL.Path)
			writeProblem(c, newProblem(499, "the client closed the request"))
			return
		}
		if errors.Is(err, store.ErrUnavailable) {
			msg := "database unavailable"
			if errors.Is(err, store.ErrSchema) {
				msg = "database schema missing: migrations not applied, or reverted while serving"
			}
			log.ErrorContext(c, msg, "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
			detail := "the database is unavailable; try again in a few seconds"
			switch {
			case errors.Is(err, store.ErrStorageFull):
				detail = "the database cannot write: its storage is full; nothing was changed, try again later"
			case errors.Is(err, store.ErrSchema):
				detail = "the database schema is older than this server needs; try again once it is migrated"
			}
			c.Header("Retry-After", "5")
			writeProblem(c, newProblem(http.StatusServiceUnavailable, detail))
			return
		}
		log.ErrorContext(c, "request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		writeProblem(c, newProblem(http.StatusInternalServerError, "the server could not complete the request"))
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

// unavailable answers 503: the database is away; the client may retry shortly.
func unavailable(c *gin.Context) {
	c.Header("Retry-After", "5")
	writeProblem(c, newProblem(http.StatusServiceUnavailable, "the database is unavailable; try again in a few seconds"))
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
				log.ErrorContext(c, "panic serving request", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", fmt.Sprint(v))
				writeProblem(c, newProblem(http.StatusInternalServerError, "the server could not complete the request"))
			}
		}()
		c.Next()
	}
}

// handlerSpan wraps each operation's handler in a span named after the operation, the
// parent of its database spans. Requests whose trace is not sampled get no child spans:
// they would be dropped anyway, and making them costs allocations on every request.
func handlerSpan(tracer trace.Tracer) StrictMiddlewareFunc {
	return func(f StrictHandlerFunc, operationID string) StrictHandlerFunc {
		return func(c *gin.Context, req any) (any, error) {
			parent := c.Request
			if !trace.SpanFromContext(parent.Context()).IsRecording() {
				return f(c, req)
			}
			ctx, span := tracer.Start(parent.Context(), "handle "+operationID)
			defer span.End()
			c.Request = parent.WithContext(ctx)
			defer func() { c.Request = parent }()
			resp, err := f(c, req)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "handler failed")
			}
			return resp, err
		}
	}
}

// responseSpan times the writing of the response body (JSON encoding included) in a
// "write response" span, from the first byte to the end of the handler.
func responseSpan(tracer trace.Tracer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !trace.SpanFromContext(c.Request.Context()).IsRecording() {
			c.Next()
			return
		}
		w := &spanWriter{ResponseWriter: c.Writer, ctx: c.Request.Context(), tracer: tracer}
		c.Writer = w
		c.Next()
		if w.span != nil {
			w.span.End()
		}
	}
}

type spanWriter struct {
	gin.ResponseWriter
	ctx    context.Context
	tracer trace.Tracer
	span   trace.Span
}

// Unwrap lets http.ResponseController reach the connection (write deadlines).
func (w *spanWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *spanWriter) start() {
	if w.span == nil {
		_, w.span = w.tracer.Start(w.ctx, "write response")
	}
}

func (w *spanWriter) WriteHeader(code int) { w.start(); w.ResponseWriter.WriteHeader(code) }

func (w *spanWriter) Write(b []byte) (int, error) { w.start(); return w.ResponseWriter.Write(b) }

func (w *spanWriter) WriteString(s string) (int, error) {
	w.start()
	return w.ResponseWriter.WriteString(s)
}
