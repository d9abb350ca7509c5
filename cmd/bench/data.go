package bench

// This file holds the data set: migrating and seeding the bench database, and making
// the databases of the ceilings beside it.

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/store"
)

// prepareData migrates the database, seeds the articles it lacks and vacuums, and
// returns the line for the report.
func (h *harness) prepareData(ctx context.Context) (string, error) {
	o := h.o
	st, err := store.Open(ctx, o.DatabaseURL, store.Options{MaxOpenConns: o.DBMaxConns})
	if err != nil {
		return "", err
	}
	defer st.Close()
	if _, err := st.MigrateUp(ctx); err != nil {
		return "", err
	}
	have, err := st.CountArticles(ctx)
	if err != nil {
		return "", err
	}
	var line string
	if missing := o.Count - int(have); missing > 0 {
		// An empty database gets exactly what `articlesd seed --count N --seed S` makes;
		// a partial one gets other articles, not copies of its first ones.
		seed := o.Seed
		if have > 0 {
			seed += uint64(have)
		}
		workers := 2
		start := time.Now()
		if err := o.Seeder(ctx, st, h.out, missing, 2000, workers, seed, seedDays); err != nil {
			return "", fmt.Errorf("seed: %w", err)
		}
		took := time.Since(start)
		line = fmt.Sprintf("seeded %d articles (the database held %d) in %s, %.0f articles/s", missing, have, took.Round(time.Millisecond), float64(missing)/took.Seconds())
	} else {
		line = fmt.Sprintf("nothing to seed: the database holds %d articles", have)
		fmt.Fprintln(h.out, line)
	}

	conn, err := pgx.Connect(ctx, o.DatabaseURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// get-by-id draws ids in 1..count: say so now if some are missing, since each would
	// count as an error (404).
	var present int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM articles WHERE id BETWEEN 1 AND $1`, o.Count).Scan(&present); err != nil {
		return "", fmt.Errorf("count ids: %w", err)
	}
	if present < int64(o.Count) {
		fmt.Fprintf(h.out, "WARNING: only %d of the ids 1..%d exist; get-by-id will count the others as errors (404)\n", present, o.Count)
	}
	start := time.Now()
	if err := st.Analyze(ctx); err != nil {
		return "", err
	}
	fmt.Fprintf(h.out, "VACUUM ANALYZE and the search vocabulary: %s\n", time.Since(start).Round(time.Millisecond))
	// A serving articlesd builds the heads of the search words in the background within
	// its first minutes (and hourly): measured here in that steady state. Heads that a
	// load did not make stale and that are under an hour old are kept.
	start = time.Now()
	if err := st.RefreshStaleHeads(ctx); err != nil {
		return "", err
	}
	fmt.Fprintf(h.out, "search heads (rebuilt when stale or over an hour old): %s\n", time.Since(start).Round(time.Millisecond))
	return line, nil
}

// databaseURLFor returns the URL of the database name on the server of raw.
func databaseURLFor(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("database url: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// ensureDatabase creates the database name on the server of the connection unless it
// exists, and says whether it did.
func ensureDatabase(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return false, nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	return true, nil
}
