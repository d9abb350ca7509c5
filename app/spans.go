package app

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

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
