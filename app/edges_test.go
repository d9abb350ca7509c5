package app_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
)

// TestPagingBounded: every listing pages at most 10,000 deep (the document's maximum);
// deeper offsets are refused before any database work.
func TestPagingBounded(t *testing.T) {
	const invalid = "the request does not match the API description"
	forEachAPI(t, func(t *testing.T, a *api) {
		for _, path := range []string{"/articles", "/articles/popular", "/articles/search?query=x&"} {
			sep := "?"
			if path[len(path)-1] == '&' {
				sep = ""
			}
			assertResponse(t, a.do("GET", path+sep+"offset=10001", ""), 400, problem(400, invalid, "query", "offset", "must be at most 10000"))
			assertResponse(t, a.do("GET", path+sep+"offset=1000000000", ""), 400, problem(400, invalid, "query", "offset", "must be at most 10000"))
			if !strings.HasPrefix(path, "/articles/search") {
				assertResponse(t, a.do("GET", path+sep+"offset=10000", ""), 200, "[]")
			}
		}
		// A search ranks store.SearchDeepest results deep.
		assertResponse(t, a.do("GET", "/articles/search?query=x&offset=480&limit=20", ""), 200, "[]")
		assertResponse(t, a.do("GET", "/articles/search?query=x&offset=481&limit=20", ""), 400,
			problem(400, invalid, "query", "offset", "offset + limit must be at most 500 for a search: its results are ranked that deep"))
		assertResponse(t, a.do("GET", "/articles/search?query=x&offset=10000", ""), 400,
			problem(400, invalid, "query", "offset", "offset + limit must be at most 500 for a search: its results are ranked that deep"))
	})
}

// TestDatesAtTheEdge: every date the document accepts is a real filter, including
// 0001-01-01 (Go's zero time); a year 0 is refused, never a 500.
func TestDatesAtTheEdge(t *testing.T) {
	const invalid = "the request does not match the API description"
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("Today", "c", "a", "x")
		first := time.Date(1, 1, 1, 12, 0, 0, 0, time.UTC)
		last := time.Date(9999, 12, 31, 12, 0, 0, 0, time.UTC)
		if err := a.store.InsertArticles(context.Background(), []store.NewArticle{
			{Title: "First day", Content: "c", Author: "a", Tags: []string{"x"}, CreatedAt: first},
			{Title: "Last day", Content: "c", Author: "a", Tags: []string{"x"}, CreatedAt: last},
		}); err != nil {
			t.Fatal(err)
		}
		if err := a.store.RefreshPopular(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			query string
			want  []string
		}{
			{"date=0001-01-01", []string{"First day"}},
			{"date=0001-01-01&tag=x", []string{"First day"}},
			{"date=0001-01-02", []string{}},
			{"date=9999-12-31", []string{"Last day"}},
			{"date=9999-12-31&tag=x", []string{"Last day"}},
		} {
			rec := a.do("GET", "/articles?"+tt.query, "")
			assertResponse(t, rec, 200, "")
			assertStrings(t, "titles of "+tt.query, titles(t, rec), tt.want)
			rec = a.do("GET", "/articles/popular?"+tt.query, "")
			assertResponse(t, rec, 200, "")
			assertStrings(t, "popular of "+tt.query, articleTitles(t, rec), tt.want)
		}
		for _, path := range []string{"/articles?date=0000-01-01", "/articles/popular?date=0000-12-31", "/articles/popular?date=0000-01-01&tag=x"} {
			assertResponse(t, a.do("GET", path, ""), 400, problem(400, invalid, "query", "date", "must be a date from 0001-01-01 to 9999-12-31"))
		}
	})
}

