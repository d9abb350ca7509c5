package bench

// This file holds the ceilings articlesd's targets are ratios to: limitsrv (the least a
// server can do for GET /articles/{id}) and pgbench's create transaction (PostgreSQL's
// rate of durable creates), each on a database of its own beside the bench database.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// findBenchDir returns the directory holding limitsrv/ and the pgbench files: the
// flag's, or TestdataDir of the repository around the working directory.
func findBenchDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("bench directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, TestdataDir, "create-ceiling.sql")); err == nil {
			return filepath.Join(dir, TestdataDir), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find " + TestdataDir + " above the working directory: run bench from the repository or give --bench-dir")
		}
		dir = parent
	}
}

// startLimitsrv builds limitsrv (unless --limitsrv-bin names one), gives it the
// database <db>_limit holding count rows, starts it and waits for /hello.
func (h *harness) startLimitsrv(ctx context.Context) (*child, string, error) {
	o := h.o
	bin := o.LimitsrvBin
	if bin == "" {
		dir, err := findBenchDir(o.BenchDir)
		if err != nil {
			return nil, "", err
		}
		bin = filepath.Join(h.tmp, "limitsrv")
		start := time.Now()
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".") //nolint:gosec // the output path is in bench's temporary directory
		build.Dir = filepath.Join(dir, "limitsrv")
		build.Env = append(os.Environ(), "GOWORK=off")
		if b, err := build.CombinedOutput(); err != nil {
			return nil, "", fmt.Errorf("build limitsrv in %s: %w\n%s", build.Dir, err, b)
		}
		fmt.Fprintf(h.out, "built limitsrv in %s\n", time.Since(start).Round(time.Millisecond))
	}

	name := h.pgCfg.Database + "_limit"
	limitURL, err := databaseURLFor(o.DatabaseURL, name)
	if err != nil {
		return nil, "", err
	}
	if err := h.resetLimitDatabase(ctx, limitURL, name); err != nil {
		return nil, "", err
	}

	addr, err := freeLocalAddr()
	if err != nil {
		return nil, "", err
	}
	start := time.Now()
	c, err := startChild(ctx, "limitsrv", bin, []string{"-addr", addr, "-db", limitURL, "-seed", strconv.Itoa(o.Count)},
		childEnv(h.o.EnvPrefix), filepath.Join(h.tmp, "limitsrv.log"))
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	// limitsrv fills its table before it listens: that takes a while for a million rows.
	if err := c.waitReady(ctx, base+"/hello", 50*time.Millisecond, 30*time.Minute, "limitsrv did not answer /hello within 30 minutes"); err != nil {
		return c, "", err
	}
	fmt.Fprintf(h.out, "limitsrv (pid %d) ready in %s on %s\n", c.cmd.Process.Pid, time.Since(start).Round(time.Millisecond), name)
	return c, base, nil
}

