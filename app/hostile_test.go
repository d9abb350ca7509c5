package app_test

// Hostile input: oversized bodies and headers, broken encodings, search operators,
// security headers, leaks of internal text, rate limiting and authentication. Every
// response that goes through the in-process router is checked against the OpenAPI
// document (checkContract); the few answers that come from net/http itself (431) are
// said to be so.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/store/synth"
)

// hostileSend serves one prepared request through a handler and checks the answer
// against the document.
func hostileSend(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkContract(t, req, rec)
	return rec
}

// hostileServer serves h over TCP the way cmd/serve.go does (64 KiB of headers at most).
func hostileServer(t *testing.T, h http.Handler, readTimeout time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config = &http.Server{Handler: h, MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: readTimeout}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func hostileNewHandler(t *testing.T, opts app.Options) http.Handler {
	t.Helper()
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	h, err := app.NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// unsized hides a reader's length so that the request has no Content-Length (a client
// would send it chunked).
type unsized struct{ r io.Reader }

func (u unsized) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestHostileBodySize(t *testing.T) {
	big := `{"title":"t","content":"` + strings.Repeat("x", 70<<10) + `","author":"a"}`
	forEachAPI(t, func(t *testing.T, a *api) {
		t.Run("chunked over the limit", func(t *testing.T) {
			req := httptest.NewRequest("POST", "/articles", unsized{strings.NewReader(big)})
			req.Header.Set("Content-Type", "application/json")
			if req.ContentLength != -1 {
				t.Fatalf("ContentLength = %d, want -1 (unknown)", req.ContentLength)
			}
			rec := hostileSend(t, a.handler, req)
			assertResponse(t, rec, 413, problem(413, "the request body is larger than 65536 bytes"))
		})
		t.Run("chunked under the limit", func(t *testing.T) {
			req := httptest.NewRequest("POST", "/articles", unsized{strings.NewReader(`{"title":"chunked","content":"c","author":"a"}`)})
			req.Header.Set("Content-Type", "application/json")
			assertResponse(t, hostileSend(t, a.handler, req), 201, "")
		})
		t.Run("huge Content-Length, small body", func(t *testing.T) {
			// The declared length is not trusted either way: the body is what is read.
			req := httptest.NewRequest("POST", "/articles", strings.NewReader(`{"title":"liar","content":"c","author":"a"}`))
			req.Header.Set("Content-Type", "application/json")
			req.ContentLength = 1 << 40
			req.Header.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
			done := make(chan *httptest.ResponseRecorder, 1)
			go func() {
				rec := httptest.NewRecorder()
				a.handler.ServeHTTP(rec, req)
				done <- rec
			}()
			select {
			case rec := <-done:
				// Declared over the limit: refused at once, before any body is read.
				checkContract(t, req, rec)
				assertResponse(t, rec, 413, problem(413, "the request body is larger than 65536 bytes"))
			case <-time.After(5 * time.Second):
				t.Fatal("a request declaring 1 TiB with a small body hangs")
			}
		})
	})
}

// TestHostileBodySizeOverTCP sends oversized and lying bodies through a real server.
func TestHostileBodySizeOverTCP(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	srv := hostileServer(t, hostileNewHandler(t, app.Options{Store: s}), 2*time.Second)

	t.Run("chunked over the limit", func(t *testing.T) {
		body := unsized{io.MultiReader(strings.NewReader(`{"title":"t","content":"`), strings.NewReader(strings.Repeat("x", 200<<10)), strings.NewReader(`","author":"a"}`))}
		resp, err := http.Post(srv.URL+"/articles", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if len(resp.TransferEncoding) != 0 || resp.StatusCode != 413 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("chunked 200 KiB body: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})

	// rawPost writes a request declaring a gigabyte, then only a small body.
	rawPost := func(t *testing.T, halfClose bool) (status int, elapsed time.Duration) {
		t.Helper()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		fmt.Fprintf(conn, "POST /articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n%s",
			`{"title":"t","content":"c","author":"a"}`)
		if halfClose {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		elapsed = time.Since(start)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("no answer after %v: the server hangs on a lying Content-Length", elapsed)
			}
			return 0, elapsed // connection closed without an answer
		}
		resp.Body.Close()
		t.Logf("answer %d after %v", resp.StatusCode, elapsed)
		return resp.StatusCode, elapsed
	}
	t.Run("huge Content-Length, client stops sending", func(t *testing.T) {
		status, elapsed := rawPost(t, true)
		// Declared over the limit: 413 at once, whatever the client sends.
		if status != 413 || elapsed > time.Second {
			t.Errorf("answer %d after %v, want 413 at once", status, elapsed)
		}
	})
	t.Run("huge Content-Length, client stalls", func(t *testing.T) {
		// A client that declares too much and then stalls is not waited for either.
		status, elapsed := rawPost(t, false)
		if status != 413 || elapsed > time.Second {
			t.Errorf("answer %d after %v, want 413 at once", status, elapsed)
		}
	})
}

// TestHostileHeaderSize: header limits are net/http's (http.Server.MaxHeaderBytes, as
// cmd/serve.go sets it); its 431 is plain text, not a problem document, and carries
// none of the router's headers: the request never reaches the router.
func TestHostileHeaderSize(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	srv := hostileServer(t, hostileNewHandler(t, app.Options{Store: s}), 5*time.Second)
	type answer struct {
		StatusCode int
		Header     http.Header
		body       []byte
	}
	get := func(t *testing.T, size int) answer {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/articles", nil)
		req.Header.Set("X-Padding", strings.Repeat("a", size))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%d-byte header: %v", size, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header, b}
	}
	resp := get(t, 100<<10)
	body := resp.body
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB header: %d %s, want 431", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || resp.Header.Get("X-Content-Type-Options") != "" {
		t.Errorf("431 from net/http: Content-Type %q, nosniff %q (expected plain text without the router's headers)", ct, resp.Header.Get("X-Content-Type-Options"))
	}
	// Just under the limit, the router answers.
	resp = get(t, 60<<10)
	if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("60 KiB header: %d, nosniff %q", resp.StatusCode, resp.Header.Get("X-Content-Type-Options"))
	}
}

func TestHostileEncoding(t *testing.T) {
	const notUTF8 = "the request body is not valid UTF-8"
	queryNotUTF8 := func(field string) string {
		return problem(400, "the query string is not valid UTF-8", "query", field, "must be valid UTF-8")
	}
	body := func(title string) string { return `{"title":"` + title + `","content":"c","author":"a"}` }
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"invalid byte in title", "POST", "/articles", body("\xff"), 400, problem(400, notUTF8)},
		{"invalid byte in a key", "POST", "/articles", "{\"ti\xfftle\":\"t\",\"content\":\"c\",\"author\":\"a\"}", 400, problem(400, notUTF8)},
		{"truncated sequence", "POST", "/articles", body("caf\xc3"), 400, problem(400, notUTF8)},
		{"overlong slash", "POST", "/articles", body("\xc0\xaf"), 400, problem(400, notUTF8)},
		{"overlong NUL", "POST", "/articles", body("\xc0\x80"), 400, problem(400, notUTF8)},
		{"encoded surrogate", "POST", "/articles", body("\xed\xa0\x80"), 400, problem(400, notUTF8)},
		{"beyond U+10FFFF", "POST", "/articles", body("\xf4\x90\x80\x80"), 400, problem(400, notUTF8)},
		{"invalid update", "PUT", "/articles/1", "{\"content\":\"\xfe\"}", 400, problem(400, notUTF8)},
		{"query value", "GET", "/articles?author=%ff", "", 400, queryNotUTF8("author")},
		{"overlong in query", "GET", "/articles?tag=%c0%af", "", 400, queryNotUTF8("tag")},
		{"query name", "GET", "/articles?%ff=1", "", 400, queryNotUTF8("\uFFFD")},
		{"search query", "GET", "/articles/search?query=%ed%a0%80", "", 400, queryNotUTF8("query")},
		{"popular tag", "GET", "/articles/popular?tag=x%80", "", 400, queryNotUTF8("tag")},
		{"id byte", "GET", "/articles/%ff", "", 404, problem(404, `article "\xff" not found`)},
		{"id overlong", "DELETE", "/articles/%c0%af", "", 404, problem(404, `article "\xc0\xaf" not found`)},
		{"id NUL", "GET", "/articles/%00", "", 404, problem(404, `article "\x00" not found`)},
		{"id digit then byte", "PUT", "/articles/1%ff", `{"title":"x"}`, 404, problem(404, `article "1\xff" not found`)},
		{"id fullwidth digit", "GET", "/articles/%EF%BC%91", "", 404, problem(404, `article "１" not found`)},
	}
	// Lone surrogate escapes are valid JSON text; they are stored as U+FFFD, the way
	// encoding/json decodes them, on both databases.
	surrogates := []struct{ in, stored string }{
		{`\ud800`, "\uFFFD"},
		{`x\udfffy`, "x\uFFFDy"},
		{`\udc00\ud800`, "\uFFFD\uFFFD"},
		{`\ud83d\ude00 pair`, "😀 pair"},
		{`RTL \u202eoverride`, "RTL \u202eoverride"},
		{`\u202eRTL override`, "RTL override"}, // a format character at an end is trimmed (app/text.go)
	}
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("t", "c", "a")
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				assertResponse(t, a.do(tt.method, tt.path, tt.body), tt.status, tt.want)
			})
		}
		for _, s := range surrogates {
			t.Run("escape "+s.in, func(t *testing.T) {
				rec := a.do("POST", "/articles", body(s.in))
				assertResponse(t, rec, 201, "")
				var created app.Article
				_ = json.Unmarshal(rec.Body.Bytes(), &created)
				var read app.Article
				_ = json.Unmarshal(a.do("GET", "/articles/"+created.Id, "").Body.Bytes(), &read)
				if created.Title != s.stored || read.Title != s.stored {
					t.Errorf("title %s: created %q, read back %q, want %q", s.in, created.Title, read.Title, s.stored)
				}
			})
		}
		n, _ := a.store.CountArticles(context.Background())
		if want := int64(1 + len(surrogates)); n != want {
			t.Errorf("articles stored = %d, want %d (nothing rejected may be stored)", n, want)
		}
	})
}

