package app

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// problemContentType is the media type of every error response (RFC 9457).
const problemContentType = "application/problem+json"

// newProblem builds a problem document for a status. detail is shown to the client:
// it must never carry internal error text.
func newProblem(status int, detail string, fields ...FieldError) Problem {
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status}
	if detail != "" {
		p.Detail = &detail
	}
	if len(fields) > 0 {
		p.Errors = &fields
	}
	return p
}

// writeProblem ends the request with a problem document.
func writeProblem(c *gin.Context, p Problem) {
	c.Abort()
	if c.Writer.Written() {
		// Too late to change the response; the log line records what happened.
		return
	}
	c.Header("Content-Type", problemContentType)
	c.Header("Cache-Control", "no-store")
	c.Status(p.Status)
	_ = json.NewEncoder(c.Writer).Encode(p)
}

func fieldIn(in FieldErrorIn) *FieldErrorIn { return &in }
