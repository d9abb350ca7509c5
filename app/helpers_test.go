package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// contract validates every response the suite receives against embedded/openapi.yaml
// and remembers which operations and statuses it saw.
var contract struct {
	once   sync.Once
	router routers.Router
	err    error
	mu     sync.Mutex
	seen   map[string]bool // "operationId status"
}

func contractRouter(t *testing.T) routers.Router {
	t.Helper()
	contract.once.Do(func() {
		doc, err := app.LoadOpenAPI()
		if err != nil {
			contract.err = err
			return
		}
		// Match requests whatever host the test uses.
		doc.Servers = nil
		contract.router, contract.err = legacy.NewRouter(doc)
		contract.seen = map[string]bool{}
	})
	if contract.err != nil {
		t.Fatalf("contract router: %v", contract.err)
	}
	return contract.router
}

// checkContract fails the test when a response of an operation of the document does
// not match the document.
func checkContract(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	route, params, err := contractRouter(t).FindRoute(req)
	if err != nil {
		return // not an operation of the document (/ui/, /healthz, unknown routes)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  rec.Code,
		Header:  rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Errorf("%s %s → %d does not match embedded/openapi.yaml: %v\nbody: %s", req.Method, req.URL, rec.Code, err, rec.Body)
	}
	declared := route.Operation.Responses.Status(rec.Code)
	if declared == nil {
		declared = route.Operation.Responses.Default()
	}
	for name, h := range declared.Value.Headers {
		if h.Value.Required && rec.Header().Get(name) == "" {
			t.Errorf("%s %s → %d lacks the required header %s", req.Method, req.URL, rec.Code, name)
		}
	}
	contract.mu.Lock()
	contract.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, rec.Code)] = true
	contract.mu.Unlock()
}

func TestMain(m *testing.M) {
	code := storetest.Main(m)
	// After a full run, every operation must have been checked against the document
	// with its success status at least once.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && contract.seen != nil {
		doc, _ := app.LoadOpenAPI()
		var missing []string
		for _, item := range doc.Paths.Map() {
			for _, op := range item.Operations() {
				for status := range op.Responses.Map() {
					if strings.HasPrefix(status, "2") && !contract.seen[op.OperationID+" "+status] {
						missing = append(missing, op.OperationID+" "+status)
					}
				}
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			fmt.Fprintf(os.Stderr, "contract: no response checked for %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// api is the real router on a real store.
type api struct {
	t       *testing.T
	handler http.Handler
	store   *store.Store
}

func newAPI(t *testing.T, s *store.Store) *api {
	t.Helper()
	h, err := app.NewHandler(app.Options{Store: s, MaxBodyBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, handler: h, store: s}
}

// forEachAPI runs fn once per dialect, each with its own fresh database.
func forEachAPI(t *testing.T, fn func(t *testing.T, a *api)) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		fn(t, newAPI(t, s))
	})
}

// do sends a request through the router; a body is sent as application/json.
func (a *api) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	checkContract(a.t, req, rec)
	return rec
}

// create stores an article through the API and returns its id.
func (a *api) create(title, content, author string, tags ...string) string {
	a.t.Helper()
	body := map[string]any{"title": title, "content": content, "author": author}
	if tags != nil {
		body["tags"] = tags
	}
	b, _ := json.Marshal(body)
	rec := a.do("POST", "/articles", string(b))
	if rec.Code != http.StatusCreated {
		a.t.Fatalf("create %q: %d %s", title, rec.Code, rec.Body)
	}
	var out struct{ ID string }
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return out.ID
}

var timestamp = regexp.MustCompile(`"(createdAt|updatedAt)":"([^"]*)"`)

// microseconds is the one width of the API's timestamps.
var microseconds = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$`)

// normalize replaces RFC 3339 UTC timestamps in a JSON body by "<time>", after checking
// their form, so that bodies can be compared exactly.
func normalize(t *testing.T, body string) string {
	t.Helper()
	return timestamp.ReplaceAllStringFunc(body, func(m string) string {
		sub := timestamp.FindStringSubmatch(m)
		ts, err := time.Parse(time.RFC3339Nano, sub[2])
		if err != nil || !strings.HasSuffix(sub[2], "Z") || ts.Location() != time.UTC {
			t.Errorf("%s = %q is not an RFC 3339 UTC time", sub[1], sub[2])
		}
		if !microseconds.MatchString(sub[2]) {
			t.Errorf("%s = %q has not exactly six fractional digits", sub[1], sub[2])
		}
		return `"` + sub[1] + `":"<time>"`
	})
}

// assertJSON compares a JSON body with the expected JSON, ignoring formatting and key
// order, after normalising timestamps.
func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(normalize(t, got)), &g); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected body is not JSON: %v\n%s", err, want)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("body\n got: %s\nwant: %s", gb, wb)
	}
}

// assertResponse checks status, content type and (when want is not empty) the body.
func assertResponse(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body: %s", rec.Code, status, rec.Body)
	}
	ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	wantCT := "application/json"
	if status >= 400 {
		wantCT = "application/problem+json"
	}
	if ct != wantCT {
		t.Errorf("Content-Type = %q, want %q", ct, wantCT)
	}
	if want != "" {
		assertJSON(t, rec.Body.String(), want)
	}
}

func titles(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("titles: %v: %s", err, rec.Body)
	}
	return out
}

func articleTitles(t *testing.T, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	var out []app.Article
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("articles: %v: %s", err, rec.Body)
	}
	ts := make([]string, len(out))
	for i, a := range out {
		ts[i] = a.Title
	}
	return ts
}

func assertStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s\n got: %q\nwant: %q", what, got, want)
	}
}

// problem renders the expected problem document for a status.
func problem(status int, detail string, fields ...string) string {
	p := map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail}
	if len(fields) > 0 {
		var errs []map[string]string
		for i := 0; i+2 < len(fields)+1; i += 3 {
			errs = append(errs, map[string]string{"in": fields[i], "field": fields[i+1], "message": fields[i+2]})
		}
		p["errors"] = errs
	}
	b, _ := json.Marshal(p)
	return string(b)
}
