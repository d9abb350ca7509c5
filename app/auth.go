package app

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Authenticator decides whether a bearer token may use the protected operations.
type Authenticator interface {
	// Authenticate returns the name of the token's owner, or ok=false for an unknown
	// token; an error means the answer could not be found (database unavailable).
	Authenticate(ctx context.Context, token string) (name string, ok bool, err error)
}

// authenticate checks the bearer token of every operation the document gives a security
// requirement (creating, updating, deleting), before anything else is read of the
// request: an anonymous client learns nothing about its body. The token's name goes into
// the request's context, for the request's log line and the created_by of an article.
func authenticate(routes *Routes, auth Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		op := routes.operation(c)
		if op == nil || op.Operation.Security == nil || len(*op.Operation.Security) == 0 {
			c.Next()
			return
		}
		scheme, token, _ := strings.Cut(c.GetHeader("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			c.Header("WWW-Authenticate", `Bearer realm="articlesd"`)
			writeProblem(c, newProblem(http.StatusUnauthorized, "this operation needs an API token: Authorization: Bearer <token>"))
			return
		}
		name, ok, err := auth.Authenticate(c.Request.Context(), token)
		if err != nil {
			writeUnavailable(c, err)
			return
		}
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="articlesd", error="invalid_token"`)
			writeProblem(c, newProblem(http.StatusUnauthorized, "the API token is not valid (unknown or revoked)"))
			return
		}
		c.Request = c.Request.WithContext(withPrincipal(c.Request.Context(), name))
		c.Next()
	}
}
