package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/articlesd/articlesd/embedded"
)

// Options configure the HTTP handler.
type Options struct {
	Store  ArticleStore
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies (default 1 MiB); larger ones get 413.
	MaxBodyBytes int64
	// ReadyTimeout bounds the database check behind /readyz (default 2s).
	ReadyTimeout time.Duration
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
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusNotFound, fmt.Sprintf("no route for %s %s", c.Request.Method, c.Request.URL.Path)))
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s", c.Request.Method, c.Request.URL.Path)))
	})
	r.Use(accessLog(opts.Logger), recoverProblem(opts.Logger))

	v := newValidator(doc, opts.MaxBodyBytes)
	r.Use(v.middleware)

	strict := NewStrictHandlerWithOptions(NewServer(opts.Store), nil, StrictGinServerOptions{
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
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), opts.ReadyTimeout)
		defer cancel()
		if err := opts.Store.Ping(ctx); err != nil {
			opts.Logger.WarnContext(c, "readiness check failed", "err", err)
			writeProblem(c, newProblem(http.StatusServiceUnavailable, "the database does not answer"))
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	return r, nil
}

// internalError answers 500 without saying anything internal; the log says it all.
func internalError(log *slog.Logger) func(c *gin.Context, err error) {
	return func(c *gin.Context, err error) {
		if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
			// The client went away; nobody reads this response.
			log.InfoContext(c, "request canceled by the client", "method", c.Request.Method, "path", c.Request.URL.Path)
			writeProblem(c, newProblem(499, "the client closed the request"))
			return
		}
		log.ErrorContext(c, "request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		writeProblem(c, newProblem(http.StatusInternalServerError, "the server could not complete the request"))
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
				log.ErrorContext(c, "panic serving request", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", fmt.Sprint(v))
				writeProblem(c, newProblem(http.StatusInternalServerError, "the server could not complete the request"))
			}
		}()
		c.Next()
	}
}

// accessLog writes one line per request.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case status >= 400:
			level = slog.LevelWarn
		}
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		} else {
			route = OpenAPIPath(route)
		}
		log.Log(c, level, "request",
			"method", c.Request.Method,
			"route", route,
			"path", c.Request.URL.Path,
			"status", status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"bytes", max(c.Writer.Size(), 0),
			"client_ip", c.ClientIP(),
		)
	}
}