// resetLimitDatabase makes sure the database name exists and is either empty or holds
// exactly --count rows in art: limitsrv fills an empty table itself.
func (h *harness) resetLimitDatabase(ctx context.Context, limitURL, name string) error {
	admin, err := pgx.Connect(ctx, h.o.DatabaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	created, err := ensureDatabase(ctx, admin, name)
	if err != nil || created {
		return err
	}
	rows := int64(-1)
	if conn, err := pgx.Connect(ctx, limitURL); err == nil {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM art`).Scan(&rows); err != nil {
			rows = -1
		}
		conn.Close(context.WithoutCancel(ctx))
	}
	if rows == int64(h.o.Count) {
		return nil
	}
	fmt.Fprintf(h.out, "recreating %s (its art table holds %d rows, not %d)\n", name, max(rows, 0), h.o.Count)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// waitForQuietDatabase waits until no other session runs a statement in the bench
// database for half a second, or until limit, and says how long it waited.
func (h *harness) waitForQuietDatabase(ctx context.Context, limit time.Duration) (time.Duration, error) {
	conn, err := pgx.ConnectConfig(ctx, h.pgCfg)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	start := time.Now()
	quietSince := time.Time{}
	for time.Since(start) < limit {
		var active int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`).Scan(&active)
		if err != nil {
			return 0, fmt.Errorf("watch the database: %w", err)
		}
		switch {
		case active > 0:
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = time.Now()
		case time.Since(quietSince) >= 500*time.Millisecond:
			return quietSince.Sub(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return limit, nil
}

var (
	pgbenchTPS    = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	pgbenchFailed = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// createCeiling measures PostgreSQL's rate of durable creates with pgbench on the
// database <db>_ceiling, or says why it cannot.
func (h *harness) createCeiling(ctx context.Context, name string) (result, error) {
	o := h.o
	r := result{scenario: name, target: "pgbench", conns: o.Connections}
	psql, err1 := exec.LookPath("psql")
	pgbench, err2 := exec.LookPath("pgbench")
	if err1 != nil || err2 != nil {
		r.skipped = "skipped (psql or pgbench is not on PATH)"
		return r, nil
	}
	dir, err := findBenchDir(o.BenchDir)
	if err != nil {
		return r, err
	}
	db := h.pgCfg.Database + "_ceiling"
	admin, err := pgx.ConnectConfig(ctx, h.pgCfg)
	if err != nil {
		return r, fmt.Errorf("connect: %w", err)
	}
	_, err = ensureDatabase(ctx, admin, db)
	admin.Close(context.WithoutCancel(ctx))
	if err != nil {
		return r, err
	}
	ceilCfg := h.pgCfg.Copy()
	ceilCfg.Database = db
	ceil, err := pgx.ConnectConfig(ctx, ceilCfg)
	if err != nil {
		return r, fmt.Errorf("connect to %s: %w", db, err)
	}
	defer ceil.Close(context.WithoutCancel(ctx))
	// The ceiling runs on a table as large as articlesd's: index depth and the size of the
	// full-text index weigh on every insert. It is filled once and kept across runs.
	var have int64
	var exists bool
	err = ceil.QueryRow(ctx, `SELECT to_regclass('ceil_articles') IS NOT NULL`).Scan(&exists)
	if err == nil && exists {
		err = ceil.QueryRow(ctx, `SELECT count(*) FROM ceil_articles`).Scan(&have)
	}
	if err != nil {
		return r, fmt.Errorf("count ceiling rows: %w", err)
	}

	conn := []string{"-h", h.pgCfg.Host, "-p", strconv.Itoa(int(h.pgCfg.Port)), "-U", h.pgCfg.User}
	env := childEnv(h.o.EnvPrefix, "PGPASSWORD="+h.pgCfg.Password)
	if h.pgCfg.TLSConfig == nil {
		env = append(env, "PGSSLMODE=disable")
	}
	if have < int64(o.Count) {
		start := time.Now()
		psqlArgs := slices.Concat(conn, []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", filepath.Join(dir, "create-ceiling.sql")})
		setup := exec.CommandContext(ctx, psql, psqlArgs...) //nolint:gosec // psql from PATH on the bench's own database
		setup.Env = env
		if b, err := setup.CombinedOutput(); err != nil {
			return r, fmt.Errorf("psql -f create-ceiling.sql: %w\n%s", err, b)
		}
		// Rows shaped like the pgbench transaction's, with its two tags each.
		fill := []string{
			`INSERT INTO ceil_articles (title, content, author)
				SELECT 'Title ' || g, 'Special effects have transformed the way we experience movies, with advancements bringing unimaginable worlds to life number ' || g, 'Author ' || (g % 100)
				FROM generate_series(1, $1) g`,
			`INSERT INTO ceil_tags (article_id, tag) SELECT id, 'sci-fi' FROM ceil_articles
				UNION ALL SELECT id, 'tag' || (id % 50) FROM ceil_articles`,
			`VACUUM ANALYZE ceil_articles`,
			`VACUUM ANALYZE ceil_tags`,
		}
		for i, stmt := range fill {
			var args []any
			if i == 0 {
				args = append(args, o.Count)
			}
			if _, err := ceil.Exec(ctx, stmt, args...); err != nil {
				return r, fmt.Errorf("fill the ceiling's table: %w", err)
			}
		}
		fmt.Fprintf(h.out, "create ceiling: %d rows in %s (%s)\n", o.Count, db, time.Since(start).Round(time.Millisecond))
	}

	seconds := max(1, int(math.Ceil(o.Duration.Seconds())))
	logPrefix := filepath.Join(h.tmp, "pgbench")
	args := slices.Concat(conn, []string{"-n", "-f", filepath.Join(dir, "create-txn.pgbench"),
		"-c", strconv.Itoa(o.Connections), "-j", "2", "-T", strconv.Itoa(seconds),
		"-l", "--log-prefix", logPrefix, db})
	run := exec.CommandContext(ctx, pgbench, args...) //nolint:gosec // pgbench from PATH on the bench's own database
	run.Env = env
	run.Dir = h.tmp
	b, err := run.CombinedOutput()
	if err != nil {
		return r, fmt.Errorf("pgbench: %w\n%s", err, b)
	}
	m := pgbenchTPS.FindSubmatch(b)
	if m == nil {
		return r, fmt.Errorf("pgbench printed no tps:\n%s", b)
	}
	r.reqPerSec, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := pgbenchFailed.FindSubmatch(b); m != nil {
		r.errors, _ = strconv.Atoi(string(m[1]))
	}
	// Each line of pgbench's transaction log holds a latency in µs (third field).
	logs, _ := filepath.Glob(logPrefix + ".*")
	for _, path := range logs {
		lat, failed, err := readPgbenchLog(path)
		if err != nil {
			return r, err
		}
		r.latencies = append(r.latencies, lat...)
		if r.errors == 0 {
			r.errors += failed
		}
	}
	slices.Sort(r.latencies)
	r.requests = len(r.latencies)
	fmt.Fprintf(h.out, "pgbench create ceiling on %s: %s tps at %d clients for %ds\n", db, fmtRate(r.reqPerSec), o.Connections, seconds)
	return r, nil
}

// readPgbenchLog reads the latencies of a pgbench transaction log, and how many
// transactions failed.
func readPgbenchLog(path string) ([]time.Duration, int, error) {
	f, err := os.Open(path) //nolint:gosec // a log pgbench wrote in bench's temporary directory
	if err != nil {
		return nil, 0, fmt.Errorf("pgbench log: %w", err)
	}
	defer f.Close()
	var lat []time.Duration
	failed := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			failed++
			continue
		}
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("pgbench log: %w", err)
	}
	return lat, failed, nil
}
