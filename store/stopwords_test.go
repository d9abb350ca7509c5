package store_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestStopWordsArePostgreSQLs checks that the stop words both databases leave out of a
// query are exactly those of PostgreSQL's 'english' configuration: each one is dropped by
// to_tsvector, and the list is the server's own file, read where the server lets us.
func TestStopWordsArePostgreSQLs(t *testing.T) {
	s := storetest.Open(t, store.Postgres)
	words := store.StopWords()
	if len(words) < 100 {
		t.Fatalf("%d stop words, want PostgreSQL's 127", len(words))
	}
	var kept []string
	err := s.DB().Raw(`SELECT w FROM unnest(CAST(? AS text[])) AS w WHERE to_tsvector('english', w) <> ''::tsvector`,
		"{"+strings.Join(words, ",")+"}").Scan(&kept).Error
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) > 0 {
		t.Errorf("PostgreSQL's english configuration indexes %q, which are ignored in queries", kept)
	}
	var file string
	err = s.DB().Raw(`SELECT pg_read_file(setting || '/tsearch_data/english.stop') FROM pg_config WHERE name = 'SHAREDIR'`).Scan(&file).Error
	if err != nil || file == "" {
		t.Logf("the server's english.stop cannot be read (%v): the list is checked word by word only", err)
		return
	}
	server := strings.Fields(file)
	slices.Sort(server)
	if !slices.Equal(server, words) {
		t.Errorf("the server's english.stop differs from store/english.stop:\nserver: %q\nours:   %q", server, words)
	}
}

func TestSearchTermsStopWords(t *testing.T) {
	for _, tt := range []struct {
		text           string
		terms, ignored []string
	}{
		{"The Matrix", []string{"Matrix"}, []string{"the"}},
		{"the THE of", nil, []string{"the", "of"}},
		{"don't stop", []string{"stop"}, []string{"don", "t"}},
		{"film", []string{"film"}, nil},
	} {
		terms, ignored := store.SearchTerms(tt.text)
		if !slices.Equal(terms, tt.terms) || !slices.Equal(ignored, tt.ignored) {
			t.Errorf("SearchTerms(%q) = %q, %q; want %q, %q", tt.text, terms, ignored, tt.terms, tt.ignored)
		}
	}
}