// TestQueryReadWhole: a query string is read whole and alike by the validator and the
// handler, or refused: no filter is silently dropped.
func TestQueryReadWhole(t *testing.T) {
	const invalid = "the request does not match the API description"
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("Tagged", "c", "a", "q")
		a.create("Other", "c", "a")
		many := "tag=q&" + strings.Repeat("a&", 9997) + "a" // 9,999 parameters: Go reads up to 10,000
		assertResponse(t, a.do("GET", "/articles?"+many, ""), 400, problem(400, "the query string has 9999 parameters; at most 64 are read"))
		assertResponse(t, a.do("GET", "/articles?"+strings.Repeat("a&", 20000)+"tag=q", ""), 400, problem(400, "the query string has 20001 parameters; at most 64 are read"))
		rec := a.do("GET", "/articles?tag=q&"+strings.Repeat("a&", 62)+"a", "") // 64: read, and the filter kept
		assertResponse(t, rec, 200, `["Tagged"]`)
		if got := rec.Header().Get("X-Total-Count"); got != "1" {
			t.Errorf("X-Total-Count = %q, want 1", got)
		}
		assertResponse(t, a.do("GET", "/articles?tag=q&tag=x", ""), 400, problem(400, invalid, "query", "tag", "must be given once"))
		assertResponse(t, a.do("GET", "/articles/popular?limit=1&limit=100", ""), 400, problem(400, invalid, "query", "limit", "must be given once"))
		assertResponse(t, a.do("GET", "/articles/search?query=tagged&query=other", ""), 400, problem(400, invalid, "query", "query", "must be given once"))
		// Defaults stay the handler's: the query string is not rewritten.
		rec = a.do("GET", "/articles", "")
		assertResponse(t, rec, 200, `["Other","Tagged"]`)
	})
}

// TestBlankIsUnicode: one rule for blank text (Unicode white space, format, control and
// filler characters), for every text field and the search query, on both databases.
func TestBlankIsUnicode(t *testing.T) {
	const invalid = "the request does not match the API description"
	forEachAPI(t, func(t *testing.T, a *api) {
		id := a.create("Kept", "text", "someone", "x")
		for _, tt := range []struct {
			name, method, path, body, want string
		}{
			{"byte order marks", "POST", "/articles", `{"title":"\ufeff","content":"\ufeff","author":"\ufeff"}`,
				problem(400, "the article is not valid", "body", "title", "must not be blank", "body", "content", "must not be blank", "body", "author", "must not be blank")},
			{"no-break and ideographic spaces", "POST", "/articles", `{"title":"\u00a0\u3000","content":"c","author":"a"}`,
				problem(400, "the article is not valid", "body", "title", "must not be blank")},
			{"zero-width space and joiner", "POST", "/articles", `{"title":"t","content":"\u200b\u200d\u2060","author":"a"}`,
				problem(400, "the article is not valid", "body", "content", "must not be blank")},
			{"control characters", "POST", "/articles", `{"title":"\u0001\u0007\u001b","content":"c","author":"a"}`,
				problem(400, "the article is not valid", "body", "title", "must not be blank")},
			{"fillers", "POST", "/articles", `{"title":"t","content":"c","author":"\u3164\u2800"}`,
				problem(400, "the article is not valid", "body", "author", "must not be blank")},
			{"blank tag", "POST", "/articles", `{"title":"t","content":"c","author":"a","tags":["ok","\u00a0"]}`,
				problem(400, "the article is not valid", "body", "tags.1", "must not be blank")},
			{"update to a blank tag", "PUT", "/articles/" + id, `{"tags":["\u00a0"]}`,
				problem(400, "the update is not valid", "body", "tags.0", "must not be blank")},
			{"update to a blank title", "PUT", "/articles/" + id, `{"title":"\ufeff\u200b"}`,
				problem(400, "the update is not valid", "body", "title", "must not be blank")},
		} {
			t.Run(tt.name, func(t *testing.T) {
				assertResponse(t, a.do(tt.method, tt.path, tt.body), 400, tt.want)
			})
		}
		for _, q := range []string{"%EF%BB%BF", "%E2%80%8B", "%C2%A0", "%E3%80%80%01"} {
			assertResponse(t, a.do("GET", "/articles/search?query="+q, ""), 400, problem(400, invalid, "query", "query", "must not be blank"))
		}
		// Blank characters around text are trimmed like spaces; inside they stay.
		rec := a.do("POST", "/articles", `{"title":"\ufeff\u200bTitle\u00a0of it\u3000","content":"c","author":"a","tags":["\u200bx\u00a0"]}`)
		assertResponse(t, rec, 201, `{"id":"2","title":"Title\u00a0of it","content":"c","author":"a","tags":["x"],"views":0,"createdAt":"<time>","updatedAt":"<time>"}`)
		// Nothing blank was stored, and the first article kept its tag.
		assertResponse(t, a.do("GET", "/articles/"+id, ""), 200, `{"id":"1","title":"Kept","content":"text","author":"someone","tags":["x"],"views":1,"createdAt":"<time>","updatedAt":"<time>"}`)
		if n, _ := a.store.CountArticles(context.Background()); n != 2 {
			t.Errorf("articles stored = %d, want 2", n)
		}
	})
}

