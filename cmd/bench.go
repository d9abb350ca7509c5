package cmd

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/synth"
)

// The scenarios of `articlesd bench`, in the order they run. create runs last: it is
// the only one that changes the data.
var benchScenarios = []string{
	"get-by-id", "list-tag", "list-author", "list-date", "search",
	"popular", "popular-tag", "popular-date", "create",
}

// benchDays is how many days before now the synthetic articles were created over (the
// seeder's default); list-date and popular-date draw their days from that span.
const benchDays = 730

// benchOptions are the flags of `articlesd bench`.
type benchOptions struct {
	count        int
	connections  int
	duration     time.Duration
	warmup       time.Duration
	rounds       int
	scenarios    []string
	seed         uint64
	articlesdBin string
	limitsrvBin  string
	benchDir     string
	noCeiling    bool
	noLimitsrv   bool
	serveFlags   []string
	keepTemp     bool
}

func newBenchCommand() *cobra.Command {
	var o benchOptions
	c := &cobra.Command{
		Use:   "bench",
		Short: "Load-test articlesd against its ceilings on one PostgreSQL server",
		Long: `bench is the reproducible load harness of the performance work. On the PostgreSQL
database of --database-url it seeds --count synthetic articles (only those missing),
starts this binary as a child "articlesd serve" with auth, metrics, logs and traces on
(traces go to a collector inside bench), and loads it with Go clients, scenario by
scenario. Next to articlesd it measures the ceilings the targets are ratios to:
limitsrv (the least a server can do for GET /articles/{id}, built from
cmd/testdata/bench/limitsrv, on the database <db>_limit) and pgbench's create
transaction (on <db>_ceiling). It prints each scenario as it completes, then the
start-up time, the resident set, the spans received and a Markdown table.`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			loc, err := store.ParseURL(cfg.DatabaseURL)
			if err != nil {
				return err
			}
			if loc.Dialect != store.Postgres || strings.TrimSpace(cfg.DatabaseURL) == "" {
				return errors.New("bench needs a PostgreSQL database: give --database-url postgres://…")
			}
			return runBench(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, o)
		},
	}
	f := c.Flags()
	f.IntVar(&o.count, "count", 1000000, "articles the database must hold (missing ones are seeded)")
	f.IntVar(&o.connections, "connections", 32, "connections of the get-by-id and create scenarios (and pgbench clients)")
	f.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each run")
	f.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured load before each run")
	f.IntVar(&o.rounds, "rounds", 2, "get-by-id runs per target, alternating limitsrv and articlesd")
	f.StringSliceVar(&o.scenarios, "scenarios", benchScenarios, "scenarios to run, comma separated")
	f.Uint64Var(&o.seed, "seed", 1, "random seed of the data and of the requests: the same seed makes the same run")
	f.StringVar(&o.articlesdBin, "articlesd-bin", "", "articlesd binary to start as the server under test (default: this binary)")
	f.StringVar(&o.limitsrvBin, "limitsrv-bin", "", "prebuilt limitsrv (default: go build it from the bench directory)")
	f.StringVar(&o.benchDir, "bench-dir", "", "directory of limitsrv/, create-ceiling.sql and create-txn.pgbench (default: cmd/testdata/bench of the repository around the working directory)")
	f.BoolVar(&o.noCeiling, "no-ceiling", false, "skip the pgbench create ceiling")
	f.BoolVar(&o.noLimitsrv, "no-limitsrv", false, "skip limitsrv, the get-by-id ceiling")
	f.StringArrayVar(&o.serveFlags, "serve-flag", nil, "extra flag for the child articlesd serve, such as --serve-flag=--db-max-conns=32 (repeatable)")
	f.BoolVar(&o.keepTemp, "keep-temp", false, "keep the temporary directory with the logs of the child processes")
	return c
}

func (o *benchOptions) validate() error {
	switch {
	case o.count < 1:
		return fmt.Errorf("--count must be at least 1, not %d", o.count)
	case o.connections < 1 || o.connections > 4096:
		return fmt.Errorf("--connections must be between 1 and 4096, not %d", o.connections)
	case o.duration <= 0:
		return fmt.Errorf("--duration must be positive, not %s", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("--warmup must not be negative, not %s", o.warmup)
	case o.rounds < 1:
		return fmt.Errorf("--rounds must be at least 1, not %d", o.rounds)
	}
	var picked []string
	for _, s := range o.scenarios {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(benchScenarios, s) {
			return fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(benchScenarios, ", "))
		}
		picked = append(picked, s)
	}
	if len(picked) == 0 {
		return fmt.Errorf("--scenarios names none (known: %s)", strings.Join(benchScenarios, ", "))
	}
	o.scenarios = picked
	return nil
}

