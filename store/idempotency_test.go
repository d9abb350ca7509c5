package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestCreateArticleOnce: a key's first create stores the article; the same key with the
// same article replays it (same id, same time, nothing stored twice), also when the
// creates race; with another article it is ErrIdempotencyMismatch; another client's
// same key is another key; keys older than a day are purged.
func TestCreateArticleOnce(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		in := store.NewArticle{Title: "Once", Content: "c", Author: "a", Tags: []string{"x"}}
		key := store.IdempotencyKey{Principal: "me", Key: "k-1"}
		first, replayed, err := s.CreateArticleOnce(ctx, in, key)
		if err != nil || replayed || first.ID == 0 {
			t.Fatalf("first create: %+v, replayed %v, %v", first, replayed, err)
		}
		again, replayed, err := s.CreateArticleOnce(ctx, in, key)
		if err != nil || !replayed || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) || again.Title != "Once" || again.Version != 1 {
			t.Fatalf("replay: %+v, replayed %v, %v; want %+v", again, replayed, err, first)
		}
		other := in
		other.Title = "Twice"
		if _, _, err := s.CreateArticleOnce(ctx, other, key); !errors.Is(err, store.ErrIdempotencyMismatch) {
			t.Fatalf("same key, another article: %v, want ErrIdempotencyMismatch", err)
		}
		if a, replayed, err := s.CreateArticleOnce(ctx, in, store.IdempotencyKey{Principal: "you", Key: "k-1"}); err != nil || replayed || a.ID == first.ID {
			t.Fatalf("another client's key: %+v, replayed %v, %v", a, replayed, err)
		}
		// Racing creates of one key: one article.
		var wg sync.WaitGroup
		ids := make([]int64, 8)
		for i := range ids {
			wg.Go(func() {
				a, _, err := s.CreateArticleOnce(ctx, store.NewArticle{Title: "Race", Content: "c", Author: "a"}, store.IdempotencyKey{Principal: "me", Key: "race"})
				if err != nil {
					t.Errorf("racing create %d: %v", i, err)
				}
				ids[i] = a.ID
			})
		}
		wg.Wait()
		for _, id := range ids[1:] {
			if id != ids[0] {
				t.Fatalf("racing creates of one key made articles %v", ids)
			}
		}
		if n, _ := s.CountArticles(ctx); n != 3 {
			t.Fatalf("%d articles stored, want 3", n)
		}
		// Expired keys are purged; the key is then new again.
		if err := s.DB().Exec("UPDATE idempotency_keys SET created_at = ? WHERE key = 'k-1'", time.Now().Add(-25*time.Hour).UTC()).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.PurgeIdempotencyKeys(ctx); err != nil {
			t.Fatal(err)
		}
		if _, replayed, err := s.CreateArticleOnce(ctx, in, key); err != nil || replayed {
			t.Fatalf("create after the key expired: replayed %v, %v; want a new article", replayed, err)
		}
	})
}
