package app_test

// Fuzz targets: `go test -run XXX -fuzz FuzzCreateArticle -fuzztime 60s ./app/` (or
// FuzzSearch, FuzzIfMatch). Plain `go test ./app/` replays the f.Add seeds and the
// committed corpus in testdata/fuzz/. Each target uses one SQLite store per fuzz
// process; FuzzSearch also queries PostgreSQL when ARTICLESD_FUZZ_POSTGRES=1.

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/store/synth"
)

// fuzzHandler is the real router on a fresh store, opened once per fuzz process.
func fuzzHandler(f *testing.F, d store.Dialect) (http.Handler, *store.Store) {
	f.Helper()
	s := storetest.Open(f, d)
	h, err := app.NewHandler(app.Options{Store: s, MaxBodyBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	return h, s
}

// fuzzServe sends a request and checks what every answer must be: one of the allowed
// statuses, JSON (problem+json for errors), valid against the document.
func fuzzServe(t *testing.T, h http.Handler, req *http.Request, allowed ...int) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !slices.Contains(allowed, rec.Code) {
		t.Fatalf("%s %q: status %d, want one of %v; body: %s", req.Method, req.URL, rec.Code, allowed, rec.Body)
	}
	ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	want := "application/json"
	if rec.Code >= 400 {
		want = "application/problem+json"
	}
	if ct != want {
		t.Fatalf("status %d with Content-Type %q, want %s", rec.Code, ct, want)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("body is not JSON: %q", rec.Body)
	}
	checkContract(t, req, rec)
	return rec
}

func FuzzCreateArticle(f *testing.F) {
	const jsonCT = "application/json"
	for _, seed := range []struct{ body, ct string }{
		{`{"title":"t","content":"c","author":"a"}`, jsonCT},
		{`{"title":"  padded  ","content":" c ","author":" a ","tags":[" x ","x","y"]}`, jsonCT},
		{`{"title":"t","content":"c","author":"a","tags":[]}`, "application/json; charset=utf-8"},
		{`{"title":"t","content":"c","author":"a"}`, "application/merge-patch+json"},
		{`{"title":"t","content":"c","author":"a"}`, "text/plain"},
		{`{"title":"t","content":"c","author":"a"}`, ""},
		{`{"title":"t","content":"c","author":"a"}`, "application/json; charset="},
		{`{}`, jsonCT},
		{`[]`, jsonCT},
		{`null`, jsonCT},
		{`{"title":`, jsonCT},
		{`{"title":" ","content":"c","author":"a"}`, jsonCT},
		{"{\"title\":\"\u00a0\u2003\",\"content\":\"c\",\"author\":\"a\"}", jsonCT},
		{`{"title":"\ufeff","content":"\ufeff","author":"\ufeff"}`, jsonCT},
		{`{"title":"\u200bx\u200b","content":"\u0001","author":"a","tags":["\u3164"]}`, jsonCT},
		{`{"title":"\ud800","content":"c","author":"a"}`, jsonCT},
		{"{\"title\":\"\xff\",\"content\":\"c\",\"author\":\"a\"}", jsonCT},
		{`{"title":"a\u0000b","content":"c","author":"a"}`, jsonCT},
		{`{"title":"t","title":"u","content":"c","author":"a"}`, jsonCT},
		{`{"Title":"t","content":"c","author":"a"}`, jsonCT},
		{`{"title":"t","content":"c","author":"a","views":1}`, jsonCT},
		{`{"title":1e999,"content":"c","author":"a"}`, jsonCT},
		{`{"title":"t","content":"c","author":"a","tags":[null]}`, jsonCT},
		{`{"title":"t","content":"c","author":"a"} trailing`, jsonCT},
		{`{"title":"t","content":"c","author":"a"}{}`, jsonCT},
		{"\ufeff" + `{"title":"t","content":"c","author":"a"}`, jsonCT},
		{`{"title":"` + strings.Repeat("x", 300) + `","content":"c","author":"a"}`, jsonCT},
		{`{"title":"` + strings.Repeat("é", 301) + `","content":"c","author":"a"}`, jsonCT},
		{`{"title":"t","content":"` + strings.Repeat("x", 70<<10) + `","author":"a"}`, jsonCT},
		{strings.Repeat("[", 10000), jsonCT},
	} {
		f.Add([]byte(seed.body), seed.ct)
	}
	h, s := fuzzHandler(f, store.SQLite)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest("POST", "/articles", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", contentType)
		rec := fuzzServe(t, h, req, 201, 400, 413, 415)
		if rec.Code != 201 {
			return
		}
		var in struct {
			Title string `json:"title"`
		}
		// The first JSON value of the body, as the router reads it (it ignores what
		// follows: see TestHostileTrailingJSON).
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&in); err != nil {
			t.Fatalf("201 for a body encoding/json rejects (%v): %q", err, body)
		}
		var out app.Article
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		// The blank rule of app/text.go, stated again: what shows as nothing is trimmed.
		want := strings.TrimFunc(in.Title, func(r rune) bool {
			return unicode.Is(unicode.White_Space, r) || unicode.In(r, unicode.Cf, unicode.Cc) ||
				strings.ContainsRune("\u115F\u1160\u3164\uFFA0\u2800", r)
		})
		if out.Title != want {
			t.Fatalf("answered title %q, want the trimmed input %q", out.Title, want)
		}
		if rec.Header().Get("Location") != "/articles/"+out.Id {
			t.Fatalf("Location %q for id %s", rec.Header().Get("Location"), out.Id)
		}
		id, _ := json.Number(out.Id).Int64()
		stored, err := s.GetArticle(context.Background(), id)
		if err != nil {
			t.Fatalf("get created article %s: %v", out.Id, err)
		}
		if stored.Title != want || stored.Title == "" {
			t.Fatalf("stored title %q, want the trimmed input %q", stored.Title, want)
		}
	})
}

