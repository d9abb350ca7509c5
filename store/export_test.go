package store

import (
	"context"
	"slices"

	"gorm.io/gorm"
)

// SearchQuery exposes searchQuery to the tests of package store_test.
func (s *Store) SearchQuery(ctx context.Context, text string) (string, error) {
	return s.searchQuery(ctx, text)
}

// WithConnectTimeout exposes withConnectTimeout.
var WithConnectTimeout = withConnectTimeout

// StopWords returns the stop words, sorted.
func StopWords() []string {
	var out []string
	for w := range stopWords {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

// DB exposes the GORM handle to tests that query the database directly.
func (s *Store) DB() *gorm.DB { return s.db }
