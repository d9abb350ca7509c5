package app

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/articlesd/articlesd/store/storetest"
)

// TestRouteTableIsWhatIsServed: every route the handler registers is in the route table
// (which telemetry names requests from), with the document's template for its
// operations, and nothing in the table is served by no route.
func TestRouteTableIsWhatIsServed(t *testing.T) {
	routes, err := NewRoutes()
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Options{Store: storetest.Open(t, "sqlite"), Routes: routes, Metrics: gin.New()})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range h.next.(*gin.Engine).Routes() {
		served[r.Path] = true
		if _, _, ok := routes.Template(r.Path); !ok {
			t.Errorf("%s %s is served but not in the route table", r.Method, r.Path)
		}
		if op := routes.operations[r.Method+" "+r.Path]; op != nil && ginPath(op.Path) != r.Path {
			t.Errorf("%s %s serves the operation of %s", r.Method, r.Path, op.Path)
		}
	}
	for path := range routes.templates {
		if !served[path] {
			t.Errorf("%s is in the route table but served by no route", path)
		}
	}
	if tmpl, quiet, _ := routes.Template("/articles/:id"); tmpl != "/articles/{id}" || quiet {
		t.Errorf("/articles/:id is named %q (quiet %v), want /articles/{id}", tmpl, quiet)
	}
	if _, quiet, _ := routes.Template("/readyz"); !quiet {
		t.Error("/readyz is not quiet")
	}
}