func FuzzSearch(f *testing.F) {
	for _, q := range []string{
		"film", "film story", `"film`, "film AND NOT story", "NEAR(film story)", "-film +story ~war",
		"film*", "title:film", "^film", `\`, "\x00", "%00", "🎬", "שלום", "'; DROP TABLE articles; --",
		"", " ", "\t\n", strings.Repeat("a", 256), strings.Repeat("a", 257), strings.Repeat("🎬", 256),
		strings.Repeat("a b ", 40), "e\u0301", "\u0130stanbul", "ǅ", "Ⅻ", "٣", "ﬁlm",
	} {
		f.Add(q)
	}
	h, s := fuzzHandler(f, store.SQLite)
	if _, err := s.SeedDemo(context.Background(), synth.Demo()); err != nil {
		f.Fatal(err)
	}
	handlers := []http.Handler{h}
	if os.Getenv("ARTICLESD_FUZZ_POSTGRES") == "1" {
		pg, ps := fuzzHandler(f, store.Postgres)
		if _, err := ps.SeedDemo(context.Background(), synth.Demo()); err != nil {
			f.Fatal(err)
		}
		handlers = append(handlers, pg)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms, _ := store.SearchTerms(q)
		if len(terms) > 16 {
			t.Fatalf("SearchTerms(%q) = %d terms, want at most 16", q, len(terms))
		}
		for _, term := range terms {
			if term == "" {
				t.Fatalf("SearchTerms(%q) has an empty term: %q", q, terms)
			}
			for _, r := range term {
				if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					t.Fatalf("SearchTerms(%q): term %q has %q, neither a letter nor a digit", q, term, r)
				}
			}
		}
		for _, h := range handlers {
			req := httptest.NewRequest("GET", "/articles/search?query="+url.QueryEscape(q), nil)
			rec := fuzzServe(t, h, req, 200, 400)
			if rec.Code == 200 {
				var found []app.Article
				if err := json.Unmarshal(rec.Body.Bytes(), &found); err != nil {
					t.Fatalf("200 body is not an array of articles: %v", err)
				}
				if len(terms) == 0 && len(found) != 0 {
					t.Fatalf("query %q has no terms but found %d articles", q, len(found))
				}
			}
		}
	})
}

func FuzzIfMatch(f *testing.F) {
	for _, h := range []string{
		`"1"`, `"2"`, `*`, ` * `, `W/"1"`, `"1", "2"`, `"999", "1"`, `"0"`, `"-1"`, `"01"`,
		`"9223372036854775807"`, `"9223372036854775808"`, `""`, `"`, `1`, ``, `,`, `"1",`, `"a"b"`,
		`W/`, `w/"1"`, `*, "1"`, strings.Repeat(`"1",`, 200), "\"1\"\x00", "\"\u00e9\"",
	} {
		f.Add(h)
	}
	h, s := fuzzHandler(f, store.SQLite)
	if _, err := s.CreateArticle(context.Background(), store.NewArticle{Title: "t", Content: "c", Author: "a"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ifMatch string) {
		req := httptest.NewRequest("PUT", "/articles/1", strings.NewReader(`{"title":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("If-Match", ifMatch)
		rec := fuzzServe(t, h, req, 200, 400, 412)
		if rec.Code == 200 && rec.Header().Get("ETag") == "" {
			t.Fatal("200 without ETag")
		}
	})
}
