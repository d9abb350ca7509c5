package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/articlesd/articlesd/store"
)

// Options are the settings of one run: the flags of `articlesd bench`, the database
// of its configuration, and what only the command line knows.
type Options struct {
	// DatabaseURL is the PostgreSQL database that is seeded and that articlesd serves;
	// limitsrv and pgbench get databases of their own beside it (<db>_limit, <db>_ceiling).
	DatabaseURL string
	// DBMaxConns is the pool of the store that seeds the database.
	DBMaxConns int

	Count       int           // articles the database must hold (missing ones are seeded)
	Connections int           // of get-by-id and create, and pgbench's clients
	Duration    time.Duration // measured time of each run
	Warmup      time.Duration // unmeasured load before each run
	Rounds      int           // get-by-id runs per target, alternating limitsrv and articlesd
	Scenarios   []string      // names from ScenarioNames, in the order they run
	Seed        uint64        // of the data and of the requests: the same seed makes the same run

	ArticlesdBin string   // the server under test; empty: this binary
	LimitsrvBin  string   // a prebuilt limitsrv; empty: go build it from BenchDir
	BenchDir     string   // holds limitsrv/ and the pgbench files; empty: TestdataDir of the repository around the working directory
	NoCeiling    bool     // skip the pgbench create ceiling
	NoLimitsrv   bool     // skip limitsrv, the get-by-id ceiling
	ServeFlags   []string // extra flags of the child `articlesd serve`
	KeepTemp     bool     // keep the temporary directory with the logs of the child processes

	// Seeder inserts the articles the database lacks, as `articlesd seed --count` does.
	Seeder SeedFunc
	// EnvPrefix prefixes the environment variables of articlesd (ARTICLESD): the child
	// processes get none of them, so that their flags alone configure them.
	EnvPrefix string
	// TokenVariable is the environment variable that gives the child articlesd the
	// bootstrap token the create scenario writes with.
	TokenVariable string
}

// SeedFunc inserts count synthetic articles made from seed, created over the days
// before now, in batches of batchSize by workers writers, and reports on out.
type SeedFunc func(ctx context.Context, st *store.Store, out io.Writer, count, batchSize, workers int, seed uint64, days int) error

// TestdataDir holds limitsrv/, create-ceiling.sql and create-txn.pgbench, relative to
// the root of the repository.
const TestdataDir = "cmd/bench/testdata"

// DefaultOptions returns the defaults of the flags of `articlesd bench`.
func DefaultOptions() Options {
	return Options{
		Count:       1000000,
		Connections: 32,
		Duration:    20 * time.Second,
		Warmup:      3 * time.Second,
		Rounds:      2,
		Scenarios:   ScenarioNames(),
		Seed:        1,
	}
}

// Validate reports, in one line, the first setting that cannot make a run.
func (o Options) Validate() error {
	switch {
	case o.Count < 1:
		return fmt.Errorf("--count must be at least 1, not %d", o.Count)
	case o.Connections < 1 || o.Connections > 4096:
		return fmt.Errorf("--connections must be between 1 and 4096, not %d", o.Connections)
	case o.Duration <= 0:
		return fmt.Errorf("--duration must be positive, not %s", o.Duration)
	case o.Warmup < 0:
		return fmt.Errorf("--warmup must not be negative, not %s", o.Warmup)
	case o.Rounds < 1:
		return fmt.Errorf("--rounds must be at least 1, not %d", o.Rounds)
	}
	if _, err := o.pickedScenarios(); err != nil {
		return err
	}
	loc, err := store.ParseURL(o.DatabaseURL)
	if err != nil {
		return err
	}
	if loc.Dialect != store.Postgres || strings.TrimSpace(o.DatabaseURL) == "" {
		return errors.New("bench needs a PostgreSQL database: give --database-url postgres://…")
	}
	if o.Seeder == nil {
		return errors.New("bench: Options.Seeder is nil")
	}
	return nil
}

// pickedScenarios returns the scenarios named by o.Scenarios, in their order, blank
// names left out.
func (o Options) pickedScenarios() ([]scenario, error) {
	var picked []scenario
	for _, name := range o.Scenarios {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(ScenarioNames(), ", "))
		}
		picked = append(picked, scenarios[i])
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("--scenarios names none (known: %s)", strings.Join(ScenarioNames(), ", "))
	}
	return picked, nil
}
