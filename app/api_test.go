package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/synth"
)

func TestArticleLifecycle(t *testing.T) {
	forEachAPI(t, func(t *testing.T, a *api) {
		rec := a.do("POST", "/articles", `{"title":"  The Evolution of Special Effects in Sci-Fi ","content":"Special effects have transformed movies.","author":" Ridley Scott","tags":[" special effects","sci-fi","special effects ",""]}`)
		// "" is not a valid tag: the whole request is rejected.
		assertResponse(t, rec, 400, problem(400, "the request does not match the API description", "body", "tags.3", "must not be empty"))

		rec = a.do("POST", "/articles", `{"title":"  The Evolution of Special Effects in Sci-Fi ","content":"Special effects have transformed movies.","author":" Ridley Scott","tags":[" special effects","sci-fi","special effects "]}`)
		assertResponse(t, rec, 201, `{"id":"1","title":"The Evolution of Special Effects in Sci-Fi","content":"Special effects have transformed movies.","author":"Ridley Scott","tags":["special effects","sci-fi"],"views":0,"createdAt":"<time>","updatedAt":"<time>"}`)
		if loc := rec.Header().Get("Location"); loc != "/articles/1" {
			t.Errorf("Location = %q, want /articles/1", loc)
		}
		var created app.Article
		_ = json.Unmarshal(rec.Body.Bytes(), &created)
		if !created.CreatedAt.Equal(created.UpdatedAt) {
			t.Errorf("createdAt %v != updatedAt %v on a new article", created.CreatedAt, created.UpdatedAt)
		}

		rec = a.do("GET", "/articles/1", "")
		assertResponse(t, rec, 200, `{"id":"1","title":"The Evolution of Special Effects in Sci-Fi","content":"Special effects have transformed movies.","author":"Ridley Scott","tags":["special effects","sci-fi"],"views":1,"createdAt":"<time>","updatedAt":"<time>"}`)
		var read app.Article
		_ = json.Unmarshal(rec.Body.Bytes(), &read)
		if !read.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("createdAt read back %v, created %v", read.CreatedAt, created.CreatedAt)
		}

		time.Sleep(2 * time.Millisecond)
		rec = a.do("PUT", "/articles/1", `{"title":"Special Effects (Updated)"}`)
		assertResponse(t, rec, 200, `{"id":"1","title":"Special Effects (Updated)","content":"Special effects have transformed movies.","author":"Ridley Scott","tags":["special effects","sci-fi"],"views":1,"createdAt":"<time>","updatedAt":"<time>"}`)
		var updated app.Article
		_ = json.Unmarshal(rec.Body.Bytes(), &updated)
		if !updated.UpdatedAt.After(created.UpdatedAt) || !updated.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("after update createdAt=%v updatedAt=%v; created %v", updated.CreatedAt, updated.UpdatedAt, created.CreatedAt)
		}

		rec = a.do("PUT", "/articles/1", `{"content":" New text ","tags":["technology","technology"]}`)
		assertResponse(t, rec, 200, `{"id":"1","title":"Special Effects (Updated)","content":"New text","author":"Ridley Scott","tags":["technology"],"views":1,"createdAt":"<time>","updatedAt":"<time>"}`)
		assertStrings(t, "titles tagged technology", titles(t, a.do("GET", "/articles?tag=technology", "")), []string{"Special Effects (Updated)"})
		assertStrings(t, "titles tagged sci-fi", titles(t, a.do("GET", "/articles?tag=sci-fi", "")), []string{})

		rec = a.do("PUT", "/articles/1", `{"tags":[]}`)
		assertResponse(t, rec, 200, `{"id":"1","title":"Special Effects (Updated)","content":"New text","author":"Ridley Scott","tags":[],"views":1,"createdAt":"<time>","updatedAt":"<time>"}`)
		assertStrings(t, "titles tagged technology after clearing", titles(t, a.do("GET", "/articles?tag=technology", "")), []string{})

		rec = a.do("DELETE", "/articles/1", "")
		assertResponse(t, rec, 200, `{"id":"1","message":"article 1 deleted"}`)
		for _, m := range []string{"GET", "DELETE"} {
			assertResponse(t, a.do(m, "/articles/1", ""), 404, problem(404, `article "1" not found`))
		}
		assertResponse(t, a.do("PUT", "/articles/1", `{"title":"x"}`), 404, problem(404, `article "1" not found`))

		// Ids are never reused after a delete.
		if id := a.create("Next", "text", "someone"); id != "2" {
			t.Errorf("id after delete = %s, want 2", id)
		}
	})
}

