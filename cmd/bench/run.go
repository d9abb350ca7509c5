// Package bench is the reproducible load harness of the performance work, behind the
// hidden `articlesd bench`. On one PostgreSQL database it seeds synthetic articles,
// starts `articlesd serve` as a child process with auth, metrics, logs and traces on
// (the traces go to a sink inside the harness), and loads it scenario by scenario with
// closed-loop Go clients. Beside articlesd it measures the ceilings its targets are
// ratios to, limitsrv and pgbench's create transaction, each on a database of its own;
// then it prints one table.
//
// Run is the one entry point; it knows nothing of flags or configuration files.
package bench

// This file holds Run, the order of things, and the runs of each kind of scenario.

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/store"
)

// harness is one run of the bench: its options and what it has set up so far.
type harness struct {
	o      Options
	picked []scenario
	out    io.Writer
	tmp    string          // the temporary directory: logs, limitsrv's binary, pgbench's logs
	pgCfg  *pgx.ConnConfig // the bench database
	// quality is the search-quality scenario's report, when it ran.
	quality *QualityReport
}

// Run runs the whole harness: data, children, scenarios, report; it prints its
// progress and then the report on out. Every child process is stopped before it
// returns, whatever happens.
func Run(ctx context.Context, o Options, out io.Writer) (err error) {
	if err := o.Validate(); err != nil {
		return err
	}
	began := time.Now()
	h := &harness{o: o, out: out}
	h.picked, _ = o.pickedScenarios()
	if h.pgCfg, err = pgx.ParseConfig(o.DatabaseURL); err != nil {
		return fmt.Errorf("database url %s: %w", store.Redact(o.DatabaseURL), err)
	}
	if h.pgCfg.Database == "" || len(h.pgCfg.Database) > 54 {
		return fmt.Errorf("the database URL must name a database of at most 54 characters (bench adds _ceiling), not %q", h.pgCfg.Database)
	}
	fmt.Fprintf(out, "bench: %s, %d articles, %d connections, %s per run after %s warm-up, seed %d\n",
		store.Redact(o.DatabaseURL), o.Count, o.Connections, o.Duration, o.Warmup, o.Seed)

	rep := report{opts: o, picked: h.picked}
	if rep.seedLine, err = h.prepareData(ctx); err != nil {
		return err
	}

	if h.tmp, err = os.MkdirTemp("", "articlesd-bench-"); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if o.KeepTemp {
		fmt.Fprintf(out, "logs of the child processes: %s\n", h.tmp)
	} else {
		defer os.RemoveAll(h.tmp)
	}

	// The collector stops after articlesd, which flushes its last spans as it stops.
	sink, err := startSpanSink()
	if err != nil {
		return err
	}
	defer sink.srv.Stop()

	// The children stop in reverse order of their start, on every return path.
	var children []*child
	defer func() {
		for _, c := range slices.Backward(children) {
			if stopErr := c.stop(15 * time.Second); stopErr != nil && err == nil {
				err = stopErr
			}
		}
	}()

	var limitBase string
	if _, ok := inRounds(h.picked); ok && !o.NoLimitsrv {
		lim, base, err := h.startLimitsrv(ctx)
		if lim != nil {
			children = append(children, lim)
		}
		if err != nil {
			return err
		}
		limitBase = base
	}

	token := newToken()
	art, base, startup, err := h.startArticlesd(ctx, sink.addr, token)
	if art != nil {
		children = append(children, art)
	}
	if err != nil {
		return err
	}
	rep.startup = startup
	rep.rssStart = art.rss()
	fmt.Fprintf(out, "articlesd (pid %d) start-up: %s from exec to the first 200 from /readyz; RSS %s\n",
		art.cmd.Process.Pid, fmtDuration(startup), fmtMiB(rep.rssStart))

	peak := startRSSSampler(art, 200*time.Millisecond)
	rows, err := h.runScenarios(ctx, base, limitBase, token)
	rep.rssSampled = peak.stop()
	if err != nil {
		return err
	}
	rep.rows = rows
	rep.quality = h.quality
	rep.rssPeak = art.statusKB("VmHWM")

	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	rep.rssAfter = art.rss()

	// articlesd flushes its last spans when it stops gracefully.
	if err := art.stop(15 * time.Second); err != nil {
		return err
	}
	rep.spans = sink.spans.Load()
	rep.elapsed = time.Since(began)
	rep.print(out)
	return nil
}

// scenarioRun is the run of the scenarios against one articlesd: where it listens, the
// token it writes with, and the rows done so far.
type scenarioRun struct {
	*harness
	base, limitBase, token string
	today                  time.Time
	rows                   []result
}

// runScenarios runs the scenarios asked for, printing each as it completes, and
// returns the rows of the table.
func (h *harness) runScenarios(ctx context.Context, base, limitBase, token string) ([]result, error) {
	sr := &scenarioRun{harness: h, base: base, limitBase: limitBase, token: token, today: time.Now().UTC().Truncate(24 * time.Hour)}
	for _, s := range h.picked {
		var err error
		switch {
		case s.quality:
			err = sr.searchQuality(ctx)
		case s.ceiling == limitsrvCeiling:
			err = sr.againstLimitsrv(ctx, s)
		case s.ceiling == pgbenchCeiling:
			err = sr.againstPgbench(ctx, s)
		default:
			err = sr.alone(ctx, s)
		}
		if err != nil {
			return sr.rows, err
		}
	}
	return sr.rows, nil
}

