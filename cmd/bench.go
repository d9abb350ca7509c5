package cmd

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/cmd/bench"
	"github.com/articlesd/articlesd/store"
)

// newBenchCommand returns the hidden `articlesd bench`: its flags and configuration
// become a bench.Options, and package bench does the rest.
func newBenchCommand() *cobra.Command {
	o := bench.DefaultOptions()
	c := &cobra.Command{
		Use:   "bench",
		Short: "Load-test articlesd against its ceilings on one PostgreSQL server",
		Long: `bench is the reproducible load harness of the performance work. On the PostgreSQL
database of --database-url it seeds --count synthetic articles (only those missing),
starts this binary as a child "articlesd serve" with auth, metrics, logs and traces on
(traces go to a collector inside bench), and loads it with Go clients, scenario by
scenario. Next to articlesd it measures the ceilings the targets are ratios to:
limitsrv (the least a server can do for GET /articles/{id}, built from
` + bench.TestdataDir + `/limitsrv, on the database <db>_limit) and pgbench's create
transaction (on <db>_ceiling). It prints each scenario as it completes, then the
start-up time, the resident set, the spans received and a Markdown table.`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			o.DatabaseURL, o.DBMaxConns = cfg.DatabaseURL, cfg.DBMaxConns
			o.EnvPrefix, o.TokenVariable = envPrefix, envVariable("bootstrap-token")
			o.Seeder = func(ctx context.Context, st *store.Store, out io.Writer, count, batchSize, workers int, seed uint64, days int) error {
				return seedSynthetic(ctx, st, out, cmd.ErrOrStderr(), count, batchSize, workers, seed, days)
			}
			return bench.Run(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	f.IntVar(&o.Count, "count", o.Count, "articles the database must hold (missing ones are seeded)")
	f.IntVar(&o.Connections, "connections", o.Connections, "connections of the get-by-id and create scenarios (and pgbench clients)")
	f.DurationVar(&o.Duration, "duration", o.Duration, "measured time of each run")
	f.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured load before each run")
	f.IntVar(&o.Rounds, "rounds", o.Rounds, "get-by-id runs per target, alternating limitsrv and articlesd")
	f.StringSliceVar(&o.Scenarios, "scenarios", o.Scenarios, "scenarios to run, comma separated")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "random seed of the data and of the requests: the same seed makes the same run")
	f.StringVar(&o.ArticlesdBin, "articlesd-bin", "", "articlesd binary to start as the server under test (default: this binary)")
	f.StringVar(&o.LimitsrvBin, "limitsrv-bin", "", "prebuilt limitsrv (default: go build it from the bench directory)")
	f.StringVar(&o.BenchDir, "bench-dir", "", "directory of limitsrv/, create-ceiling.sql and create-txn.pgbench (default: "+bench.TestdataDir+" of the repository around the working directory)")
	f.BoolVar(&o.NoCeiling, "no-ceiling", false, "skip the pgbench create ceiling")
	f.BoolVar(&o.NoLimitsrv, "no-limitsrv", false, "skip limitsrv, the get-by-id ceiling")
	f.StringArrayVar(&o.ServeFlags, "serve-flag", nil, "extra flag for the child articlesd serve, such as --serve-flag=--db-max-conns=32 (repeatable)")
	f.BoolVar(&o.KeepTemp, "keep-temp", false, "keep the temporary directory with the logs of the child processes")
	return c
}
