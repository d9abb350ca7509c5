package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestStorageFull fills the embedded database to a size limit (SQLite's max_page_count
// refuses a write with SQLITE_FULL, "database or disk is full", as a full disk does):
// the refused create is ErrStorageFull (so 503, never 500), Ready says so until space is
// there again, then writes succeed and nothing acknowledged is lost.
func TestStorageFull(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	var pages int
	if err := s.DB().Raw("PRAGMA page_count").Scan(&pages).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+8)).Error; err != nil {
		t.Fatal(err)
	}
	var stored []int64
	var err error
	for i := 0; i < 1000; i++ {
		var a store.Article
		a, err = s.CreateArticle(ctx, store.NewArticle{Title: fmt.Sprintf("A%d", i), Content: strings.Repeat("words ", 300), Author: "a"})
		if err != nil {
			break
		}
		stored = append(stored, a.ID)
	}
	if !errors.Is(err, store.ErrStorageFull) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("create on a full database = %v, want ErrStorageFull and ErrUnavailable", err)
	}
	if len(stored) == 0 {
		t.Fatal("no article fitted")
	}
	if err := s.Ready(ctx); !errors.Is(err, store.ErrStorageFull) {
		t.Fatalf("Ready on a full database = %v, want ErrStorageFull", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping on a full database = %v: reads still work", err)
	}
	if err := s.DB().Exec("PRAGMA max_page_count = 1073741823").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready once space is back = %v", err)
	}
	if _, err := s.CreateArticle(ctx, store.NewArticle{Title: "after", Content: "c", Author: "a"}); err != nil {
		t.Fatalf("create once space is back: %v", err)
	}
	for _, id := range stored {
		if _, err := s.GetArticle(ctx, id); err != nil {
			t.Fatalf("article %d, created before the disk filled: %v", id, err)
		}
	}
	t.Logf("%d articles fitted; the next was refused with: %v", len(stored), err)
}
