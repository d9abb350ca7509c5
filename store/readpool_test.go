package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
)

func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite://"+t.TempDir()+"/a.db", store.Options{ViewFlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSQLiteReadsDoNotWait checks that reads on the embedded database wait neither for
// a write in progress nor for other reads: the read pool beside the single writer.
// A single connection for everything failed this at the first read (deadline exceeded).
func TestSQLiteReadsDoNotWait(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	a, err := s.CreateArticle(ctx, store.NewArticle{Title: "committed", Content: "c", Author: "x"})
	if err != nil {
		t.Fatal(err)
	}
	read := func(what string) store.Article {
		t.Helper()
		// Generous for a loaded 2-core machine; a read that waits for the holder
		// waits for ever.
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		got, err := s.GetArticle(rctx, a.ID)
		if err != nil {
			t.Fatalf("read %s: %v", what, err)
		}
		return got
	}
	// The read pool refuses writes (query_only): none can reach it by mistake.
	if _, err := s.ReadPool().ExecContext(ctx, "DELETE FROM articles"); err == nil {
		t.Error("a write through the read pool succeeded")
	}
	release, err := s.HoldConn(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := read("beside an uncommitted write"); got.Title != "committed" {
		t.Errorf("a read saw an uncommitted write: title %q", got.Title)
	}
	release()
	for i := 0; i < store.DefaultSQLiteReaders-1; i++ {
		release, err := s.HoldConn(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	read("while the other readers are busy")
	// A write acknowledged is seen by the next read, on any connection of the pool.
	for i := 0; i < 20; i++ {
		title := fmt.Sprint("v", i)
		if _, err := s.UpdateArticle(ctx, a.ID, store.ArticlePatch{Title: &title}, store.AnyVersion); err != nil {
			t.Fatal(err)
		}
		if got := read("after a write"); got.Title != title {
			t.Fatalf("read after update %d: title %q", i, got.Title)
		}
	}
}

// TestSQLiteConcurrentWritesAndReads runs writers and readers together and wants no
// error at all (SQLITE_BUSY, "database is locked" in particular) and every write seen by
// the read that follows it.
func TestSQLiteConcurrentWritesAndReads(t *testing.T) {
	ctx := context.Background()
	s := openSQLite(t)
	stop := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	var ids []int64
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, err)
		}
	}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				a, err := s.CreateArticle(ctx, store.NewArticle{Title: fmt.Sprint("w", w, "-", i), Content: "film " + strings.Repeat("x", 100*i%5000), Author: "a", Tags: []string{"t"}})
				if err != nil {
					fail(fmt.Errorf("create: %w", err))
					continue
				}
				if _, err := s.GetArticle(ctx, a.ID); err != nil {
					fail(fmt.Errorf("read back %d: %w", a.ID, err))
				}
				mu.Lock()
				ids = append(ids, a.ID)
				mu.Unlock()
			}
		}()
	}
	for r := 0; r < 8; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				mu.Lock()
				var id int64
				if len(ids) > 0 {
					id = ids[(i*31+r)%len(ids)]
				}
				mu.Unlock()
				var err error
				switch i % 4 {
				case 0, 1:
					if id > 0 {
						_, err = s.ViewArticle(ctx, id)
					}
				case 2:
					_, _, err = s.ListTitles(ctx, store.ListFilter{Tag: "t", Limit: 10})
				case 3:
					_, err = s.Search(ctx, "film", 10, 0)
				}
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					fail(fmt.Errorf("read: %w", err))
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(ids) == 0 {
		t.Fatal("no article created")
	}
}
