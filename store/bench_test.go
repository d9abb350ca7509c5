package store_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/store/synth"
)

// benchArticles is the size of the data set the store benchmarks run on:
// ARTICLESD_BENCH_ARTICLES, 10,000 by default.
func benchArticles(b *testing.B) int {
	n := 10000
	if v := os.Getenv("ARTICLESD_BENCH_ARTICLES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("ARTICLESD_BENCH_ARTICLES=%q: want a positive number", v)
		}
	}
	return n
}

// BenchmarkStore measures each read and write of the store on a synthetic data set
// (the seeder's, see synth.Generator) in a fresh database of each dialect, with the
// query mixes of the load benchmark (`articlesd bench`): ids uniform, tags, authors and
// search words drawn with the data's own frequencies, days uniform.
//
//	ARTICLESD_BENCH_ARTICLES=100000 go test -run XXX -bench Store -benchtime 2000x ./store/
func BenchmarkStore(b *testing.B) {
	n := benchArticles(b)
	until := time.Now().UTC()
	for _, d := range storetest.Dialects {
		b.Run("db="+string(d), func(b *testing.B) {
			ctx := context.Background()
			s := storetest.Open(b, d)
			gen := synth.NewGenerator(1, 730, until)
			for done := 0; done < n; {
				batch := make([]store.NewArticle, min(5000, n-done))
				for i := range batch {
					batch[i] = gen.Next()
				}
				if err := s.BulkInsert(ctx, batch, nil); err != nil {
					b.Fatal(err)
				}
				done += len(batch)
			}
			if err := s.Analyze(ctx); err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(2, 3))
			mix := synth.NewGenerator(4, 730, until)
			day := func() *time.Time { d := until.AddDate(0, 0, -r.IntN(730)); return &d }
			run := func(name string, op func() error) {
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						if err := op(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			run("get", func() error { _, err := s.GetArticle(ctx, 1+r.Int64N(int64(n))); return err })
			run("list-tag", func() error { _, _, err := s.ListTitles(ctx, store.ListFilter{Tag: mix.Tag(), Limit: 100}); return err })
			run("list-author", func() error {
				_, _, err := s.ListTitles(ctx, store.ListFilter{Author: mix.Author(), Limit: 100})
				return err
			})
			run("list-date", func() error { _, _, err := s.ListTitles(ctx, store.ListFilter{Day: day(), Limit: 100}); return err })
			run("search", func() error { _, err := s.Search(ctx, mix.SearchQuery(), 20, 0); return err })
			run("popular", func() error { _, err := s.Popular(ctx, store.ListFilter{Limit: 10}); return err })
			run("popular-tag", func() error { _, err := s.Popular(ctx, store.ListFilter{Tag: mix.Tag(), Limit: 10}); return err })
			run("popular-date", func() error { _, err := s.Popular(ctx, store.ListFilter{Day: day(), Limit: 10}); return err })
			run("create", func() error { _, err := s.CreateArticle(ctx, mix.Next()); return err })
		})
	}
}