func (o *benchOptions) runs(scenario string) bool { return slices.Contains(o.scenarios, scenario) }

// runBench runs the whole harness: data, children, scenarios, report. Every child
// process is stopped before it returns, whatever happens.
func runBench(ctx context.Context, out, errOut io.Writer, cfg Config, o benchOptions) (err error) {
	began := time.Now()
	pgCfg, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database url %s: %w", store.Redact(cfg.DatabaseURL), err)
	}
	if pgCfg.Database == "" || len(pgCfg.Database) > 54 {
		return fmt.Errorf("the database URL must name a database of at most 54 characters (bench adds _ceiling), not %q", pgCfg.Database)
	}
	fmt.Fprintf(out, "bench: %s, %d articles, %d connections, %s per run after %s warm-up, seed %d\n",
		store.Redact(cfg.DatabaseURL), o.count, o.connections, o.duration, o.warmup, o.seed)

	var rep benchReport
	rep.opts = o
	if rep.seedLine, err = prepareBenchData(ctx, out, errOut, cfg, o); err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "articlesd-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if o.keepTemp {
		fmt.Fprintf(out, "logs of the child processes: %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	// The collector stops after articlesd, which flushes its last spans as it stops.
	sink, err := startSpanSink()
	if err != nil {
		return err
	}
	defer sink.srv.Stop()

	// The children stop in reverse order of their start, on every return path.
	var children []*benchChild
	defer func() {
		for _, c := range slices.Backward(children) {
			if stopErr := c.stop(15 * time.Second); stopErr != nil && err == nil {
				err = stopErr
			}
		}
	}()

	var limitBase string
	if o.runs("get-by-id") && !o.noLimitsrv {
		lim, base, err := startLimitsrv(ctx, out, tmp, pgCfg, cfg.DatabaseURL, o)
		if lim != nil {
			children = append(children, lim)
		}
		if err != nil {
			return err
		}
		limitBase = base
	}

	token := benchToken()
	art, base, startup, err := startArticlesd(ctx, tmp, cfg.DatabaseURL, sink.addr, token, o)
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
	rows, err := runBenchScenarios(ctx, out, tmp, pgCfg, base, limitBase, token, o)
	rep.rssSampled = peak.stop()
	if err != nil {
		return err
	}
	rep.rows = rows
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

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

// prepareBenchData migrates the database, seeds the articles it lacks and vacuums, and
// returns the line for the report.
func prepareBenchData(ctx context.Context, out, errOut io.Writer, cfg Config, o benchOptions) (string, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxOpenConns: cfg.DBMaxConns})
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
	if missing := o.count - int(have); missing > 0 {
		// An empty database gets exactly what `articlesd seed --count N --seed S` makes;
		// a partial one gets other articles, not copies of its first ones.
		seed := o.seed
		if have > 0 {
			seed += uint64(have)
		}
		workers := 2
		start := time.Now()
		if err := seedSynthetic(ctx, st, out, errOut, missing, 2000, workers, seed, benchDays); err != nil {
			return "", fmt.Errorf("seed: %w", err)
		}
		took := time.Since(start)
		line = fmt.Sprintf("seeded %d articles (the database held %d) in %s, %.0f articles/s", missing, have, took.Round(time.Millisecond), float64(missing)/took.Seconds())
	} else {
		line = fmt.Sprintf("nothing to seed: the database holds %d articles", have)
		fmt.Fprintln(out, line)
	}

	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// get-by-id draws ids in 1..count: say so now if some are missing, since each would
	// count as an error (404).
	var present int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM articles WHERE id BETWEEN 1 AND $1`, o.count).Scan(&present); err != nil {
		return "", fmt.Errorf("count ids: %w", err)
	}
	if present < int64(o.count) {
		fmt.Fprintf(out, "WARNING: only %d of the ids 1..%d exist; get-by-id will count the others as errors (404)\n", present, o.count)
	}
	start := time.Now()
	if err := st.Analyze(ctx); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "VACUUM ANALYZE: %s\n", time.Since(start).Round(time.Millisecond))
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

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

// benchChild is a child process of the harness, its output in a log file.
type benchChild struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited, with err set
	err     error
	once    sync.Once
}

// startBenchChild starts bin with args, its output going to logPath. The process gets
// SIGTERM when ctx ends, and SIGKILL 10 s later.
func startBenchChild(ctx context.Context, name, bin string, args, env []string, logPath string) (*benchChild, error) {
	logFile, err := os.Create(logPath) //nolint:gosec // a file in bench's own temporary directory
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, bin, args...) //nolint:gosec // starting the binaries it is told to is what bench is for
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &benchChild{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *benchChild) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop asks the process to stop (SIGTERM), kills it after grace, and waits for it. It
// returns an error only when the process had to be killed.
func (c *benchChild) stop(grace time.Duration) error {
	var err error
	c.once.Do(func() {
		if c.exited() {
			return
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
			_ = c.cmd.Process.Kill()
			<-c.done
			err = fmt.Errorf("%s did not stop within %s of SIGTERM: killed", c.name, grace)
		}
	})
	return err
}

// died says why the process ended early, with the end of its output.
func (c *benchChild) died() error {
	return fmt.Errorf("%s exited early (%w); the end of its output:\n%s", c.name, c.err, c.tail(20))
}

// tail returns the last n lines the process wrote.
func (c *benchChild) tail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// statusKB reads a field of /proc/PID/status in kB (VmRSS, VmHWM); 0 where unknown.
func (c *benchChild) statusKB(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// rss is the resident set of the process in kB.
func (c *benchChild) rss() int64 { return c.statusKB("VmRSS") }

// rssSampler records the largest resident set seen while it runs.
type rssSampler struct {
	max  atomic.Int64
	quit chan struct{}
	done chan struct{}
}

func startRSSSampler(c *benchChild, every time.Duration) *rssSampler {
	s := &rssSampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if kb := c.rss(); kb > s.max.Load() {
				s.max.Store(kb)
			}
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest resident set seen, in kB.
func (s *rssSampler) stop() int64 {
	close(s.quit)
	<-s.done
	return s.max.Load()
}

// childEnv is this process's environment without the variables that configure
// articlesd or OpenTelemetry: the child is configured by its flags only.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix+"_") || strings.HasPrefix(name, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// freeLocalAddr returns a 127.0.0.1 address with a port free right now.
func freeLocalAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// benchToken returns a fresh bootstrap token for the writes of the create scenario.
func benchToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}

// startArticlesd starts `articlesd serve` with telemetry on and returns it once /readyz
// says 200, with its base URL and the start-up time.
func startArticlesd(ctx context.Context, tmp, dbURL, otlpAddr, token string, o benchOptions) (*benchChild, string, time.Duration, error) {
	bin := o.articlesdBin
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, "", 0, fmt.Errorf("find this binary: %w", err)
		}
		bin = exe
	}
	addr, err := freeLocalAddr()
	if err != nil {
		return nil, "", 0, err
	}
	args := append([]string{"serve",
		"--addr", addr,
		"--database-url", dbURL,
		"--auth", "on",
		"--metrics",
		"--log-file", filepath.Join(tmp, "articlesd.log"),
		"--otlp-endpoint", otlpAddr,
		"--otlp-insecure",
		"--trace-sample-ratio", "0.1",
	}, o.serveFlags...)
	began := time.Now()
	c, err := startBenchChild(ctx, "articlesd", bin, args, childEnv(envVariable("bootstrap-token")+"="+token), filepath.Join(tmp, "articlesd.stderr"))
	if err != nil {
		return nil, "", 0, err
	}
	base := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, base, time.Since(began), nil
			}
		}
		if c.exited() {
			return c, "", 0, c.died()
		}
		if time.Now().After(deadline) {
			return c, "", 0, fmt.Errorf("articlesd was not ready within 60s; the end of its output:\n%s", c.tail(20))
		}
		select {
		case <-ctx.Done():
			return c, "", 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// findBenchDir returns the directory holding limitsrv/ and the pgbench files: the
// flag's, or cmd/testdata/bench of the repository around the working directory.
func findBenchDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("bench directory: %w", err)
	}
	for {
		for _, rel := range []string{"cmd/testdata/bench", "testdata/bench"} {
			if _, err := os.Stat(filepath.Join(dir, rel, "create-ceiling.sql")); err == nil {
				return filepath.Join(dir, rel), nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find cmd/testdata/bench above the working directory: run bench from the repository or give --bench-dir")
		}
		dir = parent
	}
}

// startLimitsrv builds limitsrv (unless --limitsrv-bin names one), gives it the
// database <db>_limit holding count rows, starts it and waits for /hello.
func startLimitsrv(ctx context.Context, out io.Writer, tmp string, pgCfg *pgx.ConnConfig, dbURL string, o benchOptions) (*benchChild, string, error) {
	bin := o.limitsrvBin
	if bin == "" {
		dir, err := findBenchDir(o.benchDir)
		if err != nil {
			return nil, "", err
		}
		bin = filepath.Join(tmp, "limitsrv")
		start := time.Now()
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".") //nolint:gosec // the output path is in bench's temporary directory
		build.Dir = filepath.Join(dir, "limitsrv")
		build.Env = append(os.Environ(), "GOWORK=off")
		if b, err := build.CombinedOutput(); err != nil {
			return nil, "", fmt.Errorf("build limitsrv in %s: %w\n%s", build.Dir, err, b)
		}
		fmt.Fprintf(out, "built limitsrv in %s\n", time.Since(start).Round(time.Millisecond))
	}

	name := pgCfg.Database + "_limit"
	limitURL, err := databaseURLFor(dbURL, name)
	if err != nil {
		return nil, "", err
	}
	if err := resetLimitDatabase(ctx, out, dbURL, limitURL, name, o.count); err != nil {
		return nil, "", err
	}

	addr, err := freeLocalAddr()
	if err != nil {
		return nil, "", err
	}
	start := time.Now()
	c, err := startBenchChild(ctx, "limitsrv", bin, []string{"-addr", addr, "-db", limitURL, "-seed", strconv.Itoa(o.count)},
		childEnv(), filepath.Join(tmp, "limitsrv.log"))
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	// limitsrv fills its table before it listens: that takes a while for a million rows.
	deadline := time.Now().Add(30 * time.Minute)
	for {
		resp, err := client.Get(base + "/hello")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintf(out, "limitsrv (pid %d) ready in %s on %s\n", c.cmd.Process.Pid, time.Since(start).Round(time.Millisecond), name)
				return c, base, nil
			}
		}
		if c.exited() {
			return c, "", c.died()
		}
		if time.Now().After(deadline) {
			return c, "", fmt.Errorf("limitsrv did not answer /hello within 30 minutes; the end of its output:\n%s", c.tail(20))
		}
		select {
		case <-ctx.Done():
			return c, "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// resetLimitDatabase makes sure the database name exists and is either empty or holds
// exactly count rows in art: limitsrv fills an empty table itself.
func resetLimitDatabase(ctx context.Context, out io.Writer, dbURL, limitURL, name string, count int) error {
	admin, err := pgx.Connect(ctx, dbURL)
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
	if rows == int64(count) {
		return nil
	}
	fmt.Fprintf(out, "recreating %s (its art table holds %d rows, not %d)\n", name, max(rows, 0), count)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// benchSpanSink is an OTLP gRPC trace collector that only counts the spans it gets.
type benchSpanSink struct {
	coltracepb.UnimplementedTraceServiceServer
	spans atomic.Int64
	addr  string
	srv   *grpc.Server
}

// Export counts the spans of one export.
func (s *benchSpanSink) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	var n int64
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += int64(len(ss.GetSpans()))
		}
	}
	s.spans.Add(n)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func startSpanSink() (*benchSpanSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("trace collector: %w", err)
	}
	s := &benchSpanSink{addr: ln.Addr().String(), srv: grpc.NewServer()}
	coltracepb.RegisterTraceServiceServer(s.srv, s)
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

// benchRequest is one request of a scenario; label names it in the slowest list.
type benchRequest struct {
	method, path string
	body         []byte
	label        string
}

// loadSpec describes one measured run: next makes the requests of one connection.
type loadSpec struct {
	scenario, target, base string
	conns                  int
	want                   int // the status of a success
	token                  string
	next                   func(worker int) func() benchRequest
}

// runBenchScenarios runs the scenarios asked for, printing each as it completes, and
// returns the rows of the table.
func runBenchScenarios(ctx context.Context, out io.Writer, tmp string, pgCfg *pgx.ConnConfig, base, limitBase, token string, o benchOptions) ([]benchResult, error) {
	var rows []benchResult
	add := func(r benchResult) {
		fmt.Fprintln(out, r.line())
		for _, s := range r.errorSamples {
			fmt.Fprintf(out, "    error: %s\n", s)
		}
		rows = append(rows, r)
	}
	run := func(spec loadSpec) (benchResult, error) {
		r, err := runLoad(ctx, spec, o.warmup, o.duration)
		if err != nil {
			return r, fmt.Errorf("%s against %s: %w", spec.scenario, spec.target, err)
		}
		return r, nil
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	single := func(name, target string, path func(g *synth.Generator, r *mrand.Rand) (string, string)) loadSpec {
		return loadSpec{scenario: name, target: target, base: base, conns: 1, want: http.StatusOK,
			next: func(w int) func() benchRequest {
				g, r := benchRand(o.seed, name, w)
				return func() benchRequest {
					p, label := path(g, r)
					return benchRequest{method: http.MethodGet, path: p, label: label}
				}
			}}
	}
	day := func(r *mrand.Rand) string { return today.AddDate(0, 0, -r.IntN(benchDays)).Format(time.DateOnly) }
	query := func(path string, kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return path + "?" + v.Encode()
	}

	for _, name := range o.scenarios {
		switch name {
		case "get-by-id":
			byID := func(target, b string) loadSpec {
				return loadSpec{scenario: name, target: target, base: b, conns: o.connections, want: http.StatusOK,
					next: func(w int) func() benchRequest {
						_, r := benchRand(o.seed, name, w)
						return func() benchRequest {
							return benchRequest{method: http.MethodGet, path: "/articles/" + strconv.Itoa(1+r.IntN(o.count))}
						}
					}}
			}
			var lim, art []benchResult
			for round := range o.rounds {
				if limitBase != "" {
					r, err := run(byID("limitsrv", limitBase))
					if err != nil {
						return rows, err
					}
					fmt.Fprintf(out, "round %d/%d: %s\n", round+1, o.rounds, r.line())
					lim = append(lim, r)
				}
				r, err := run(byID("articlesd", base))
				if err != nil {
					return rows, err
				}
				fmt.Fprintf(out, "round %d/%d: %s\n", round+1, o.rounds, r.line())
				art = append(art, r)
				// The views counted in the round are still being written: that is
				// articlesd's cost, not the next limitsrv round's.
				settled, err := waitForQuietDatabase(ctx, pgCfg, time.Minute)
				if err != nil {
					return rows, err
				}
				fmt.Fprintf(out, "round %d/%d: database quiet %s after the round (view flushes)\n", round+1, o.rounds, settled.Round(10*time.Millisecond))
			}
			artRow := mergeRounds(art)
			if len(lim) > 0 {
				limRow := mergeRounds(lim)
				add(limRow)
				var rps, p99 []float64
				for i := range art {
					rps = append(rps, art[i].reqPerSec/lim[i].reqPerSec)
					p99 = append(p99, float64(art[i].percentile(0.99))/float64(lim[i].percentile(0.99)))
				}
				artRow.ratio = fmt.Sprintf("req/s %.2f×, p99 %.2f× (median of %s)", median(rps), median(p99), plural(len(rps), "round"))
			} else {
				add(benchResult{scenario: name, target: "limitsrv", conns: o.connections, skipped: "skipped (--no-limitsrv)"})
			}
			add(artRow)
		case "list-tag":
			r, err := run(single(name, "articlesd", func(g *synth.Generator, _ *mrand.Rand) (string, string) {
				t := g.Tag()
				return query("/articles", "tag", t, "limit", "100"), t
			}))
			if err != nil {
				return rows, err
			}
			add(r)
		case "list-author":
			r, err := run(single(name, "articlesd", func(g *synth.Generator, _ *mrand.Rand) (string, string) {
				a := g.Author()
				return query("/articles", "author", a, "limit", "100"), a
			}))
			if err != nil {
				return rows, err
			}
			add(r)
		case "list-date":
			r, err := run(single(name, "articlesd", func(_ *synth.Generator, r *mrand.Rand) (string, string) {
				d := day(r)
				return query("/articles", "date", d, "limit", "100"), d
			}))
			if err != nil {
				return rows, err
			}
			add(r)
		case "search":
			r, err := run(single(name, "articlesd", func(g *synth.Generator, _ *mrand.Rand) (string, string) {
				q := g.SearchQuery()
				return query("/articles/search", "query", q), q
			}))
			if err != nil {
				return rows, err
			}
			add(r)
			fmt.Fprintln(out, "  slowest search queries:")
			for _, s := range r.slowest {
				fmt.Fprintf(out, "    %10s  %q\n", fmtDuration(s.latency), s.label)
			}
		case "popular":
			r, err := run(single(name, "articlesd", func(_ *synth.Generator, _ *mrand.Rand) (string, string) {
				return "/articles/popular", ""
			}))
			if err != nil {
				return rows, err
			}
			add(r)
		case "popular-tag":
			r, err := run(single(name, "articlesd", func(g *synth.Generator, _ *mrand.Rand) (string, string) {
				t := g.Tag()
				return query("/articles/popular", "tag", t), t
			}))
			if err != nil {
				return rows, err
			}
			add(r)
		case "popular-date":
			r, err := run(single(name, "articlesd", func(_ *synth.Generator, r *mrand.Rand) (string, string) {
				d := day(r)
				return query("/articles/popular", "date", d), d
			}))
			if err != nil {
				return rows, err
			}
			add(r)
		case "create":
			ceiling := benchResult{scenario: name, target: "pgbench", conns: o.connections}
			if o.noCeiling {
				ceiling.skipped = "skipped (--no-ceiling)"
			} else {
				var err error
				if ceiling, err = runCreateCeiling(ctx, out, tmp, pgCfg, o); err != nil {
					return rows, err
				}
			}
			add(ceiling)
			r, err := run(loadSpec{scenario: name, target: "articlesd", base: base, conns: o.connections, want: http.StatusCreated, token: token,
				next: func(w int) func() benchRequest {
					g, _ := benchRand(o.seed, name, w)
					return func() benchRequest {
						a := g.Next()
						if a.Tags == nil {
							a.Tags = []string{}
						}
						body, _ := json.Marshal(map[string]any{"title": a.Title, "content": a.Content, "author": a.Author, "tags": a.Tags})
						return benchRequest{method: http.MethodPost, path: "/articles", body: body}
					}
				}})
			if err != nil {
				return rows, err
			}
			if ceiling.skipped == "" && ceiling.reqPerSec > 0 {
				r.ratio = fmt.Sprintf("req/s %.2f× pgbench tps", r.reqPerSec/ceiling.reqPerSec)
			}
			add(r)
		}
	}
	return rows, nil
}

// benchRand returns the generators of one connection of a scenario: the same seed,
// scenario and connection always draw the same requests.
func benchRand(seed uint64, scenario string, worker int) (*synth.Generator, *mrand.Rand) {
	h := fnv.New64a()
	_, _ = io.WriteString(h, scenario)
	s := seed ^ h.Sum64() ^ uint64(worker+1)<<40
	return synth.NewGenerator(s, benchDays, time.Now()), mrand.New(mrand.NewPCG(s, s>>1|1)) //nolint:gosec // seeded on purpose: runs must be reproducible
}

// labeledLatency is one request's latency and what it asked.
type labeledLatency struct {
	latency time.Duration
	label   string
}

// benchResult is one row of the table.
type benchResult struct {
	scenario, target string
	conns            int
	skipped          string // why it did not run; empty when it did
	requests         int
	reqPerSec        float64
	latencies        []time.Duration // sorted
	errors           int
	errorSamples     []string
	slowest          []labeledLatency
	ratio            string
}

func (r benchResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.latencies)))) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

// line is the one-line report printed when the row completes.
func (r benchResult) line() string {
	if r.skipped != "" {
		return fmt.Sprintf("%-12s %-9s %s", r.scenario, r.target, r.skipped)
	}
	s := fmt.Sprintf("%-12s %-9s %3d conns %9s req/s  p50 %s  p95 %s  p99 %s  max %s  errors %d",
		r.scenario, r.target, r.conns, fmtRate(r.reqPerSec),
		fmtDuration(r.percentile(0.50)), fmtDuration(r.percentile(0.95)), fmtDuration(r.percentile(0.99)), fmtDuration(r.percentile(1)), r.errors)
	if r.ratio != "" {
		s += "  " + r.ratio
	}
	return s
}

// mergeRounds folds the rounds of one target into one row: the median rate, the
// latencies and errors of all rounds.
func mergeRounds(rounds []benchResult) benchResult {
	m := rounds[0]
	m.latencies = nil
	m.errorSamples = nil
	m.requests, m.errors = 0, 0
	var rates []float64
	for _, r := range rounds {
		rates = append(rates, r.reqPerSec)
		m.latencies = append(m.latencies, r.latencies...)
		m.requests += r.requests
		m.errors += r.errors
		m.errorSamples = append(m.errorSamples, r.errorSamples...)
	}
	slices.Sort(m.latencies)
	m.reqPerSec = median(rates)
	return m
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// maxErrorSamples bounds the errors shown per scenario (all are counted).
const maxErrorSamples = 5

// benchWorker holds what one connection measured.
type benchWorker struct {
	latencies []time.Duration
	errors    int
	samples   []string
	slowest   []labeledLatency
	lastEnd   time.Time
	fatal     error
}

// keepSlowest adds l to the five slowest latencies of the worker.
func (w *benchWorker) keepSlowest(l labeledLatency) {
	if len(w.slowest) == 5 && l.latency <= w.slowest[4].latency {
		return
	}
	w.slowest = append(w.slowest, l)
	slices.SortFunc(w.slowest, func(a, b labeledLatency) int { return cmp.Compare(b.latency, a.latency) })
	w.slowest = w.slowest[:min(len(w.slowest), 5)]
}

// runLoad runs spec.conns connections, each sending one request after the other on its
// own keep-alive client, for warmup (not measured) and then duration. Requests begun
// in the measured window count; the rate is their number over the time from the start
// of the window to the end of the last of them.
func runLoad(ctx context.Context, spec loadSpec, warmup, duration time.Duration) (benchResult, error) {
	start := time.Now()
	from := start.Add(warmup)
	until := from.Add(duration)
	workers := make([]benchWorker, spec.conns)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			w := &workers[i]
			transport := &http.Transport{
				MaxIdleConns:        spec.conns,
				MaxIdleConnsPerHost: spec.conns,
				DisableCompression:  true,
				IdleConnTimeout:     90 * time.Second,
			}
			defer transport.CloseIdleConnections()
			client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
			next := spec.next(i)
			for ctx.Err() == nil {
				br := next()
				req, err := http.NewRequestWithContext(ctx, br.method, spec.base+br.path, bytes.NewReader(br.body))
				if err != nil {
					w.fatal = err
					return
				}
				if br.body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				if spec.token != "" {
					req.Header.Set("Authorization", "Bearer "+spec.token)
				}
				t0 := time.Now()
				if !t0.Before(until) {
					return
				}
				resp, err := client.Do(req)
				var status int
				var snippet []byte
				if err == nil {
					status = resp.StatusCode
					if status != spec.want {
						snippet, _ = io.ReadAll(io.LimitReader(resp.Body, 300))
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				end := time.Now()
				if t0.Before(from) {
					continue
				}
				if ctx.Err() != nil {
					return
				}
				lat := end.Sub(t0)
				w.latencies = append(w.latencies, lat)
				w.lastEnd = end
				w.keepSlowest(labeledLatency{lat, br.label})
				if err != nil || status != spec.want {
					w.errors++
					if len(w.samples) < maxErrorSamples {
						sample := fmt.Sprintf("%s %s: %v", br.method, br.path, err)
						if err == nil {
							sample = fmt.Sprintf("%s %s: %d, want %d: %s", br.method, br.path, status, spec.want, strings.TrimSpace(string(snippet)))
						}
						if !slices.Contains(w.samples, sample) {
							w.samples = append(w.samples, sample)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return benchResult{}, err
	}
	r := benchResult{scenario: spec.scenario, target: spec.target, conns: spec.conns}
	last := from
	for _, w := range workers {
		if w.fatal != nil {
			return r, w.fatal
		}
		r.latencies = append(r.latencies, w.latencies...)
		r.errors += w.errors
		for _, s := range w.samples {
			if len(r.errorSamples) < maxErrorSamples && !slices.Contains(r.errorSamples, s) {
				r.errorSamples = append(r.errorSamples, s)
			}
		}
		r.slowest = append(r.slowest, w.slowest...)
		if w.lastEnd.After(last) {
			last = w.lastEnd
		}
	}
	slices.Sort(r.latencies)
	slices.SortFunc(r.slowest, func(a, b labeledLatency) int { return cmp.Compare(b.latency, a.latency) })
	r.slowest = r.slowest[:min(len(r.slowest), 5)]
	r.requests = len(r.latencies)
	r.reqPerSec = float64(r.requests) / max(last.Sub(from).Seconds(), 1e-9)
	return r, nil
}

// ---------------------------------------------------------------------------
// The create ceiling: pgbench
// ---------------------------------------------------------------------------

var (
	pgbenchTPS    = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	pgbenchFailed = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// runCreateCeiling measures PostgreSQL's rate of durable creates with pgbench on the
// database <db>_ceiling, or says why it cannot.
func runCreateCeiling(ctx context.Context, out io.Writer, tmp string, pgCfg *pgx.ConnConfig, o benchOptions) (benchResult, error) {
	r := benchResult{scenario: "create", target: "pgbench", conns: o.connections}
	psql, err1 := exec.LookPath("psql")
	pgbench, err2 := exec.LookPath("pgbench")
	if err1 != nil || err2 != nil {
		r.skipped = "skipped (psql or pgbench is not on PATH)"
		return r, nil
	}
	dir, err := findBenchDir(o.benchDir)
	if err != nil {
		return r, err
	}
	name := pgCfg.Database + "_ceiling"
	admin, err := pgx.ConnectConfig(ctx, pgCfg)
	if err != nil {
		return r, fmt.Errorf("connect: %w", err)
	}
	_, err = ensureDatabase(ctx, admin, name)
	admin.Close(context.WithoutCancel(ctx))
	if err != nil {
		return r, err
	}
	ceilCfg := pgCfg.Copy()
	ceilCfg.Database = name
	ceil, err := pgx.ConnectConfig(ctx, ceilCfg)
	if err != nil {
		return r, fmt.Errorf("connect to %s: %w", name, err)
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

	conn := []string{"-h", pgCfg.Host, "-p", strconv.Itoa(int(pgCfg.Port)), "-U", pgCfg.User}
	env := childEnv("PGPASSWORD=" + pgCfg.Password)
	if pgCfg.TLSConfig == nil {
		env = append(env, "PGSSLMODE=disable")
	}
	if have < int64(o.count) {
		start := time.Now()
		psqlArgs := slices.Concat(conn, []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", name, "-f", filepath.Join(dir, "create-ceiling.sql")})
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
				args = append(args, o.count)
			}
			if _, err := ceil.Exec(ctx, stmt, args...); err != nil {
				return r, fmt.Errorf("fill the ceiling's table: %w", err)
			}
		}
		fmt.Fprintf(out, "create ceiling: %d rows in %s (%s)\n", o.count, name, time.Since(start).Round(time.Millisecond))
	}

	seconds := max(1, int(math.Ceil(o.duration.Seconds())))
	logPrefix := filepath.Join(tmp, "pgbench")
	args := slices.Concat(conn, []string{"-n", "-f", filepath.Join(dir, "create-txn.pgbench"),
		"-c", strconv.Itoa(o.connections), "-j", "2", "-T", strconv.Itoa(seconds),
		"-l", "--log-prefix", logPrefix, name})
	run := exec.CommandContext(ctx, pgbench, args...) //nolint:gosec // pgbench from PATH on the bench's own database
	run.Env = env
	run.Dir = tmp
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
	fmt.Fprintf(out, "pgbench create ceiling on %s: %s tps at %d clients for %ds\n", name, fmtRate(r.reqPerSec), o.connections, seconds)
	return r, nil
}

// waitForQuietDatabase waits until no other session runs a statement in the bench
// database for half a second, or until limit, and says how long it waited.
func waitForQuietDatabase(ctx context.Context, pgCfg *pgx.ConnConfig, limit time.Duration) (time.Duration, error) {
	conn, err := pgx.ConnectConfig(ctx, pgCfg)
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

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

// benchReport is everything the final report prints.
type benchReport struct {
	opts                                    benchOptions
	seedLine                                string
	startup                                 time.Duration
	rssStart, rssSampled, rssPeak, rssAfter int64 // kB
	spans                                   int64
	rows                                    []benchResult
	elapsed                                 time.Duration
}

func (rep benchReport) print(w io.Writer) {
	o := rep.opts
	rounds := ""
	if o.runs("get-by-id") {
		rounds = ", " + plural(o.rounds, "round") + " of get-by-id"
	}
	fmt.Fprintf(w, "\n## articlesd bench: %d articles, %s per run after %s warm-up%s, seed %d\n\n",
		o.count, o.duration, o.warmup, rounds, o.seed)
	fmt.Fprintf(w, "- seed: %s\n", rep.seedLine)
	fmt.Fprintf(w, "- start-up: %s (exec to the first 200 from /readyz)\n", fmtDuration(rep.startup))
	fmt.Fprintf(w, "- RSS idle after start: %s\n", fmtMiB(rep.rssStart))
	fmt.Fprintf(w, "- RSS peak during load: %s (VmHWM; largest sample every 200 ms: %s)\n", fmtMiB(max(rep.rssPeak, rep.rssSampled)), fmtMiB(rep.rssSampled))
	fmt.Fprintf(w, "- RSS idle 2 s after load: %s\n", fmtMiB(rep.rssAfter))
	fmt.Fprintf(w, "- spans received: %d (trace sample ratio 0.1)\n", rep.spans)
	fmt.Fprintf(w, "- bench took %s\n\n", rep.elapsed.Round(time.Second))
	fmt.Fprintln(w, "| scenario | target | conns | req/s | p50 | p95 | p99 | max | errors | ratio |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rep.rows {
		if r.skipped != "" {
			fmt.Fprintf(w, "| %s | %s | %d | %s | - | - | - | - | - | - |\n", r.scenario, r.target, r.conns, r.skipped)
			continue
		}
		ratio := r.ratio
		if ratio == "" {
			ratio = "-"
		}
		lat := func(p float64) string {
			if len(r.latencies) == 0 {
				return "-"
			}
			return fmtDuration(r.percentile(p))
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %d | %s |\n",
			r.scenario, r.target, r.conns, fmtRate(r.reqPerSec), lat(0.50), lat(0.95), lat(0.99), lat(1), r.errors, ratio)
	}
}

// fmtDuration prints a latency in milliseconds, or seconds from 10 s up.
func fmtDuration(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// plural says "1 round", "2 rounds".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func fmtRate(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

func fmtMiB(kb int64) string {
	if kb <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}
