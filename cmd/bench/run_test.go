package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestBenchSmoke runs the bench for real, briefly, on a fresh PostgreSQL
// database: every scenario must appear in the table with requests and no errors, the
// report lines must be there and plausible, and no child process may outlive it.
func TestBenchSmoke(t *testing.T) {
	dbURL := storetest.URL(t, store.Postgres)
	dropCeilingDatabases(t, dbURL)
	bin := buildArticlesd(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := DefaultOptions()
	o.DatabaseURL, o.ArticlesdBin = dbURL, bin
	o.Count, o.Duration, o.Warmup, o.Rounds = 10000, time.Second, 200*time.Millisecond, 1
	o.EnvPrefix, o.TokenVariable = testEnvPrefix, testEnvPrefix+"_BOOTSTRAP_TOKEN"
	o.Seeder = seedWith(bin, dbURL)
	var out bytes.Buffer
	began := time.Now()
	err := Run(ctx, o, &out)
	t.Logf("bench ran %s; its output:\n%s", time.Since(began).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	report := out.String()

	rows := tableRows(t, report)
	// The search-quality section: a row per bucket of match counts, and the typo and
	// prefix lines.
	_, quality, ok := strings.Cut(report, "### search-quality")
	if !ok {
		t.Error("the report has no search-quality section")
	}
	for _, want := range []string{"| < 100 |", "| 100–1k |", "| 1k–10k |", "| 10k–100k |", "| > 100k |", "- typos: ", "- prefixes: "} {
		if !strings.Contains(quality, want) {
			t.Errorf("the search-quality section has no %q", want)
		}
	}
	pgbenchSkipped := false
	for _, want := range []string{
		"get-by-id/limitsrv", "get-by-id/articlesd", "list-tag/articlesd", "list-author/articlesd",
		"list-date/articlesd", "search/articlesd", "popular/articlesd", "popular-tag/articlesd",
		"popular-date/articlesd", "create/pgbench", "create/articlesd",
	} {
		row, ok := rows[want]
		if !ok {
			t.Errorf("the table has no row %s", want)
			continue
		}
		if want == "create/pgbench" && strings.HasPrefix(row[3], "skipped") {
			pgbenchSkipped = true
			t.Logf("the create ceiling was skipped: %s", row[3])
			continue
		}
		if rps, err := strconv.ParseFloat(row[3], 64); err != nil || rps <= 0 {
			t.Errorf("%s: req/s %q, want a positive number", want, row[3])
		}
		if row[8] != "0" {
			t.Errorf("%s: errors %q, want 0", want, row[8])
		}
	}
	if _, err := exec.LookPath("pgbench"); err == nil && pgbenchSkipped {
		t.Error("pgbench is on PATH but the create ceiling was skipped")
	}
	if got := rows["get-by-id/articlesd"][9]; !strings.Contains(got, "req/s") {
		t.Errorf("get-by-id/articlesd ratio %q, want the ratio to limitsrv", got)
	}
	if got := rows["create/articlesd"][9]; !pgbenchSkipped && !strings.Contains(got, "pgbench") {
		t.Errorf("create/articlesd ratio %q, want the ratio to pgbench", got)
	}

	if m := regexp.MustCompile(`(?m)^- start-up: ([0-9.]+) ms`).FindStringSubmatch(report); m == nil {
		t.Error("no start-up line")
	} else if ms, _ := strconv.ParseFloat(m[1], 64); ms <= 0 || ms > 30000 {
		t.Errorf("start-up %s ms, want between 0 and 30 s", m[1])
	}
	for _, what := range []string{"RSS idle after start", "RSS peak during load", "RSS idle 2 s after load"} {
		m := regexp.MustCompile(`(?m)^- ` + what + `: ([0-9.]+) MiB`).FindStringSubmatch(report)
		if m == nil {
			t.Errorf("no %q line with a figure", what)
			continue
		}
		if mib, _ := strconv.ParseFloat(m[1], 64); mib < 5 || mib > 4096 {
			t.Errorf("%s %s MiB, want between 5 MiB and 4 GiB", what, m[1])
		}
	}
	if m := regexp.MustCompile(`(?m)^- spans received: ([0-9]+)`).FindStringSubmatch(report); m == nil {
		t.Error("no spans line")
	} else if n, _ := strconv.Atoi(m[1]); n <= 0 {
		t.Errorf("spans received %d, want some", n)
	}
	if !regexp.MustCompile(`(?m)^- seed: seeded 10000 articles`).MatchString(report) {
		t.Error("no seed line saying 10000 articles were seeded")
	}
	// The creates are removed again: the database holds the seeded articles, no more.
	m := regexp.MustCompile(`(?m)^removed the ([0-9]+) articles the create scenario made$`).FindStringSubmatch(report)
	if m == nil {
		t.Error("no line saying the create scenario's articles were removed")
	} else if n, _ := strconv.Atoi(m[1]); n <= 0 {
		t.Errorf("removed %d articles, want the create scenario's", n)
	}
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.CountArticles(ctx); err != nil || n != 10000 {
		t.Errorf("%d articles after the bench (%v), want the 10000 seeded", n, err)
	}

	// Every child process has ended (and was waited for) when bench returns.
	pids := regexp.MustCompile(`(articlesd|limitsrv) \(pid ([0-9]+)\)`).FindAllStringSubmatch(report, -1)
	if len(pids) != 2 {
		t.Errorf("want the pids of articlesd and limitsrv in the output, found %d", len(pids))
	}
	for _, m := range pids {
		pid, _ := strconv.Atoi(m[2])
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after bench returned (kill 0: %v)", m[1], pid, err)
		}
	}
}

// tableRows returns the rows of the Markdown table of a bench report, by
// "scenario/target", each as its cells.
func tableRows(t *testing.T, report string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	header := false
	for _, line := range strings.Split(report, "\n") {
		if !strings.HasPrefix(line, "|") {
			if header {
				break // the main table ended; the search-quality tables follow
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if !header {
			// Before the main table, the progress (the search-quality tables among it).
			header = cells[0] == "scenario"
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		if len(cells) != 10 {
			t.Fatalf("table row with %d cells, want 10: %s", len(cells), line)
		}
		rows[cells[0]+"/"+cells[1]] = cells
	}
	if !header {
		t.Fatal("the report has no table")
	}
	return rows
}

// dropCeilingDatabases drops, when the test ends, the databases bench makes beside the
// one it is given.
func dropCeilingDatabases(t *testing.T, dbURL string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := databaseURLFor(dbURL, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop the bench databases: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, suffix := range []string{"_limit", "_ceiling"} {
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database + suffix}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Errorf("drop %s%s: %v", cfg.Database, suffix, err)
			}
		}
	})
}

// buildArticlesd builds the articlesd binary for bench to start: in a test,
// os.Executable is the test binary, which cannot serve.
func buildArticlesd(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot build articlesd")
	}
	out := filepath.Join(t.TempDir(), "articlesd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goBin, "build", "-o", out, "github.com/articlesd/articlesd")
	build.Env = os.Environ()
	began := time.Now()
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	t.Logf("built articlesd in %s", time.Since(began).Round(time.Millisecond))
	return out
}

// testEnvPrefix prefixes the variables of articlesd, which its children do not inherit.
const testEnvPrefix = "ARTICLESD"

// seedWith seeds as the command does, through the articlesd binary bin: its `seed
// --count` on the database dbURL.
func seedWith(bin, dbURL string) SeedFunc {
	return func(ctx context.Context, _ *store.Store, out io.Writer, count, batchSize, workers int, seed uint64, days int) error {
		seedCmd := exec.CommandContext(ctx, bin, "seed", "--database-url", dbURL,
			"--count", strconv.Itoa(count), "--batch-size", strconv.Itoa(batchSize), "--workers", strconv.Itoa(workers),
			"--seed", strconv.FormatUint(seed, 10), "--days", strconv.Itoa(days))
		seedCmd.Env = childEnv(testEnvPrefix)
		var errOut bytes.Buffer
		seedCmd.Stdout, seedCmd.Stderr = out, &errOut
		if err := seedCmd.Run(); err != nil {
			return fmt.Errorf("articlesd seed: %w\n%s", err, errOut.String())
		}
		return nil
	}
}
