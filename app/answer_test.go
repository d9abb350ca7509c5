package app

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAnswersAsGenerated: the answers written by hand are byte for byte, header for
// header, what the generated code writes, whatever falls on the chunk boundaries.
func TestAnswersAsGenerated(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600000, time.UTC)
	how := writing{stall: time.Second, writeTimeout: time.Minute}
	for name, content := range map[string]string{
		"short":             "plain",
		"ascii":             strings.Repeat("plain text ", 20000),
		"escapes":           strings.Repeat(`<b>"quoted" & \back</b>`+"\n\t\u2028", 5000),
		"4-byte runes":      strings.Repeat("𝐚", answerChunk/4*3+1) + strings.Repeat("é𝐛", 30000),
		"invalid utf-8":     strings.Repeat("ok \xff\xfe ", 20000) + "\xf0\x9d",
		"rune on boundary":  strings.Repeat("a", answerChunk-1) + "𝐚" + strings.Repeat("b", answerChunk*2),
		"exactly one chunk": strings.Repeat("c", answerChunk),
	} {
		a := Article{Id: "7", Title: `a "title" <x>`, Content: content, Author: "au", Tags: []string{"t", "<u>"}, Views: 3, CreatedAt: at, UpdatedAt: at}
		b := a
		b.Id, b.Content = "8", content[len(content)/2:]
		ignored := "the, of"
		for _, tt := range []struct {
			kind      string
			generated func(http.ResponseWriter) error
			ours      func(http.ResponseWriter) error
		}{
			{"get", GetArticleById200JSONResponse{Body: a, Headers: GetArticleById200ResponseHeaders{ETag: `"2"`}}.VisitGetArticleByIdResponse,
				articleAnswer{status: 200, etag: `"2"`, body: a, how: how}.VisitGetArticleByIdResponse},
			{"create", CreateArticle201JSONResponse{Body: a, Headers: CreateArticle201ResponseHeaders{ETag: `"1"`, Location: "/articles/7"}}.VisitCreateArticleResponse,
				articleAnswer{status: 201, etag: `"1"`, location: "/articles/7", body: a, how: how}.VisitCreateArticleResponse},
			{"update", UpdateArticle200JSONResponse{Body: a, Headers: UpdateArticle200ResponseHeaders{ETag: `"3"`}}.VisitUpdateArticleResponse,
				articleAnswer{status: 200, etag: `"3"`, body: a, how: how}.VisitUpdateArticleResponse},
			{"search", SearchArticles200JSONResponse{Body: []Article{a, b}, Headers: SearchArticles200ResponseHeaders{XSearchIgnored: &ignored}}.VisitSearchArticlesResponse,
				articleList{body: []Article{a, b}, ignored: ignored, how: how}.VisitSearchArticlesResponse},
			{"popular", GetPopularArticles200JSONResponse{a, b}.VisitGetPopularArticlesResponse,
				articleList{body: []Article{a, b}, how: how}.VisitGetPopularArticlesResponse},
			{"empty list", GetPopularArticles200JSONResponse{}.VisitGetPopularArticlesResponse,
				articleList{body: []Article{}, how: how}.VisitGetPopularArticlesResponse},
		} {
			want, got := httptest.NewRecorder(), httptest.NewRecorder()
			if err := tt.generated(want); err != nil {
				t.Fatal(err)
			}
			if err := tt.ours(got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				g, w := got.Body.String(), want.Body.String()
				i := 0
				for i < min(len(g), len(w)) && g[i] == w[i] {
					i++
				}
				t.Errorf("%s, %s: differs at byte %d of %d/%d: %.40q vs %.40q", name, tt.kind, i, len(g), len(w), g[i:], w[i:])
			}
			if got.Code != want.Code {
				t.Errorf("%s, %s: status %d, want %d", name, tt.kind, got.Code, want.Code)
			}
			for _, h := range []string{"Content-Type", "ETag", "Location", "X-Search-Ignored"} {
				if got.Header().Get(h) != want.Header().Get(h) {
					t.Errorf("%s, %s: %s %q, want %q", name, tt.kind, h, got.Header().Get(h), want.Header().Get(h))
				}
			}
		}
	}
}