// TestStopWordsAlike: a search means the same on both databases: English stop words are
// left out of the query on both (PostgreSQL's configuration drops them from its index;
// the embedded database indexes them), and the answer says which were.
func TestStopWordsAlike(t *testing.T) {
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("The film of the year", "It is the best.", "someone")
		a.create("A year in film", "Quiet.", "another")
		for _, tt := range []struct {
			query, ignored string
			want           []string
		}{
			{"the", "the", []string{}},
			{"THE of and", "the, of, and", []string{}},
			{"the film", "the", []string{"A year in film", "The film of the year"}},
			{"film", "", []string{"A year in film", "The film of the year"}},
			{"best", "", []string{"The film of the year"}},
		} {
			rec := a.do("GET", "/articles/search?query="+url.QueryEscape(tt.query), "")
			assertResponse(t, rec, 200, "")
			got := articleTitles(t, rec)
			slices.Sort(got)
			assertStrings(t, "search "+tt.query, got, tt.want)
			if h := rec.Header().Get("X-Search-Ignored"); h != tt.ignored {
				t.Errorf("search %q: X-Search-Ignored = %q, want %q", tt.query, h, tt.ignored)
			}
		}
	})
}

// TestPutWhatWasRead: a client that sends back the article it read, changed where it
// means to, is understood; read-only fields that try to change something are refused.
func TestPutWhatWasRead(t *testing.T) {
	forEachAPI(t, func(t *testing.T, a *api) {
		id := a.create("Old title", "text", "Ann", "x")
		a.create("Other", "text", "Bob")
		read := a.do("GET", "/articles/"+id, "").Body.String()
		edit := func(field string, value any) string {
			var m map[string]any
			if err := json.Unmarshal([]byte(read), &m); err != nil {
				t.Fatal(err)
			}
			m["title"] = "New title"
			if field != "" {
				m[field] = value
			}
			b, _ := json.Marshal(m)
			return string(b)
		}
		const notValid = "the update is not valid"
		assertResponse(t, a.do("PUT", "/articles/"+id, edit("id", "2")), 400, problem(400, notValid, "body", "id", `must be "1", the id of the path`))
		assertResponse(t, a.do("PUT", "/articles/"+id, edit("author", "Bob")), 400, problem(400, notValid, "body", "author", "cannot be changed"))
		assertResponse(t, a.do("PUT", "/articles/"+id, edit("createdAt", "2001-01-01T00:00:00.000000Z")), 400, problem(400, notValid, "body", "createdAt", "cannot be changed"))
		assertResponse(t, a.do("PUT", "/articles/"+id, edit("colour", "red")), 400, problem(400, "the request does not match the API description", "body", "colour", "is not a field of this object"))
		assertResponse(t, a.do("PUT", "/articles/"+id, `{"id":"1","views":3,"updatedAt":"2001-01-01T00:00:00Z"}`), 400, problem(400, notValid, "body", "", "must name at least one field to change"))
		// Sent back as read (views and updatedAt stale, which the server keeps): 200.
		rec := a.do("PUT", "/articles/"+id, edit("views", 1000))
		assertResponse(t, rec, 200, `{"id":"1","title":"New title","content":"text","author":"Ann","tags":["x"],"views":1,"createdAt":"<time>","updatedAt":"<time>"}`)
		rec = a.do("PUT", "/articles/"+id, edit("updatedAt", "2001-01-01T00:00:00Z"))
		assertResponse(t, rec, 200, `{"id":"1","title":"New title","content":"text","author":"Ann","tags":["x"],"views":1,"createdAt":"<time>","updatedAt":"<time>"}`)
		assertResponse(t, a.do("PUT", "/articles/9", `{"id":"9","author":"Ann","title":"x"}`), 404, problem(404, `article "9" not found`))
	})
}