// TestHostileNUL: a NUL character is valid JSON ("\u0000") and valid in a query string
// (%00), but PostgreSQL text cannot hold it. Both databases refuse it alike with 400,
// naming the field.
func TestHostileNUL(t *testing.T) {
	const invalid = "the request does not match the API description"
	const queryNUL = "the query string contains a NUL character"
	tests := []struct{ name, method, path, body, want string }{
		{"title", "POST", "/articles", `{"title":"a\u0000b","content":"c","author":"a"}`, problem(400, invalid, "body", "title", "must not contain the NUL character")},
		{"tag", "POST", "/articles", `{"title":"t","content":"c","author":"a","tags":["x\u0000"]}`, problem(400, invalid, "body", "tags.0", "must not contain the NUL character")},
		{"update", "PUT", "/articles/1", `{"content":"\u0000c"}`, problem(400, invalid, "body", "content", "must not contain the NUL character")},
		{"author filter", "GET", "/articles?author=a%00b", "", problem(400, queryNUL, "query", "author", "must not contain the NUL character")},
		{"tag filter", "GET", "/articles?tag=a%00b", "", problem(400, queryNUL, "query", "tag", "must not contain the NUL character")},
		{"popular tag filter", "GET", "/articles/popular?tag=%00", "", problem(400, queryNUL, "query", "tag", "must not contain the NUL character")},
		{"search", "GET", "/articles/search?query=%00alien", "", problem(400, queryNUL, "query", "query", "must not contain the NUL character")},
	}
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("t", "c", "a")
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				assertResponse(t, a.do(tt.method, tt.path, tt.body), 400, tt.want)
			})
		}
		if n, _ := a.store.CountArticles(t.Context()); n != 1 {
			t.Errorf("%d articles stored, want 1", n)
		}
		got, _ := a.store.GetArticle(t.Context(), 1)
		if got.Content != "c" {
			t.Errorf("the refused update changed the article: %+v", got)
		}
	})
}