func TestBadInput(t *testing.T) {
	const invalid = "the request does not match the API description"
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		want                     string
	}{
		{"missing fields", "POST", "/articles", `{}`, nil, 400, problem(400, invalid,
			"body", "title", "is required", "body", "content", "is required", "body", "author", "is required")},
		{"blank title", "POST", "/articles", `{"title":" \t ","content":"c","author":"a"}`, nil, 400, problem(400, invalid, "body", "title", "must not be blank")},
		{"empty author", "POST", "/articles", `{"title":"t","content":"c","author":""}`, nil, 400, problem(400, invalid, "body", "author", "must not be empty")},
		{"wrong type", "POST", "/articles", `{"title":5,"content":"c","author":"a"}`, nil, 400, problem(400, invalid, "body", "title", "must be a string")},
		{"tags not an array", "POST", "/articles", `{"title":"t","content":"c","author":"a","tags":"x"}`, nil, 400, problem(400, invalid, "body", "tags", "must be an array")},
		{"unknown field", "POST", "/articles", `{"title":"t","content":"c","author":"a","views":3}`, nil, 400, problem(400, invalid, "body", "views", "is not a field of this object")},
		{"title too long", "POST", "/articles", `{"title":"` + long(301) + `","content":"c","author":"a"}`, nil, 400, problem(400, invalid, "body", "title", "must be at most 300 characters long")},
		{"too many tags", "POST", "/articles", `{"title":"t","content":"c","author":"a","tags":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17","18","19","20","21"]}`, nil, 400, problem(400, invalid, "body", "tags", "must have at most 20 items")},
		{"tag too long", "POST", "/articles", `{"title":"t","content":"c","author":"a","tags":["` + long(65) + `"]}`, nil, 400, problem(400, invalid, "body", "tags.0", "must be at most 64 characters long")},
		{"malformed JSON", "POST", "/articles", `{"title":`, nil, 400, problem(400, invalid, "body", "", "malformed JSON: unexpected EOF")},
		{"JSON array", "POST", "/articles", `[]`, nil, 400, problem(400, invalid, "body", "", "must be an object")},
		{"invalid UTF-8", "POST", "/articles", "{\"title\":\"\xff\",\"content\":\"c\",\"author\":\"a\"}", nil, 400, problem(400, "the request body is not valid UTF-8")},
		{"no body", "POST", "/articles", ``, nil, 400, problem(400, "a JSON request body is required")},
		{"not JSON", "POST", "/articles", `title=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, problem(415, "the request body must be application/json")},
		{"body too large", "POST", "/articles", `{"title":"t","content":"` + long(70<<10) + `","author":"a"}`, nil, 413, problem(413, "the request body is larger than 65536 bytes")},
		{"empty update", "PUT", "/articles/1", `{}`, nil, 400, problem(400, invalid, "body", "", "must name at least one field to change")},
		{"author not updatable", "PUT", "/articles/1", `{"author":"x"}`, nil, 400, problem(400, "the update is not valid", "body", "", "must name at least one field to change", "body", "author", "cannot be changed")},
		{"unknown field in an update", "PUT", "/articles/1", `{"title":"x","tag":["y"]}`, nil, 400, problem(400, invalid, "body", "tag", "is not a field of this object")},
		{"null tags", "PUT", "/articles/1", `{"tags":null}`, nil, 400, problem(400, invalid, "body", "tags", "must not be null")},
		{"bad date", "GET", "/articles?date=2024-02-30x", "", nil, 400, problem(400, invalid, "query", "date", "must be a date as YYYY-MM-DD")},
		{"date as timestamp", "GET", "/articles/popular?date=2024-01-01T00:00:00Z", "", nil, 400, problem(400, invalid, "query", "date", "must be a date as YYYY-MM-DD")},
		{"limit zero", "GET", "/articles?limit=0", "", nil, 400, problem(400, invalid, "query", "limit", "must be at least 1")},
		{"limit too big", "GET", "/articles?limit=1001", "", nil, 400, problem(400, invalid, "query", "limit", "must be at most 1000")},
		{"limit not a number", "GET", "/articles?limit=ten", "", nil, 400, problem(400, invalid, "query", "limit", "must be an integer")},
		{"negative offset", "GET", "/articles?offset=-1", "", nil, 400, problem(400, invalid, "query", "offset", "must be at least 0")},
		{"popular limit too big", "GET", "/articles/popular?limit=101", "", nil, 400, problem(400, invalid, "query", "limit", "must be at most 100")},
		{"search without query", "GET", "/articles/search", "", nil, 400, problem(400, invalid, "query", "query", "is required")},
		{"search blank query", "GET", "/articles/search?query=%20%09", "", nil, 400, problem(400, invalid, "query", "query", "must not be blank")},
		{"search query too long", "GET", "/articles/search?query=" + long(257), "", nil, 400, problem(400, invalid, "query", "query", "must be at most 256 characters long")},
		{"search invalid UTF-8", "GET", "/articles/search?query=%ff", "", nil, 400, problem(400, "the query string is not valid UTF-8", "query", "query", "must be valid UTF-8")},
		{"bad escape", "GET", "/articles?author=%zz", "", nil, 400, problem(400, `the query string is not valid: "%zz"`)},
		{"id not a number", "GET", "/articles/abc", "", nil, 404, problem(404, `article "abc" not found`)},
		{"id zero", "GET", "/articles/0", "", nil, 404, problem(404, `article "0" not found`)},
		{"id negative", "DELETE", "/articles/-1", "", nil, 404, problem(404, `article "-1" not found`)},
		{"id with leading zero", "GET", "/articles/01", "", nil, 404, problem(404, `article "01" not found`)},
		{"id overflows", "PUT", "/articles/99999999999999999999", `{"title":"x"}`, nil, 404, problem(404, `article "99999999999999999999" not found`)},
		{"unknown route", "GET", "/nope", "", nil, 404, problem(404, "no route for GET /nope")},
		{"method not allowed", "PATCH", "/articles/1", "", nil, 405, problem(405, "PATCH is not allowed on /articles/1")},
	}
	forEachAPI(t, func(t *testing.T, a *api) {
		a.create("t", "c", "a")
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := a.do(tt.method, tt.path, tt.body, tt.header...)
				assertResponse(t, rec, tt.status, tt.want)
			})
		}
		if rec := a.do("PATCH", "/articles/1", ""); rec.Header().Get("Allow") != "GET, DELETE, PUT" {
			t.Errorf("405 Allow = %q", rec.Header().Get("Allow"))
		}
		// Nothing of the rejected writes reached the database.
		n, _ := a.store.CountArticles(context.Background())
		if n != 1 {
			t.Errorf("articles stored = %d, want 1", n)
		}
		rec := a.do("GET", "/articles/1", "")
		assertResponse(t, rec, 200, `{"id":"1","title":"t","content":"c","author":"a","tags":[],"views":1,"createdAt":"<time>","updatedAt":"<time>"}`)
	})
}

// seedDemo loads the hand-written demo set (12 articles, created 2024-01-01..10).
func seedDemo(t *testing.T, a *api) {
	t.Helper()
	if n, err := a.store.SeedDemo(context.Background(), synth.Demo()); err != nil || n != 12 {
		t.Fatalf("SeedDemo = %d, %v", n, err)
	}
}

func TestListTitles(t *testing.T) {
	nolan := []string{"Sound as Story in 'Oppenheimer'", "Revolutionizing Cinema: The Impact of 'Interstellar'", "Directing Masterpieces: The Nolan Method", "The Art of Storytelling in 'Inception'"}
	tests := []struct {
		query string
		total string
		want  []string
	}{
		{"author=Christopher%20Nolan", "4", nolan},
		{"author=Christopher%20Nolan&limit=2", "4", nolan[:2]},
		{"author=Christopher%20Nolan&limit=2&offset=2", "4", nolan[2:]},
		{"author=Christopher%20Nolan&offset=10", "4", []string{}},
		{"author=christopher%20nolan", "0", []string{}},
		{"tag=blockbuster", "5", []string{"Sound as Story in 'Oppenheimer'", "Practical Worlds: Designing Dune's Arrakis", "Revolutionizing Cinema: The Impact of 'Interstellar'", "Directing Masterpieces: The Nolan Method", "The Art of Storytelling in 'Inception'"}},
		{"tag=blockbuster&author=Christopher%20Nolan&date=2024-01-01", "2", []string{"Directing Masterpieces: The Nolan Method", "The Art of Storytelling in 'Inception'"}},
		{"date=2024-01-03", "2", []string{"Cinematography in Blade Runner", "The Evolution of Special Effects in Sci-Fi"}},
		{"date=2023-12-31", "0", []string{}},
		{"tag=special%20effects", "2", []string{"Gravity and the Light Box", "The Evolution of Special Effects in Sci-Fi"}},
		{"limit=3", "12", []string{"Sound as Story in 'Oppenheimer'", "Framing Symmetry: Wes Anderson's Grand Budapest Hotel", "Gravity and the Light Box"}},
	}
	forEachAPI(t, func(t *testing.T, a *api) {
		seedDemo(t, a)
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				rec := a.do("GET", "/articles?"+tt.query, "")
				assertResponse(t, rec, 200, "")
				assertStrings(t, "titles", titles(t, rec), tt.want)
				if got := rec.Header().Get("X-Total-Count"); got != tt.total {
					t.Errorf("X-Total-Count = %q, want %s", got, tt.total)
				}
				if got := rec.Header().Get("X-Total-Count-Relation"); got != "eq" {
					t.Errorf("X-Total-Count-Relation = %q, want eq", got)
				}
			})
		}
		// Default limit is 100: 150 articles list 100 titles and count 150.
		var batch []store.NewArticle
		for i := range 138 {
			batch = append(batch, store.NewArticle{Title: fmt.Sprintf("Bulk %03d", i), Content: "c", Author: "bulk"})
		}
		if err := a.store.InsertArticles(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		rec := a.do("GET", "/articles", "")
		if got := len(titles(t, rec)); got != 100 || rec.Header().Get("X-Total-Count") != "150" {
			t.Errorf("default page: %d titles, total %s; want 100, 150", got, rec.Header().Get("X-Total-Count"))
		}
		if got := len(titles(t, a.do("GET", "/articles?limit=1000", ""))); got != 150 {
			t.Errorf("limit=1000: %d titles, want 150", got)
		}
		// Past store.MaxExactCount the count is a lower bound, and says so.
		batch = batch[:0]
		for i := range store.MaxExactCount {
			batch = append(batch, store.NewArticle{Title: fmt.Sprintf("Many %05d", i), Content: "c", Author: "many"})
		}
		if err := a.store.BulkInsert(context.Background(), batch, nil); err != nil {
			t.Fatal(err)
		}
		rec = a.do("GET", "/articles?limit=1", "")
		assertStrings(t, "titles", titles(t, rec), []string{fmt.Sprintf("Many %05d", store.MaxExactCount-1)})
		if n, rel := rec.Header().Get("X-Total-Count"), rec.Header().Get("X-Total-Count-Relation"); n != "1000" || rel != "gte" {
			t.Errorf("1150 articles: X-Total-Count %s, relation %s; want 1000, gte", n, rel)
		}
		rec = a.do("GET", "/articles?author=many&limit=1", "")
		if n, rel := rec.Header().Get("X-Total-Count"), rec.Header().Get("X-Total-Count-Relation"); n != "1000" || rel != "eq" {
			t.Errorf("1000 articles: X-Total-Count %s, relation %s; want 1000, eq", n, rel)
		}
	})
}

func TestSearch(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		// The title match ranks above matches in the tags and in the content.
		{"cinematography", []string{"Cinematography in Blade Runner", "Gravity and the Light Box", "The Long Take in 'Children of Men'"}},
		{"Cinematography%20in%20Blade%20Runner", []string{"Cinematography in Blade Runner"}},
		// Stemming: "directed" finds "Directing".
		{"directed%20nolan", []string{"Directing Masterpieces: The Nolan Method"}},
		// Author and tags are searched too; equal ranks list the newest first.
		{"villeneuve", []string{"Silence and Language in 'Arrival'", "Practical Worlds: Designing Dune's Arrakis"}},
		{"neo-noir", []string{"Cinematography in Blade Runner"}},
		// "Nolan" is in one title and in the author of four: the title match comes first.
		{"nolan&limit=1", []string{"Directing Masterpieces: The Nolan Method"}},
		{"nolan&offset=5", []string{}},
		{"nosuchword", []string{}},
		// Hostile text is just words; words found nowhere ("drop", "table") are left out.
		{`%22blade%22%20OR%20-runner%20%5C%20%27%3B%20DROP%20TABLE%20articles%3B%20--`, []string{"Cinematography in Blade Runner"}},
		// A misspelt word (5 letters or more) is corrected; the last word completes.
		{"cinematograpy", []string{"Cinematography in Blade Runner", "Gravity and the Light Box", "The Long Take in 'Children of Men'"}},
		{"villeneve", []string{"Silence and Language in 'Arrival'", "Practical Worlds: Designing Dune's Arrakis"}},
		{"interst", []string{"Revolutionizing Cinema: The Impact of 'Interstellar'"}},
		// The README's example.
		{"cinematografy%20blade%20runn", []string{"Cinematography in Blade Runner"}},
		{"%28%28%28%2A%2A%20NEAR%28", []string{}},
		{"%F0%9F%8E%AC", []string{}},
		{"a%26b%7Cc%21d%3A%2A", []string{}},
	}
	forEachAPI(t, func(t *testing.T, a *api) {
		seedDemo(t, a)
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				rec := a.do("GET", "/articles/search?query="+tt.query, "")
				assertResponse(t, rec, 200, "")
				assertStrings(t, "results", articleTitles(t, rec), tt.want)
			})
		}
	})
}

func TestPopular(t *testing.T) {
	forEachAPI(t, func(t *testing.T, a *api) {
		seedDemo(t, a)
		ids := map[string]string{}
		for i := 1; i <= 12; i++ {
			var art app.Article
			rec := a.do("GET", "/articles/"+strconv.Itoa(i), "")
			_ = json.Unmarshal(rec.Body.Bytes(), &art)
			ids[art.Title] = art.Id
		}
		// Every article now has one view. Add views: Alien 3 more, Arrival 2 more, Dune 1 more.
		for title, n := range map[string]int{"Building Tension in 'Alien'": 3, "Silence and Language in 'Arrival'": 2, "Practical Worlds: Designing Dune's Arrakis": 1} {
			for range n {
				assertResponse(t, a.do("GET", "/articles/"+ids[title], ""), 200, "")
			}
		}
		// Popular articles are ordered by the ranking, rebuilt here at once (a server
		// rebuilds it when due: see store.RefreshPopular).
		if err := a.store.RefreshPopular(context.Background()); err != nil {
			t.Fatal(err)
		}
		rec := a.do("GET", "/articles/popular", "")
		assertResponse(t, rec, 200, "")
		got := articleTitles(t, rec)
		want := []string{"Building Tension in 'Alien'", "Silence and Language in 'Arrival'", "Practical Worlds: Designing Dune's Arrakis",
			// ties at one view: newest first
			"Sound as Story in 'Oppenheimer'", "Framing Symmetry: Wes Anderson's Grand Budapest Hotel", "Gravity and the Light Box",
			"The Long Take in 'Children of Men'", "Cinematography in Blade Runner", "The Evolution of Special Effects in Sci-Fi",
			"Revolutionizing Cinema: The Impact of 'Interstellar'"}
		assertStrings(t, "popular (default limit 10)", got, want)

		var first []app.Article
		_ = json.Unmarshal(rec.Body.Bytes(), &first)
		if first[0].Views != 4 || first[1].Views != 3 || first[3].Views != 1 {
			t.Errorf("views = %d, %d, %d; want 4, 3, 1", first[0].Views, first[1].Views, first[3].Views)
		}

		assertStrings(t, "popular sci-fi", articleTitles(t, a.do("GET", "/articles/popular?tag=sci-fi&limit=3", "")),
			[]string{"Building Tension in 'Alien'", "Silence and Language in 'Arrival'", "Practical Worlds: Designing Dune's Arrakis"})
		assertStrings(t, "popular on 2024-01-03", articleTitles(t, a.do("GET", "/articles/popular?date=2024-01-03", "")),
			[]string{"Cinematography in Blade Runner", "The Evolution of Special Effects in Sci-Fi"})
		assertStrings(t, "popular page 2", articleTitles(t, a.do("GET", "/articles/popular?limit=2&offset=1", "")),
			[]string{"Silence and Language in 'Arrival'", "Practical Worlds: Designing Dune's Arrakis"})
		assertStrings(t, "popular, unknown tag", articleTitles(t, a.do("GET", "/articles/popular?tag=nothing", "")), []string{})
	})
}

func TestDocsUIAndHealth(t *testing.T) {
	forEachAPI(t, func(t *testing.T, a *api) {
		rec := a.do("GET", "/ui", "")
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/ui/" {
			t.Errorf("GET /ui = %d Location %q, want 301 to /ui/", rec.Code, rec.Header().Get("Location"))
		}
		rec = a.do("GET", "/ui/", "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<script src="./swagger-ui-bundle.js"`) || strings.Contains(rec.Body.String(), "https://") {
			t.Errorf("GET /ui/ = %d, body %.300s", rec.Code, rec.Body)
		}
		for path, ct := range map[string]string{
			"/ui/swagger-ui-bundle.js":   "text/javascript; charset=utf-8",
			"/ui/swagger-ui.css":         "text/css; charset=utf-8",
			"/ui/swagger-initializer.js": "text/javascript; charset=utf-8",
			"/openapi.yaml":              "application/yaml; charset=utf-8",
			"/openapi.json":              "application/json; charset=utf-8",
		} {
			rec := a.do("GET", path, "")
			if rec.Code != 200 || rec.Header().Get("Content-Type") != ct || rec.Body.Len() < 100 {
				t.Errorf("GET %s = %d %q (%d bytes)", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
			}
		}
		var doc map[string]any
		if err := json.Unmarshal(a.do("GET", "/openapi.json", "").Body.Bytes(), &doc); err != nil || doc["openapi"] != "3.0.3" {
			t.Errorf("/openapi.json: %v, openapi=%v", err, doc["openapi"])
		}
		assertResponse(t, a.do("GET", "/ui/nope.js", ""), 404, "")

		assertResponse(t, a.do("GET", "/healthz", ""), 200, `{"status":"ok"}`)
		assertResponse(t, a.do("GET", "/readyz", ""), 200, `{"status":"ready"}`)
		_ = a.store.Close()
		assertResponse(t, a.do("GET", "/readyz", ""), 503, problem(503, "the database does not answer"))
		// A failing database gives a problem document that says nothing internal.
		rec = a.do("GET", "/articles", "")
		assertResponse(t, rec, 500, problem(500, "the server could not complete the request"))
	})
}
