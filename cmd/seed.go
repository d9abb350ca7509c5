package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/synth"
)

func newSeedCommand() *cobra.Command {
	var (
		count     int
		batchSize int
		seed      uint64
		days      int
		workers   int
	)
	c := &cobra.Command{
		Use:   "seed",
		Short: "Load demo articles (or --count N synthetic ones)",
		Long: `Without flags, seed loads a dozen hand-written demo articles about films and their
directors; running it again adds nothing. With --count N it generates N synthetic
articles with varied authors, tags, creation days and text, in batches. Pending
migrations are applied first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return fmt.Errorf("--count must not be negative, not %d", count)
			}
			if workers < 1 || workers > 64 {
				return fmt.Errorf("--workers must be between 1 and 64, not %d", workers)
			}
			if batchSize < 1 || batchSize > 10000 {
				return fmt.Errorf("--batch-size must be between 1 and 10000, not %d", batchSize)
			}
			return withMigratedStore(cmd, func(ctx context.Context, st *store.Store) error {
				out := cmd.OutOrStdout()
				if !cmd.Flags().Changed("count") {
					added, err := st.SeedDemo(ctx, synth.Demo())
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "added %d demo articles (%d were already there)\n", added, len(synth.Demo())-added)
					return nil
				}
				return seedSynthetic(ctx, st, out, cmd.ErrOrStderr(), count, batchSize, workers, seed, days)
			})
		},
	}
	f := c.Flags()
	f.IntVar(&count, "count", 0, "generate this many synthetic articles instead of the demo set")
	f.IntVar(&batchSize, "batch-size", 2000, "articles per insert transaction")
	f.Uint64Var(&seed, "seed", 1, "random seed of the generator: the same seed makes the same articles")
	f.IntVar(&days, "days", 730, "spread creation times over this many days before now")
	f.IntVar(&workers, "workers", 2, "batches inserted at once (the embedded database always uses one)")
	return c
}

// lexiconMinCount is the smallest synthetic set for which learning the lexicon (about
// half a second) pays: the database parses about 30,000 articles a second on two cores.
const lexiconMinCount = 10000

func seedSynthetic(ctx context.Context, st *store.Store, out, errOut io.Writer, count, batchSize, workers int, seed uint64, days int) error {
	until := time.Now()
	var bar *progress
	if f, ok := errOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = newProgress(errOut, int64(count))
	}
	// On PostgreSQL the search vectors of a large synthetic set are computed here from a
	// lexicon learned from the database (half a second), not parsed by the database.
	var lex *store.Lexicon
	if st.Dialect() == store.Postgres && count >= lexiconMinCount {
		var err error
		if lex, err = st.LoadLexicon(ctx, synth.Words()); err != nil {
			return err
		}
	}
	// Each writer generates its batches and inserts them: both the generator and the
	// database (parsing text for the search index) need CPU, and one connection keeps
	// only one core busy. Batch k always holds the same articles for a given seed,
	// whichever writer makes it.
	start := time.Now()
	batchCount := (count + batchSize - 1) / batchSize
	var next, done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			for {
				k := int(next.Add(1) - 1)
				if k >= batchCount {
					return nil
				}
				gen := synth.NewGenerator(seed+uint64(k)<<32, days, until)
				batch := make([]store.NewArticle, min(batchSize, count-k*batchSize))
				for i := range batch {
					batch[i] = gen.Next()
				}
				if err := st.BulkInsert(gctx, batch, lex); err != nil {
					return fmt.Errorf("after %d articles: %w", done.Load(), err)
				}
				n := done.Add(int64(len(batch)))
				if bar != nil {
					bar.set(n)
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if bar != nil {
		bar.finish()
	}
	// Fresh statistics, so that the first queries are planned for the data just loaded.
	if err := st.Analyze(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "inserted %d synthetic articles in %s (%.0f articles/s)\n", count, elapsed.Round(time.Millisecond), float64(count)/max(elapsed.Seconds(), 1e-9))
	return nil
}