// seedSynthetic stores n generated articles.
func seedSynthetic(t *testing.T, s *store.Store, n int) {
	t.Helper()
	g := synth.NewGenerator(42, 365, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	batch := make([]store.NewArticle, n)
	for i := range batch {
		batch[i] = g.Next()
	}
	if err := s.InsertArticles(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func TestHostileSearch(t *testing.T) {
	const invalid = "the request does not match the API description"
	tooLong := problem(400, invalid, "query", "query", "must be at most 256 characters long")
	blank := problem(400, invalid, "query", "query", "must not be blank")
	words := strings.TrimSpace(strings.Repeat("film ", 52))[:256]
	tests := []struct {
		name, query string
		status      int
		want        string
	}{
		{"double quotes", `"film story"`, 200, ""},
		{"unbalanced quote", `"film`, 200, ""},
		{"only quotes", `""""`, 200, "[]"},
		{"single quotes", `'film' ''`, 200, ""},
		{"AND", "film AND story", 200, ""},
		{"OR", "film OR story", 200, ""},
		{"NOT", "film NOT story", 200, ""},
		{"bare operators", "AND OR NOT NEAR", 200, ""},
		{"minus", "-film", 200, ""},
		{"plus", "+film +story", 200, ""},
		{"tilde", "~film", 200, ""},
		{"star", "film*", 200, ""},
		{"only star", "*", 200, "[]"},
		{"column filter", "title:film", 200, ""},
		{"caret", "^film", 200, ""},
		{"parentheses", "(film OR (story AND NOT war))", 200, ""},
		{"unbalanced parenthesis", "((film", 200, ""},
		{"NEAR", "NEAR(film story, 2)", 200, ""},
		{"tsquery syntax", "film & !story | war <-> love:*", 200, ""},
		{"backslash", `\`, 200, "[]"},
		{"backslashes", `film\\\" \'`, 200, ""},
		{"regex", `.*[a-z]+$`, 200, ""},
		{"like wildcards", "%_%", 200, "[]"},
		{"NUL", "\x00", 400, `{"type":"about:blank","title":"Bad Request","status":400,"detail":"the query string contains a NUL character","errors":[{"field":"query","in":"query","message":"must not contain the NUL character"}]}`},
		{"NUL in a word", "fi\x00lm", 400, ""},
		{"control characters", "\x01\x1bfilm\x7f", 200, ""},
		{"emoji", "🎬🍿 film", 200, ""},
		{"only emoji", "🎬", 200, "[]"},
		{"Hebrew", "שלום עולם", 200, "[]"},
		{"Arabic", "مرحبا بالعالم", 200, "[]"},
		{"RTL override", "\u202efilm\u202c", 200, ""},
		{"zero-width", "\u200bfilm\ufeff", 200, ""},
		{"combining marks", "e\u0301\u0301\u0301", 200, "[]"},
		{"SQL drop", "'; DROP TABLE articles; --", 200, ""},
		{"SQL union", "x' UNION SELECT * FROM api_tokens --", 200, ""},
		{"SQL tautology", "' OR '1'='1", 200, ""},
		{"SQL comment", "film/**/OR/**/1=1", 200, ""},
		{"stop words only", "the and of", 200, ""},
		{"256 letters", strings.Repeat("a", 256), 200, "[]"},
		{"256 characters of words", words, 200, ""},
		{"256 emoji", strings.Repeat("🎬", 256), 200, "[]"},
		{"256 distinct words", strings.Repeat("ka lo mi ", 29)[:256], 200, ""},
		{"257 letters", strings.Repeat("a", 257), 400, tooLong},
		{"257 emoji", strings.Repeat("🎬", 257), 400, tooLong},
		{"blank", " \t\n", 400, blank},
		{"empty", "", 400, problem(400, invalid, "query", "query", "must not be empty")},
	}
	forEachAPI(t, func(t *testing.T, a *api) {
		seedSynthetic(t, a.store, 2000)
		// The seed makes common words findable: the hostile queries run against a real index.
		if got := articleTitles(t, a.do("GET", "/articles/search?query=film", "")); len(got) == 0 {
			t.Fatal("no article found for film: the synthetic seed is not searchable")
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				start := time.Now()
				rec := a.do("GET", "/articles/search?query="+url.QueryEscape(tt.query)+"&limit=100", "")
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("search %q took %v (bound 2s)", tt.query, d)
				}
				assertResponse(t, rec, tt.status, tt.want)
				if tt.status == 200 {
					articleTitles(t, rec) // an array of articles
				}
			})
		}
	})
}

func TestHostileSecurityHeaders(t *testing.T) {
	const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	const apiCSP = "default-src 'none'; frame-ancestors 'none'"
	tests := []struct {
		method, path, body string
		status             int
		csp                string
	}{
		{"GET", "/articles/1", "", 200, apiCSP},
		{"GET", "/articles/999", "", 404, apiCSP},
		{"GET", "/articles", "", 200, apiCSP},
		{"GET", "/articles/search?query=%ff", "", 400, apiCSP},
		{"POST", "/articles", `{}`, 400, apiCSP},
		{"POST", "/articles", `{"title":"t","content":"` + strings.Repeat("x", 70<<10) + `","author":"a"}`, 413, apiCSP},
		{"PATCH", "/articles/1", "", 405, apiCSP},
		{"GET", "/nope", "", 404, apiCSP},
		{"GET", "/metrics", "", 404, apiCSP}, // no Metrics handler configured
		{"GET", "/openapi.yaml", "", 200, apiCSP},
		{"GET", "/openapi.json", "", 200, apiCSP},
		{"GET", "/healthz", "", 200, apiCSP},
		{"GET", "/readyz", "", 200, apiCSP},
		{"GET", "/", "", 302, apiCSP},
		{"GET", "/ui/", "", 200, uiCSP},
		{"GET", "/ui/swagger-ui-bundle.js", "", 200, uiCSP},
		{"GET", "/ui/nope.js", "", 404, uiCSP},
	}
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("t", "c", "a")
		for _, tt := range tests {
			t.Run(tt.method+" "+tt.path[:min(len(tt.path), 40)], func(t *testing.T) {
				rec := a.do(tt.method, tt.path, tt.body)
				if rec.Code != tt.status {
					t.Errorf("status %d, want %d", rec.Code, tt.status)
				}
				h := rec.Header()
				if h.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("X-Content-Type-Options = %q", h.Get("X-Content-Type-Options"))
				}
				if h.Get("Referrer-Policy") != "no-referrer" {
					t.Errorf("Referrer-Policy = %q", h.Get("Referrer-Policy"))
				}
				if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != tt.csp {
					t.Errorf("Content-Security-Policy = %q, want %q", got, tt.csp)
				}
				if tt.csp == uiCSP && h.Get("X-Frame-Options") != "DENY" {
					t.Errorf("X-Frame-Options = %q, want DENY", h.Get("X-Frame-Options"))
				}
				if tt.status >= 400 && h.Get("Content-Type") != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", h.Get("Content-Type"))
				}
			})
		}
	})
	// The rate limiter's 429 and the authenticator's 401 pass through securityHeaders too.
	s := storetest.Open(t, store.SQLite)
	h := hostileNewHandler(t, app.Options{Store: s, RateLimit: 1, RateBurst: 1, Auth: hostileTokens{}})
	for _, want := range []int{401, 429} {
		req := httptest.NewRequest("POST", "/articles", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		rec := hostileSend(t, h, req)
		if rec.Code != want || rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Content-Security-Policy") != apiCSP {
			t.Errorf("%d (want %d): nosniff %q, CSP %q", rec.Code, want, rec.Header().Get("X-Content-Type-Options"), rec.Header().Get("Content-Security-Policy"))
		}
	}
}

