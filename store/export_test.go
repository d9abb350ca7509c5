package store

import "context"

// SearchQuery exposes searchQuery to the tests of package store_test.
func (s *Store) SearchQuery(ctx context.Context, text string) (string, error) {
	return s.searchQuery(ctx, text)
}

// WithConnectTimeout exposes withConnectTimeout.
var WithConnectTimeout = withConnectTimeout
