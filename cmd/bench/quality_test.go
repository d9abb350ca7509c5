package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
)

// BenchmarkSearchQuality is the search-quality scenario on an embedded database made by
// `articlesd seed --database-url sqlite://PATH --count 100000`, named by
// ARTICLESD_BENCH_SQLITE (it skips without one): the answers of Store.Find against
// Store.FindExhaustive, printed as the bench prints them.
//
//	ARTICLESD_BENCH_SQLITE=/tmp/s100k.db go test -run XXX -bench SearchQuality -benchtime 1x ./cmd/bench/
func BenchmarkSearchQuality(b *testing.B) {
	path := os.Getenv("ARTICLESD_BENCH_SQLITE")
	if path == "" {
		b.Skip("ARTICLESD_BENCH_SQLITE names no embedded database")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	// As a serving articlesd keeps them.
	if err := st.RefreshVocabulary(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := st.RefreshHeads(ctx); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("search heads: %s\n", time.Since(start).Round(time.Millisecond))
	serve := func(ctx context.Context, q string, limit int) ([]int64, error) {
		r, err := st.Find(ctx, q, limit, 0)
		ids := make([]int64, len(r.Articles))
		for i, a := range r.Articles {
			ids[i] = a.ID
		}
		return ids, err
	}
	for b.Loop() {
		rep, err := SearchQuality(ctx, st, serve, QualityOptions{Seed: 1, Queries: qualityQueries, Typos: qualityTypos, Prefixes: qualityPrefixes})
		if err != nil {
			b.Fatal(err)
		}
		rep.print(os.Stdout)
	}
}

// TestOverlap pins the overlap measure.
func TestOverlap(t *testing.T) {
	for _, tt := range []struct {
		served, ref []int64
		k           int
		want        float64
	}{
		{nil, nil, 10, 1},
		{[]int64{1}, nil, 10, 0},
		{[]int64{1, 2, 3}, []int64{3, 2, 1}, 10, 1},
		{[]int64{1, 2, 9, 8}, []int64{1, 2, 3, 4}, 10, 0.5},
		{[]int64{1, 2, 3, 4}, []int64{4, 3, 2, 1}, 2, 0},
	} {
		if got := overlap(tt.served, tt.ref, tt.k); got != tt.want {
			t.Errorf("overlap(%v, %v, %d) = %v, want %v", tt.served, tt.ref, tt.k, got, tt.want)
		}
	}
}