// add prints a row as it completes, with its error samples, and keeps it.
func (sr *scenarioRun) add(r result) {
	fmt.Fprintln(sr.out, r.line())
	for _, s := range r.errorSamples {
		fmt.Fprintf(sr.out, "    error: %s\n", s)
	}
	sr.rows = append(sr.rows, r)
}

// load runs the scenario once against the target at base.
func (sr *scenarioRun) load(ctx context.Context, s scenario, target, base string) (result, error) {
	spec := s.spec(sr.o, target, base, sr.token, sr.today)
	r, err := runLoad(ctx, spec, sr.o.Warmup, sr.o.Duration)
	if err != nil {
		return r, fmt.Errorf("%s against %s: %w", spec.scenario, spec.target, err)
	}
	return r, nil
}

// alone runs a scenario without a ceiling.
func (sr *scenarioRun) alone(ctx context.Context, s scenario) error {
	r, err := sr.load(ctx, s, "articlesd", sr.base)
	if err != nil {
		return err
	}
	sr.add(r)
	if s.slowest {
		fmt.Fprintf(sr.out, "  slowest %s queries:\n", s.name)
		for _, l := range r.slowest {
			fmt.Fprintf(sr.out, "    %10s  %q\n", fmtDuration(l.latency), l.label)
		}
	}
	return nil
}

// againstLimitsrv runs the scenario in rounds, limitsrv then articlesd, and gives
// articlesd's row the median of the rounds' ratios.
func (sr *scenarioRun) againstLimitsrv(ctx context.Context, s scenario) error {
	o := sr.o
	var lim, art []result
	for round := range o.Rounds {
		if sr.limitBase != "" {
			r, err := sr.load(ctx, s, "limitsrv", sr.limitBase)
			if err != nil {
				return err
			}
			fmt.Fprintf(sr.out, "round %d/%d: %s\n", round+1, o.Rounds, r.line())
			lim = append(lim, r)
		}
		r, err := sr.load(ctx, s, "articlesd", sr.base)
		if err != nil {
			return err
		}
		fmt.Fprintf(sr.out, "round %d/%d: %s\n", round+1, o.Rounds, r.line())
		art = append(art, r)
		// The views counted in the round are still being written: that is articlesd's
		// cost, not the next limitsrv round's.
		settled, err := sr.waitForQuietDatabase(ctx, time.Minute)
		if err != nil {
			return err
		}
		fmt.Fprintf(sr.out, "round %d/%d: database quiet %s after the round (view flushes)\n", round+1, o.Rounds, settled.Round(10*time.Millisecond))
	}
	artRow := mergeRounds(art)
	if len(lim) > 0 {
		sr.add(mergeRounds(lim))
		var rps, p99 []float64
		for i := range art {
			rps = append(rps, art[i].reqPerSec/lim[i].reqPerSec)
			p99 = append(p99, float64(art[i].percentile(0.99))/float64(lim[i].percentile(0.99)))
		}
		artRow.ratio = fmt.Sprintf("req/s %.2f×, p99 %.2f× (median of %s)", median(rps), median(p99), plural(len(rps), "round"))
	} else {
		sr.add(result{scenario: s.name, target: "limitsrv", conns: s.conns(o), skipped: "skipped (--no-limitsrv)"})
	}
	sr.add(artRow)
	return nil
}

// againstPgbench measures the create ceiling with pgbench, then the scenario, and
// gives articlesd's row its ratio to pgbench's rate.
func (sr *scenarioRun) againstPgbench(ctx context.Context, s scenario) error {
	ceiling := result{scenario: s.name, target: "pgbench", conns: s.conns(sr.o)}
	if sr.o.NoCeiling {
		ceiling.skipped = "skipped (--no-ceiling)"
	} else {
		var err error
		if ceiling, err = sr.createCeiling(ctx, s.name); err != nil {
			return err
		}
	}
	sr.add(ceiling)
	last, err := sr.lastID(ctx)
	if err != nil {
		return err
	}
	r, err := sr.load(ctx, s, "articlesd", sr.base)
	if err != nil {
		return err
	}
	if ceiling.skipped == "" && ceiling.reqPerSec > 0 {
		r.ratio = fmt.Sprintf("req/s %.2f× pgbench tps", r.reqPerSec/ceiling.reqPerSec)
	}
	sr.add(r)
	return sr.removeCreated(ctx, last)
}

// lastID is the highest article id in the database: every article a create scenario
// makes gets a higher one.
func (sr *scenarioRun) lastID(ctx context.Context) (int64, error) {
	conn, err := pgx.ConnectConfig(ctx, sr.pgCfg)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var last int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM articles`).Scan(&last); err != nil {
		return 0, fmt.Errorf("highest article id: %w", err)
	}
	return last, nil
}

// removeCreated deletes the articles made after the one with id last (their tags and
// view counts go with them), so that runs do not grow the data set.
func (sr *scenarioRun) removeCreated(ctx context.Context, last int64) error {
	conn, err := pgx.ConnectConfig(ctx, sr.pgCfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tag, err := conn.Exec(ctx, `DELETE FROM articles WHERE id > $1`, last)
	if err != nil {
		return fmt.Errorf("remove the articles the create scenario made: %w", err)
	}
	fmt.Fprintf(sr.out, "removed the %d articles the create scenario made\n", tag.RowsAffected())
	return nil
}