// internalWords must never reach a client.
var internalWords = []string{"sql", "gorm", "select", "relation", "sqlite", "goroutine", ".go:", "pgx", "sqlstate", "panic"}

func assertNoInternalText(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	body := strings.ToLower(rec.Body.String())
	for _, w := range internalWords {
		if strings.Contains(body, w) {
			t.Errorf("response body contains %q: %s", w, rec.Body)
		}
	}
	for name, vs := range rec.Header() {
		for _, v := range vs {
			for _, w := range internalWords {
				if strings.Contains(strings.ToLower(v), w) {
					t.Errorf("header %s: %q contains %q", name, v, w)
				}
			}
		}
	}
}

// leakyStore fails with internal text in its errors and panics.
type leakyStore struct{ *store.Store }

const leakText = `gorm: ERROR: relation "articles" does not exist (SQLSTATE 42P01): SELECT * FROM "articles" [sqlite store/articles.go:250] goroutine 7 [running]`

func (leakyStore) ListTitles(context.Context, store.ListFilter) ([]string, store.Count, error) {
	return nil, store.Count{}, errors.New(leakText)
}

func (leakyStore) Find(context.Context, string, int, int) (store.SearchResult, error) {
	panic(leakText)
}

func (leakyStore) Popular(context.Context, store.ListFilter) ([]store.Article, error) {
	panic(errors.New(leakText))
}

