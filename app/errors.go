package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/articlesd/articlesd/store"
)

// Handlers answer every failure by returning an error; answerError, the one mapping,
// turns it into the problem document the client gets, and the log line gets what the
// client must not (an internal error's text).

// Error makes a Problem an error that a handler can return: it is written as it is.
func (p Problem) Error() string {
	if p.Detail != nil {
		return p.Title + ": " + *p.Detail
	}
	return p.Title
}

// articleError is a failure about one article, with its id as the client wrote it.
type articleError struct {
	id  string
	err error
}

func (e articleError) Error() string {
	return fmt.Sprintf("article %s: %v", strconv.Quote(e.id), e.err)
}
func (e articleError) Unwrap() error { return e.err }

// articleErr says that err happened to the article the client called id (nil stays nil).
func articleErr(id string, err error) error {
	if err == nil {
		return nil
	}
	return articleError{id: id, err: err}
}

// notFound is what a client is told of an article that does not exist.
func notFound(id string) Problem {
	return newProblem(http.StatusNotFound, fmt.Sprintf("article %s not found", strconv.Quote(id)))
}

// versionChanged is what a client is told when its If-Match no longer holds.
func versionChanged(id string) Problem {
	return newProblem(http.StatusPreconditionFailed,
		fmt.Sprintf("article %s has changed since the version named in If-Match: GET it again and retry", strconv.Quote(id)))
}

// answerError writes the problem document of a handler's error (or the error of writing
// its answer), and logs what the client is not told.
func answerError(log *slog.Logger) func(c *gin.Context, err error) {
	return func(c *gin.Context, err error) {
		var p Problem
		var ae articleError
		switch {
		case errors.As(err, &p):
			writeProblem(c, p)
		case errors.As(err, &ae) && errors.Is(err, store.ErrNotFound):
			writeProblem(c, notFound(ae.id))
		case errors.As(err, &ae) && errors.Is(err, store.ErrVersionMismatch):
			writeProblem(c, versionChanged(ae.id))
		case c.Writer.Written() && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)):
			// The answer was under way and the client stopped reading it (see
			// Options.StallTimeout) or went away: the connection is closed, and one line
			// per such client at INFO is all the log needs.
			log.InfoContext(c.Request.Context(), "client did not read the answer; connection dropped", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		case errors.Is(err, context.Canceled) && c.Request.Context().Err() == context.Canceled:
			// The client went away; nobody reads this response.
			log.InfoContext(c.Request.Context(), "request canceled by the client", "method", c.Request.Method, "path", c.Request.URL.Path)
			writeProblem(c, newProblem(499, "the client closed the request"))
		case errors.Is(err, store.ErrUnavailable):
			msg := "database unavailable"
			if errors.Is(err, store.ErrSchema) {
				msg = "database schema missing: migrations not applied, or reverted while serving"
			}
			log.ErrorContext(c.Request.Context(), msg, "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
			writeUnavailable(c, err)
		default:
			log.ErrorContext(c.Request.Context(), "request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
			writeProblem(c, newProblem(http.StatusInternalServerError, "the server could not complete the request"))
		}
	}
}

// writeUnavailable answers 503 with Retry-After for an error of store.ErrUnavailable:
// the client may retry shortly, and is told why it cannot now.
func writeUnavailable(c *gin.Context, err error) {
	c.Header("Retry-After", "5")
	writeProblem(c, newProblem(http.StatusServiceUnavailable, unavailableDetail(err, false)))
}

// unavailableDetail says why the database cannot serve: to a client of the API, or to
// whoever asks /readyz (an operator, a balancer), who can mend it.
func unavailableDetail(err error, readiness bool) string {
	var refused *store.RefusedError
	switch {
	case errors.As(err, &refused) && readiness:
		return "the database does not answer: " + refused.Error()
	case errors.Is(err, store.ErrStorageFull) && readiness:
		return "the database cannot write: its storage is full"
	case errors.Is(err, store.ErrStorageFull):
		return "the database cannot write: its storage is full; nothing was changed, try again later"
	case errors.Is(err, store.ErrSchema) && readiness:
		return "the database schema is older than this server needs: run articlesd migrate up"
	case errors.Is(err, store.ErrSchema):
		return "the database schema is older than this server needs; try again once it is migrated"
	case readiness:
		return "the database does not answer"
	}
	return "the database is unavailable; try again in a few seconds"
}
