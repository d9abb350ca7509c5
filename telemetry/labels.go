package telemetry

import (
	"strconv"
	"sync"
)

// Every label value of every metric comes from a closed set: a request's method, route
// and status are chosen by the client, and a series per value the client invents would
// grow the registry (and each scrape) without bound.

// OtherMethod is the method label of every request whose method is not a standard one.
const OtherMethod = "other"

// standardMethods are the methods of RFC 9110 and RFC 5789 (PATCH): the closed set of
// method labels, besides OtherMethod.
var standardMethods = map[string]string{
	"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "DELETE": "DELETE",
	"CONNECT": "CONNECT", "OPTIONS": "OPTIONS", "TRACE": "TRACE", "PATCH": "PATCH",
}

// MethodLabel returns the label of an HTTP method: the method itself when it is a
// standard one (methods are case-sensitive: "get" is not GET), else OtherMethod.
func MethodLabel(method string) string {
	if m, ok := standardMethods[method]; ok {
		return m
	}
	return OtherMethod
}

// statusCodes holds the label value of every status code from 100 to 599, so that
// labelling a request allocates nothing.
var statusCodes = func() (codes [600]string) {
	for i := 100; i < len(codes); i++ {
		codes[i] = strconv.Itoa(i)
	}
	return codes
}()

// statusLabel returns the label of a status code; anything outside 100-599 (which no
// handler here writes) is "other".
func statusLabel(status int) string {
	if status >= 100 && status < len(statusCodes) {
		return statusCodes[status]
	}
	return "other"
}

// maxProductTypes bounds the product_type label. Its values are the first tags of
// created articles, which writers choose freely: the first maxProductTypes distinct ones
// this process sees get a series each, later ones share OtherProductType.
const maxProductTypes = 100

// OtherProductType is the product_type of articles whose first tag came after
// maxProductTypes others.
const OtherProductType = "other"

// boundedLabels admits label values first come, first served, up to a limit.
type boundedLabels struct {
	mu    sync.Mutex
	seen  map[string]struct{}
	limit int
	other string
}

func newBoundedLabels(limit int, other string) *boundedLabels {
	return &boundedLabels{seen: make(map[string]struct{}, limit), limit: limit, other: other}
}

// label returns v when it is admitted (already, or now while there is room), else the
// catch-all value.
func (b *boundedLabels) label(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) < b.limit {
		b.seen[v] = struct{}{}
		return v
	}
	return b.other
}