func (leakyStore) CreateArticle(context.Context, store.NewArticle) (store.Article, error) {
	return store.Article{}, fmt.Errorf("create: %w: %s", store.ErrUnavailable, leakText)
}

func TestHostileNoInternalText(t *testing.T) {
	requests := []struct{ method, path, body string }{
		{"GET", "/articles", ""},
		{"GET", "/articles/1", ""},
		{"GET", "/articles/search?query=film", ""},
		{"GET", "/articles/popular", ""},
		{"POST", "/articles", `{"title":"t","content":"c","author":"a"}`},
		{"PUT", "/articles/1", `{"title":"x"}`},
		{"PUT", "/articles/1", `{"title":"x"}`},
		{"DELETE", "/articles/1", ""},
		{"GET", "/readyz", ""},
	}
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("t", "c", "a")
		_ = a.store.Close()
		for _, r := range requests {
			rec := a.do(r.method, r.path, r.body)
			if rec.Code != 500 && rec.Code != 503 {
				t.Errorf("%s %s on a closed store: %d, want 500 or 503", r.method, r.path, rec.Code)
			}
			if rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s: Content-Type %q", r.method, r.path, rec.Header().Get("Content-Type"))
			}
			assertNoInternalText(t, rec)
		}
	})
	t.Run("errors and panics with internal text", func(t *testing.T) {
		s := storetest.Open(t, store.SQLite)
		a := &api{t: t, handler: hostileNewHandler(t, app.Options{Store: leakyStore{s}}), store: s}
		for _, c := range []struct {
			path   string
			status int
		}{
			{"/articles", 500},
			{"/articles/search?query=film", 500},
			{"/articles/popular", 500},
		} {
			rec := a.do("GET", c.path, "")
			assertResponse(t, rec, c.status, problem(c.status, "the server could not complete the request"))
			assertNoInternalText(t, rec)
		}
		rec := a.do("POST", "/articles", `{"title":"t","content":"c","author":"a"}`)
		assertResponse(t, rec, 503, problem(503, "the database is unavailable; try again in a few seconds"))
		assertNoInternalText(t, rec)
	})
}

