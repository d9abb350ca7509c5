package store_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/store/synth"
)

// boundedArticles is the size of the data set the work of public reads is counted on.
const boundedArticles = 20000

// TestPublicReadsBounded counts (never times) the work of the listings a client can ask
// for with any parameters, on a data set of boundedArticles: each must cost what its
// filters match or its page asks for, never what the table holds. Work is rows examined
// on PostgreSQL and virtual machine steps on SQLite (see Store.WorkOf); the budget of each
// case is a multiple of the rows its plan should touch.
func TestPublicReadsBounded(t *testing.T) {
	until := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		gen := synth.NewGenerator(7, 730, until)
		for done := 0; done < boundedArticles; done += 5000 {
			batch := make([]store.NewArticle, 5000)
			for i := range batch {
				batch[i] = gen.Next()
			}
			if err := s.BulkInsert(ctx, batch, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Analyze(ctx); err != nil {
			t.Fatal(err)
		}
		day := func(d time.Time) *time.Time { return &d }
		noArticles := day(until.AddDate(-5, 0, 0))
		someDay := day(until.AddDate(0, 0, -100))
		// c is the crossover of popularWithTag for k answers.
		c := func(k int) int { return int(math.Ceil(math.Sqrt(float64(k * boundedArticles)))) }
		// Work per row touched: PostgreSQL counts rows; SQLite counts steps, several a row.
		perRow := map[store.Dialect]int64{store.Postgres: 1, store.SQLite: 6}[s.Dialect()]
		popular := func(f store.ListFilter) func() error {
			return func() error { _, err := s.Popular(ctx, f); return err }
		}
		list := func(f store.ListFilter) func() error {
			return func() error { _, _, err := s.ListTitles(ctx, f); return err }
		}
		for _, r := range []struct {
			name string
			run  func() error
			rows int // what the plan should touch: the budget is 3 rows for each, and 100
		}{
			{"popular", popular(store.ListFilter{Limit: 10}), 10},
			// Each ranked row is checked against articles (one deleted since the ranking
			// was built is skipped): two rows each.
			{"popular, deepest page", popular(store.ListFilter{Limit: 100, Offset: 10000}), 2 * 10100},
			{"popular, tag of none", popular(store.ListFilter{Tag: "nosuchtag", Limit: 10}), 0},
			{"popular, tag of none, deepest page", popular(store.ListFilter{Tag: "nosuchtag", Limit: 100, Offset: 10000}), 0},
			{"popular, common tag", popular(store.ListFilter{Tag: "sci-fi", Limit: 10}), 2 * c(10)},
			{"popular, rare tag", popular(store.ListFilter{Tag: "criticism", Limit: 10}), 2 * c(10)},
			{"popular, common tag, deepest page", popular(store.ListFilter{Tag: "sci-fi", Limit: 100, Offset: 10000}), 2 * c(10100)},
			{"popular, day without articles", popular(store.ListFilter{Day: noArticles, Limit: 10}), 0},
			{"popular, day", popular(store.ListFilter{Day: someDay, Limit: 10}), 50},
			{"popular, day and tag of none", popular(store.ListFilter{Day: someDay, Tag: "nosuchtag", Limit: 10}), 0},
			{"titles, deepest page", list(store.ListFilter{Limit: 1000, Offset: 10000}), 11000},
			{"titles, tag of none", list(store.ListFilter{Tag: "nosuchtag", Limit: 1000}), 0},
			{"titles, author of none", list(store.ListFilter{Author: "Nobody Atall", Limit: 1000}), 0},
			{"titles, author of none and common tag", list(store.ListFilter{Author: "Nobody Atall", Tag: "sci-fi", Limit: 1000}), 0},
			{"titles, day without articles", list(store.ListFilter{Day: noArticles, Limit: 1000}), 0},
			{"titles, day and tag of none", list(store.ListFilter{Day: someDay, Tag: "nosuchtag", Limit: 1000}), 0},
		} {
			work, err := s.WorkOf(ctx, r.run)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			budget := perRow * int64(3*r.rows+100)
			if work > budget {
				t.Errorf("%s: work %d, over its budget of %d (the table holds %d articles)", r.name, work, budget, boundedArticles)
			} else {
				t.Logf("%-40s work %7d of %7d", r.name, work, budget)
			}
		}
	})
}
