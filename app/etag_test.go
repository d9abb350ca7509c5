package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

func TestETagAndIfMatch(t *testing.T) {
	forEachAPI(t, func(t *testing.T, a *api) {
		rec := a.do("POST", "/articles", `{"title":"t","content":"c","author":"a"}`)
		if rec.Code != 201 || rec.Header().Get("ETag") != `"1"` {
			t.Fatalf("create: %d ETag %q", rec.Code, rec.Header().Get("ETag"))
		}
		if got := a.do("GET", "/articles/1", "").Header().Get("ETag"); got != `"1"` {
			t.Fatalf("GET ETag = %q, want \"1\"", got)
		}
		// Views do not change the version.
		a.do("GET", "/articles/1", "")
		tests := []struct {
			name, method, ifMatch, body string
			status                      int
			etag                        string
			want                        string
		}{
			{"stale version", "PUT", `"7"`, `{"title":"x"}`, 412, "", problem(412, `article "1" has changed since the version named in If-Match: GET it again and retry`)},
			{"weak tag never matches", "PUT", `W/"1"`, `{"title":"x"}`, 412, "", problem(412, `article "1" has changed since the version named in If-Match: GET it again and retry`)},
			{"malformed", "PUT", `1`, `{"title":"x"}`, 400, "", problem(400, "the request does not match the API description", "header", "If-Match", `must be "*" or a list of entity tags such as "3"`)},
			{"current version", "PUT", `"1"`, `{"title":"v2"}`, 200, `"2"`, ""},
			{"list with the current one", "PUT", `"9", "2"`, `{"title":"v3"}`, 200, `"3"`, ""},
			{"star", "PUT", `*`, `{"title":"v4"}`, 200, `"4"`, ""},
			{"no If-Match: last writer wins", "PUT", "", `{"title":"v5"}`, 200, `"5"`, ""},
			{"stale delete", "DELETE", `"4"`, "", 412, "", problem(412, `article "1" has changed since the version named in If-Match: GET it again and retry`)},
			{"delete at the current version", "DELETE", `"5"`, "", 200, "", `{"id":"1","message":"article 1 deleted"}`},
			{"star on a missing article", "PUT", `*`, `{"title":"x"}`, 404, "", problem(404, `article "1" not found`)},
		}
		for _, tt := range tests {
			var hdr []string
			if tt.ifMatch != "" {
				hdr = []string{"If-Match", tt.ifMatch}
			}
			rec := a.do(tt.method, "/articles/1", tt.body, hdr...)
			if rec.Code != tt.status {
				t.Fatalf("%s: %d %s", tt.name, rec.Code, rec.Body)
			}
			if tt.etag != "" && rec.Header().Get("ETag") != tt.etag {
				t.Errorf("%s: ETag %q, want %s", tt.name, rec.Header().Get("ETag"), tt.etag)
			}
			if tt.want != "" {
				assertJSON(t, rec.Body.String(), tt.want)
			}
		}
	})
}

func TestRequireIfMatch(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	h, err := app.NewHandler(app.Options{Store: s, RequireIfMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	a := &api{t: t, handler: h, store: s}
	a.create("t", "c", "a")
	for _, m := range []string{"PUT", "DELETE"} {
		body := ""
		if m == "PUT" {
			body = `{"title":"x"}`
		}
		assertResponse(t, a.do(m, "/articles/1", body), 428,
			problem(428, "this server requires If-Match: send the article's ETag from a GET to change or delete it"))
	}
	assertResponse(t, a.do("PUT", "/articles/1", `{"title":"x"}`, "If-Match", `"1"`), 200, "")
}

// TestNoLostUpdate: many clients update one article at once, each based on the version
// it read. Per version exactly one wins; the others get 412 and nothing of theirs is
// stored; the final article is the last winner's write.
func TestNoLostUpdate(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		h, err := app.NewHandler(app.Options{Store: s})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		a := &api{t: t, handler: h, store: s}
		a.create("start", "c", "a")

		const writers, rounds = 8, 5
		type win struct {
			version int
			title   string
		}
		var mu sync.Mutex
		var wins []win
		failed := 0
		for round := 1; round <= rounds; round++ {
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					title := fmt.Sprintf("round %d writer %d", round, w)
					req, _ := http.NewRequest("PUT", srv.URL+"/articles/1", strings.NewReader(`{"title":"`+title+`"}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("If-Match", fmt.Sprintf(`"%d"`, round))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					mu.Lock()
					defer mu.Unlock()
					switch resp.StatusCode {
					case 200:
						var got app.Article
						_ = json.NewDecoder(resp.Body).Decode(&got)
						if got.Title != title || resp.Header.Get("ETag") != fmt.Sprintf(`"%d"`, round+1) {
							t.Errorf("winner got %q with ETag %s", got.Title, resp.Header.Get("ETag"))
						}
						wins = append(wins, win{round, title})
					case 412:
						failed++
					default:
						t.Errorf("PUT: %d", resp.StatusCode)
					}
				}()
			}
			wg.Wait()
		}
		if len(wins) != rounds || failed != rounds*(writers-1) {
			t.Fatalf("%d wins and %d 412s over %d rounds of %d writers; want one win per round", len(wins), failed, rounds, writers)
		}
		perVersion := map[int]int{}
		for _, w := range wins {
			perVersion[w.version]++
		}
		for v := 1; v <= rounds; v++ {
			if perVersion[v] != 1 {
				t.Errorf("version %d had %d winners", v, perVersion[v])
			}
		}
		final, err := s.GetArticle(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		last := wins[len(wins)-1]
		for _, w := range wins {
			if w.version == rounds {
				last = w
			}
		}
		if final.Title != last.title || final.Version != rounds+1 {
			t.Errorf("final article %q at version %d; the last winner wrote %q", final.Title, final.Version, last.title)
		}
	})
}