func TestHostileRateLimit(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	h := hostileNewHandler(t, app.Options{Store: s, RateLimit: 2, RateBurst: 3})
	get := func(remote string, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("GET", "/articles", nil)
		req.RemoteAddr = remote
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return hostileSend(t, h, req)
	}
	const limited = "192.0.2.10:4000"
	for i := range 3 {
		if rec := get(limited); rec.Code != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := get(limited)
	assertResponse(t, rec, 429, problem(429, "too many requests from this client; retry after the time in Retry-After"))
	retry, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || retry < 1 {
		t.Fatalf("Retry-After = %q, want a whole number of seconds >= 1", rec.Header().Get("Retry-After"))
	}
	// Another port of the same address is the same client.
	assertResponse(t, get("192.0.2.10:4001"), 429, "")
	// Proxy headers are not trusted: they do not make another client.
	for _, hdr := range [][]string{
		{"X-Forwarded-For", "10.9.9.9"},
		{"X-Real-IP", "10.9.9.9"},
		{"X-Forwarded-For", "10.9.9.9, 192.0.2.99"},
		{"Forwarded", "for=10.9.9.9"},
		{"True-Client-IP", "10.9.9.9"},
		{"CF-Connecting-IP", "10.9.9.9"},
	} {
		if rec := get(limited, hdr...); rec.Code != 429 {
			t.Errorf("%s: %s from the limited address: %d, want 429", hdr[0], hdr[1], rec.Code)
		}
	}
	// Other addresses have their own budget, IPv6 included.
	for _, other := range []string{"192.0.2.11:4000", "[2001:db8::1]:4000"} {
		if rec := get(other); rec.Code != 200 {
			t.Errorf("another client %s: %d, want 200", other, rec.Code)
		}
	}
	time.Sleep(time.Duration(retry) * time.Second)
	if rec := get(limited); rec.Code != 200 {
		t.Errorf("after waiting Retry-After (%ds): %d %s", retry, rec.Code, rec.Body)
	}
}

// hostileTokens authenticates the tokens it maps to their owner's name.
type hostileTokens map[string]string

func (m hostileTokens) Authenticate(_ context.Context, token string) (string, bool, error) {
	name, ok := m[token]
	return name, ok, nil
}

// brokenAuth cannot check tokens (its database is away).
type brokenAuth struct{}

func (brokenAuth) Authenticate(context.Context, string) (string, bool, error) {
	return "", false, errors.New("token table unavailable: SELECT FROM api_tokens")
}

func TestHostileAuth(t *testing.T) {
	const good = "s3cret-token"
	const (
		noToken  = `Bearer realm="articlesd"`
		badToken = `Bearer realm="articlesd", error="invalid_token"`
	)
	needToken := problem(401, "this operation needs an API token: Authorization: Bearer <token>")
	invalidToken := problem(401, "the API token is not valid (unknown or revoked)")
	forEachAPI(t, func(t *testing.T, base *api) {
		seed := base.create("seeded", "c", "a") // through the open handler
		a := &api{t: t, handler: hostileNewHandler(t, app.Options{Store: base.store, Auth: hostileTokens{good: "tester"}}), store: base.store}
		writes := []struct{ method, path, body string }{
			{"POST", "/articles", `{"title":"t","content":"c","author":"a"}`},
			{"PUT", "/articles/" + seed, `{"title":"x"}`},
			{"DELETE", "/articles/" + seed, ""},
			// Authentication comes first: a bad body or id tells an anonymous client nothing.
			{"POST", "/articles", `{`},
			{"PUT", "/articles/abc", `{"title":"x"}`},
		}
		auths := []struct {
			name, header, challenge, want string
		}{
			{"no Authorization", "", noToken, needToken},
			{"Basic", "Basic dXNlcjpwYXNz", noToken, needToken},
			{"Bearer without token", "Bearer ", noToken, needToken},
			{"token without scheme", good, noToken, needToken},
			{"wrong token", "Bearer wrong", badToken, invalidToken},
			{"token with a suffix", "Bearer " + good + "x", badToken, invalidToken},
			{"token of another case", "Bearer " + strings.ToUpper(good), badToken, invalidToken},
		}
		for _, w := range writes {
			for _, au := range auths {
				t.Run(w.method+" "+w.path+" "+au.name, func(t *testing.T) {
					var hdr []string
					if au.header != "" {
						hdr = []string{"Authorization", au.header}
					}
					rec := a.do(w.method, w.path, w.body, hdr...)
					assertResponse(t, rec, 401, au.want)
					if got := rec.Header().Get("WWW-Authenticate"); got != au.challenge {
						t.Errorf("WWW-Authenticate = %q, want %q", got, au.challenge)
					}
				})
			}
		}
		if n, _ := a.store.CountArticles(context.Background()); n != 1 {
			t.Fatalf("articles after refused writes = %d, want 1", n)
		}
		// Reads need no token.
		for _, path := range []string{"/articles", "/articles/" + seed, "/articles/search?query=seeded", "/articles/popular"} {
			assertResponse(t, a.do("GET", path, ""), 200, "")
		}
		// A good token writes; the scheme is case-insensitive.
		auth := "Bearer " + good
		rec := a.do("POST", "/articles", `{"title":"t","content":"c","author":"a"}`, "Authorization", "bearer "+good)
		assertResponse(t, rec, 201, "")
		assertResponse(t, a.do("PUT", "/articles/"+seed, `{"title":"x"}`, "Authorization", auth), 200, "")
		assertResponse(t, a.do("DELETE", "/articles/"+seed, "", "Authorization", auth), 200, "")
		// With a good token, the request is validated as usual.
		assertResponse(t, a.do("POST", "/articles", `{`, "Authorization", auth), 400, "")

		// An authenticator that cannot answer: 503, and nothing internal.
		broken := &api{t: t, handler: hostileNewHandler(t, app.Options{Store: base.store, Auth: brokenAuth{}}), store: base.store}
		rec = broken.do("POST", "/articles", `{"title":"t","content":"c","author":"a"}`, "Authorization", auth)
		assertResponse(t, rec, 503, problem(503, "the database is unavailable; try again in a few seconds"))
		if rec.Header().Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		assertNoInternalText(t, rec)
		// Without a token the broken authenticator is never asked.
		assertResponse(t, broken.do("DELETE", "/articles/1", ""), 401, needToken)
		assertResponse(t, broken.do("GET", "/articles", ""), 200, "")
	})
}

// TestHostileTrailingJSON: a body is one JSON value. Text after it is malformed JSON,
// yet the router reads the first value and ignores the rest.
func TestHostileTrailingJSON(t *testing.T) {
	const ok = `{"title":"t","content":"c","author":"a"}`
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("t", "c", "a")
		for _, tt := range []struct{ name, method, path, body string }{
			{"text after the object", "POST", "/articles", ok + " trailing"},
			{"second object", "POST", "/articles", ok + `{"title":"u"}`},
			{"closing bracket", "POST", "/articles", ok + "]"},
			{"update with a second object", "PUT", "/articles/1", `{"title":"x"}{"title":"y"}`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				assertResponse(t, a.do(tt.method, tt.path, tt.body), 400,
					problem(400, "the request does not match the API description", "body", "", "malformed JSON: data after the JSON value"))
			})
		}
		// Trailing white space is fine.
		assertResponse(t, a.do("POST", "/articles", ok+" \n\t "), 201, "")
	})
}