// TestIdempotencyKey: a create retried with its Idempotency-Key gets the first answer,
// and nothing is stored twice; the key with another article is 422.
func TestIdempotencyKey(t *testing.T) {
	forEachAPI(t, func(t *testing.T, a *api) {
		body := `{"title":"Once","content":"c","author":"a","tags":["x"]}`
		first := a.do("POST", "/articles", body, "Idempotency-Key", "key-1")
		assertResponse(t, first, 201, `{"id":"1","title":"Once","content":"c","author":"a","tags":["x"],"views":0,"createdAt":"<time>","updatedAt":"<time>"}`)
		if first.Header().Get("Idempotent-Replayed") != "" {
			t.Errorf("the first create says Idempotent-Replayed")
		}
		// The same article, written otherwise (white space, a repeated tag): the same request.
		again := a.do("POST", "/articles", `{ "title":" Once", "content":"c", "author":"a", "tags":["x","x"] }`, "Idempotency-Key", "key-1")
		if again.Code != 201 || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" ||
			again.Header().Get("Location") != "/articles/1" || again.Header().Get("ETag") != `"1"` {
			t.Errorf("replay: %d %v %s, want the first answer %s", again.Code, again.Header(), again.Body, first.Body)
		}
		assertResponse(t, a.do("POST", "/articles", `{"title":"Other","content":"c","author":"a"}`, "Idempotency-Key", "key-1"), 422,
			problem(422, `the Idempotency-Key "key-1" was used before with another article: send a new key for a new article`))
		const invalid = "the request does not match the API description"
		assertResponse(t, a.do("POST", "/articles", body, "Idempotency-Key", "has space"), 400, problem(400, invalid, "header", "Idempotency-Key", "has an invalid format"))
		assertResponse(t, a.do("POST", "/articles", body, "Idempotency-Key", strings.Repeat("k", 256)), 400, problem(400, invalid, "header", "Idempotency-Key", "must be at most 255 characters long"))
		// Updated since: the replay is still the first answer.
		assertResponse(t, a.do("PUT", "/articles/1", `{"title":"Changed"}`), 200, "")
		if replay := a.do("POST", "/articles", body, "Idempotency-Key", "key-1"); replay.Body.String() != first.Body.String() {
			t.Errorf("replay after an update: %s, want the first answer %s", replay.Body, first.Body)
		}
		// Without a key, each create is an article.
		a.create("Plain", "c", "a")
		a.create("Plain", "c", "a")
		if n, _ := a.store.CountArticles(context.Background()); n != 3 {
			t.Errorf("%d articles stored, want 3", n)
		}
	})
}

// TestSearchHeaders: the answer says which words were corrected (and to what) and which
// were found nowhere, alike on both databases.
func TestSearchHeaders(t *testing.T) {
	forEachAPI(t, func(t *testing.T, a *api) {
		seedDemo(t, a)
		for _, tt := range []struct {
			query, corrected, unknown string
			want                      []string
		}{
			{"cinematograpy blade", "cinematograpy=cinematographi", "", []string{"Cinematography in Blade Runner"}},
			{"zzqxv blade runner", "", "zzqxv", []string{"Cinematography in Blade Runner"}},
			{"zzqxv qqqqj", "", "zzqxv, qqqqj", []string{}},
			{"blade runner", "", "", []string{"Cinematography in Blade Runner"}},
		} {
			rec := a.do("GET", "/articles/search?query="+url.QueryEscape(tt.query), "")
			assertResponse(t, rec, 200, "")
			assertStrings(t, "search "+tt.query, articleTitles(t, rec), tt.want)
			if h := rec.Header().Get("X-Search-Corrected"); h != tt.corrected {
				t.Errorf("search %q: X-Search-Corrected = %q, want %q", tt.query, h, tt.corrected)
			}
			if h := rec.Header().Get("X-Search-Unknown"); h != tt.unknown {
				t.Errorf("search %q: X-Search-Unknown = %q, want %q", tt.query, h, tt.unknown)
			}
		}
	})
}
