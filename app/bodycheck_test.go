package app

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace/noop"
)

// TestBodyCheckAgrees sends bodies to the validator twice, once with the compiled body
// checks and once without (the document's validator alone), and requires the same answer
// every time: the checks may only make valid bodies cheaper. The bodies are the create and
// update bodies of the API's tests, every edge of their schemas (lengths at and past the
// limits, blank text, wrong types, unknown or misspelt fields, null) and 20,000 random
// mutations of them.
func TestBodyCheckAgrees(t *testing.T) {
	routes, err := NewRoutes()
	if err != nil {
		t.Fatal(err)
	}
	fast := newValidator(routes, 1<<20, noop.NewTracerProvider().Tracer(""))
	slow := newValidator(routes, 1<<20, noop.NewTracerProvider().Tracer(""))
	slow.bodyChecks = nil
	create := routes.operations["POST /articles"]
	if create == nil || fast.bodyChecks[create.Operation] == nil {
		t.Fatal("POST /articles has no compiled body check")
	}

	valid := map[string]any{"title": "T", "content": "C", "author": "A", "tags": []any{"x", "y"}}
	edges := []any{
		nil, "", "text", 1.5, true, []any{}, map[string]any{},
		strings.Repeat("a", 300), strings.Repeat("a", 301), strings.Repeat("é", 300), strings.Repeat("é", 301),
		strings.Repeat("😀", 150), strings.Repeat("😀", 301), strings.Repeat("a", 200), strings.Repeat("a", 201),
		strings.Repeat("a", 64), strings.Repeat("a", 65), " ", "\t\n", "\u00a0", "\u200b", "\u3000x", " a ", "\v",
		[]any{"a"}, []any{""}, []any{" "}, []any{1.0}, []any{nil}, []any{[]any{}}, make20("t"), make21("t"),
		[]any{strings.Repeat("a", 64)}, []any{strings.Repeat("a", 65)}, []any{"a", "a"},
		map[string]any{"nested": "x"},
	}
	fields := []string{"title", "content", "author", "tags", "Title", "id", "views", "createdAt", "extra", ""}

	var bodies [][]byte
	add := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	add(valid)
	for _, f := range fields {
		for _, e := range edges {
			m := maps.Clone(valid)
			m[f] = e
			add(m)
		}
		m := maps.Clone(valid)
		delete(m, f)
		add(m)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		// Mostly one or two fields off a valid body, so that many are valid and the
		// others fail in one place or two.
		m := maps.Clone(valid)
		for range 1 + rng.IntN(2) {
			f := fields[rng.IntN(len(fields))]
			if rng.IntN(5) == 0 {
				delete(m, f)
			} else {
				m[f] = edges[rng.IntN(len(edges))]
			}
		}
		add(m)
	}
	raw := []string{`null`, `[]`, `"x"`, `{"title":"a","title":"b","content":"c","author":"d"}`,
		`{"title":"","title":"b","content":"c","author":"d"}`, `{"title":"b","content":"c","author":"d","tags":null}`}
	for _, r := range raw {
		bodies = append(bodies, []byte(r))
	}

	accepted := 0
	for _, b := range bodies {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/merge-patch+json"} {
			pf, badF := runCheck(fast, create, b, ct)
			ps, badS := runCheck(slow, create, b, ct)
			if badF != badS || !reflect.DeepEqual(pf, ps) {
				t.Fatalf("body %s (%s): with the compiled check %v %+v, without %v %+v", b, ct, badF, pf, badS, ps)
			}
			if !badF {
				accepted++
			}
		}
	}
	t.Logf("%d bodies, %d accepted, every answer the same with and without the compiled check", len(bodies), accepted)
	if accepted < 100 {
		t.Errorf("only %d valid bodies: the test does not exercise the fast path", accepted)
	}
}

func runCheck(v *validator, route *routers.Route, body []byte, contentType string) (Problem, bool) {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	req := httptest.NewRequest(http.MethodPost, "/articles", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer x")
	c.Request = req
	return v.check(c, route)
}

func make20(s string) []any {
	out := make([]any, 20)
	for i := range out {
		out[i] = s + strings.Repeat("x", i)
	}
	return out
}

func make21(s string) []any { return append(make20(s), s+"!") }

// BenchmarkValidateCreate measures the validation of a typical create body, with the
// compiled check (fast) and with the document's validator alone (slow).
func BenchmarkValidateCreate(b *testing.B) {
	routes, err := NewRoutes()
	if err != nil {
		b.Fatal(err)
	}
	create := routes.operations["POST /articles"]
	body, _ := json.Marshal(map[string]any{
		"title": "Cinematography in Blade Runner", "content": strings.Repeat("Smoke, neon and rain. ", 40),
		"author": "Ridley Scott", "tags": []string{"sci-fi", "cinematography"},
	})
	for _, name := range []string{"fast", "slow"} {
		v := newValidator(routes, 1<<20, noop.NewTracerProvider().Tracer(""))
		if name == "slow" {
			v.bodyChecks = nil
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p, bad := runCheck(v, create, body, "application/json"); bad {
					b.Fatal(p)
				}
			}
		})
	}
}

// TestPathCheckAgrees does for the operations whose only input is their path what
// TestBodyCheckAgrees does for bodies: the same answer with the compiled path checks as
// with the document's validator alone, for ids of every shape.
func TestPathCheckAgrees(t *testing.T) {
	routes, err := NewRoutes()
	if err != nil {
		t.Fatal(err)
	}
	fast := newValidator(routes, 1<<20, noop.NewTracerProvider().Tracer(""))
	slow := newValidator(routes, 1<<20, noop.NewTracerProvider().Tracer(""))
	slow.pathChecks = nil
	get := routes.operations["GET /articles/:id"]
	if get == nil || fast.pathChecks[get.Operation] == nil {
		t.Fatalf("GET /articles/{id} has no compiled path check (%d operations have one)", len(fast.pathChecks))
	}
	for key, route := range routes.operations {
		if _, ok := fast.pathChecks[route.Operation]; !ok {
			continue
		}
		method, _, _ := strings.Cut(key, " ")
		for _, id := range []string{"1", "42", "0", "-1", "abc", "1.5", "999999999999999999999", "é", " ", "%20", strings.Repeat("9", 300)} {
			run := func(v *validator) (Problem, bool) {
				c, _ := gin.CreateTestContext(httptest.NewRecorder())
				c.Request = httptest.NewRequest(method, "/articles/x", nil)
				c.Params = gin.Params{{Key: "id", Value: id}}
				return v.check(c, route)
			}
			pf, badF := run(fast)
			ps, badS := run(slow)
			if badF != badS || !reflect.DeepEqual(pf, ps) {
				t.Errorf("%s with id %q: compiled %v %+v, document %v %+v", key, id, badF, pf, badS, ps)
			}
		}
	}
	for key, route := range routes.operations {
		op := route.Operation
		if _, ok := fast.pathChecks[op]; ok && (op.RequestBody != nil || len(op.Parameters) != 1) {
			t.Errorf("%s has a compiled path check but more inputs than its path", key)
		}
	}
}
