package app

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/articlesd/articlesd/store"
)

// etag renders an article version as a strong entity tag.
func etag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}

// parseIfMatch reads an If-Match header (RFC 9110 13.1.1): "*" or a list of entity tags.
// Weak tags never match, since If-Match uses the strong comparison. It returns the
// versions named, any=true for "*", or ok=false when the header is malformed.
func parseIfMatch(h string) (versions []int64, any bool, ok bool) {
	h = strings.TrimSpace(h)
	if h == "*" {
		return nil, true, true
	}
	for _, part := range strings.Split(h, ",") {
		tag := strings.TrimSpace(part)
		weak := strings.HasPrefix(tag, "W/")
		tag = strings.TrimPrefix(tag, "W/")
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.Contains(tag[1:len(tag)-1], `"`) {
			return nil, false, false
		}
		if weak {
			continue
		}
		v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64)
		if err == nil && v > 0 {
			versions = append(versions, v)
		}
	}
	return versions, false, true
}

// precondition decides which version a conditional change must find: the one If-Match
// names (one round trip: the store checks it in the same statement as the change), any
// version, or none at all: 412 when nothing in If-Match can match, 428 when If-Match is
// required but missing, 400 when it is malformed (as the Problem it returns).
func (s *Server) precondition(ctx context.Context, id int64, rawID string, ifMatch *string) (int64, error) {
	if ifMatch == nil {
		if s.requireIfMatch {
			return 0, newProblem(http.StatusPreconditionRequired,
				"this server requires If-Match: send the article's ETag from a GET to change or delete it")
		}
		return store.AnyVersion, nil
	}
	versions, any, ok := parseIfMatch(*ifMatch)
	switch {
	case !ok:
		return 0, newProblem(http.StatusBadRequest, "the request does not match the API description",
			FieldError{Field: "If-Match", In: fieldIn(Header), Message: `must be "*" or a list of entity tags such as "3"`})
	case any:
		return store.AnyVersion, nil
	case len(versions) == 0:
		return 0, versionChanged(rawID)
	case len(versions) == 1:
		return versions[0], nil
	}
	// Several tags: the one the article is at now, if listed; the store still checks it.
	a, err := s.store.GetArticle(ctx, id)
	if err != nil {
		// Not found (or unavailable): let the change itself report it.
		return versions[0], nil
	}
	for _, v := range versions {
		if v == a.Version {
			return v, nil
		}
	}
	return 0, versionChanged(rawID)
}
