package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"

	"github.com/articlesd/articlesd/store"
)

// Routes is the table of everything the handler serves, made once: the operations of the
// OpenAPI document, each under the Gin path made from its template (the one place the
// two forms meet), and the handler's own routes (Swagger UI, the document, metrics,
// health checks). Telemetry names requests from it (see Template) and learns who made
// them (Principal); it knows no route itself.
type Routes struct {
	doc        *openapi3.T
	operations map[string]*routers.Route // "METHOD /articles/:id" → the document's operation
	templates  map[string]routeInfo      // "/articles/:id" → "/articles/{id}"
}

type routeInfo struct {
	template string
	quiet    bool // probes and static files: not traced, logged at DEBUG
}

// ownRoutes are the handler's routes that are no operation of the document, by their Gin
// path and template. All are quiet.
var ownRoutes = []struct{ path, template string }{
	{"/", "/"},
	{"/ui/*filepath", "/ui/{filepath}"},
	{"/openapi.yaml", "/openapi.yaml"},
	{"/openapi.json", "/openapi.json"},
	{"/metrics", "/metrics"},
	{"/healthz", "/healthz"},
	{"/readyz", "/readyz"},
}

// NewRoutes reads the embedded OpenAPI document and returns the handler's route table.
func NewRoutes() (*Routes, error) {
	doc, err := LoadOpenAPI()
	if err != nil {
		return nil, err
	}
	r := &Routes{doc: doc, operations: map[string]*routers.Route{}, templates: map[string]routeInfo{}}
	for template, item := range doc.Paths.Map() {
		path := ginPath(template)
		r.templates[path] = routeInfo{template: template}
		for method, op := range item.Operations() {
			r.operations[method+" "+path] = &routers.Route{Spec: doc, Path: template, PathItem: item, Method: method, Operation: op}
		}
	}
	for _, o := range ownRoutes {
		if _, dup := r.templates[o.path]; dup {
			return nil, fmt.Errorf("route %s is both an operation of the document and the handler's own", o.path)
		}
		r.templates[o.path] = routeInfo{template: o.template, quiet: true}
	}
	return r, nil
}

// ginPath turns an OpenAPI path template (/articles/{id}) into Gin's (/articles/:id).
func ginPath(template string) string {
	parts := strings.Split(template, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			parts[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(parts, "/")
}

// Template returns the template of the route Gin matched (c.FullPath()) and whether it
// is quiet; ok is false for a path that is none of the handler's.
func (r *Routes) Template(fullPath string) (template string, quiet, ok bool) {
	info, ok := r.templates[fullPath]
	return info.template, info.quiet, ok
}

// operation returns the document's operation of a matched route, or nil.
func (r *Routes) operation(c *gin.Context) *routers.Route {
	return r.operations[c.Request.Method+" "+c.FullPath()]
}

// Principal returns the name of the API token that authenticated the request, or "".
func (r *Routes) Principal(c *gin.Context) string { return principal(c.Request.Context()) }

// Pools names the database pools that served the request (see store.PoolsUsed).
func (r *Routes) Pools(c *gin.Context) string { return store.PoolsUsed(c.Request.Context()) }

// trackPools makes the store record which of its pools serve the request.
func trackPools(c *gin.Context) {
	ctx, _ := store.WithPoolUse(c.Request.Context())
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

type principalKey struct{}

// withPrincipal records in a request's context who made it.
func withPrincipal(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, principalKey{}, name)
}

// principal returns who made a request ("" when no token was asked for).
func principal(ctx context.Context) string {
	name, _ := ctx.Value(principalKey{}).(string)
	return name
}

// paramDefault returns the default of an integer parameter of an operation.
func (r *Routes) paramDefault(operationID, name string) (int, error) {
	for _, route := range r.operations {
		if route.Operation.OperationID != operationID {
			continue
		}
		p := route.Operation.Parameters.GetByInAndName(openapi3.ParameterInQuery, name)
		if p == nil || p.Schema == nil || p.Schema.Value == nil {
			break
		}
		if d, ok := p.Schema.Value.Default.(float64); ok && d == float64(int(d)) {
			return int(d), nil
		}
		break
	}
	return 0, fmt.Errorf("openapi document: %s has no integer default for %s", operationID, name)
}
