package cmd

// Tests of the scaled deployment (docker compose --profile scale): Debian's haproxy runs
// the very configuration provision-grafana writes for the profile, pointed at articlesd
// replicas (child processes of the built binary, run as the profile runs them) on one
// PostgreSQL database, under a load of GETs and creates. Stopping a replica (SIGTERM),
// or each in turn, must fail no request; with none left, HAProxy's own 503 must be the
// API's problem document with Retry-After.

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/articlesd/articlesd/embedded"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// requireHAProxy finds Debian's haproxy, skipping the test where it is missing unless
// ARTICLESD_REQUIRE_HAPROXY=1.
func requireHAProxy(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("haproxy")
	if err != nil {
		storetest.Skip(t, storetest.HAProxy, "haproxy is not on PATH")
	}
	return path
}

// testPorts returns n addresses on 127.0.0.1 in the port range the tests may use
// (19000-19099) that nothing listens on now.
func testPorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for _, port := range freePorts(t, 19000, 19099, n) {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", port))
	}
	return out
}

// freePorts returns n loopback ports of first..last that nothing listens on now.
func freePorts(t *testing.T, first, last, n int) []int {
	t.Helper()
	var out []int
	for port := first; port <= last && len(out) < n; port++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		out = append(out, port)
	}
	if len(out) < n {
		t.Fatalf("only %d free ports in %d-%d, want %d", len(out), first, last, n)
	}
	return out
}

// haproxyTiming is what an HAProxy file says about health checks: the default-server
// line of the backend, the check timeout and spread-checks.
type haproxyTiming struct {
	inter, fastinter, downinter, check time.Duration
	fall, rise, spreadPercent          int
}

// detectWorst is the longest HAProxy can take to see a draining replica: the last check
// that passed was answered before the drain began; the next starts inter after it, then
// fall-1 more fastinter apart (each interval up to spread-checks percent longer), and
// each fails at the latest at the check timeout.
func (h haproxyTiming) detectWorst() time.Duration {
	intervals := h.inter + time.Duration(h.fall-1)*h.fastinter
	return intervals + intervals*time.Duration(h.spreadPercent)/100 + time.Duration(h.fall)*h.check
}

var (
	checkTimeout = regexp.MustCompile(`(?m)^\s*timeout check (\S+)$`)
	spreadChecks = regexp.MustCompile(`(?m)^\s*spread-checks (\d+)$`)
)

// parseHAProxyTiming reads the health check settings from an HAProxy file.
func parseHAProxyTiming(t *testing.T, cfg string) haproxyTiming {
	t.Helper()
	var h haproxyTiming
	dur := func(what, v string) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("haproxy.cfg: %s %q: %v", what, v, err)
		}
		return d
	}
	for _, line := range strings.Split(cfg, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "default-server" {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			switch f[i] {
			case "inter":
				h.inter = dur(f[i], f[i+1])
			case "fastinter":
				h.fastinter = dur(f[i], f[i+1])
			case "downinter":
				h.downinter = dur(f[i], f[i+1])
			case "fall":
				h.fall, _ = strconv.Atoi(f[i+1])
			case "rise":
				h.rise, _ = strconv.Atoi(f[i+1])
			}
		}
	}
	m := checkTimeout.FindStringSubmatch(cfg)
	if m == nil {
		t.Fatal("haproxy.cfg: no timeout check")
	}
	h.check = dur("timeout check", m[1])
	if m := spreadChecks.FindStringSubmatch(cfg); m != nil {
		h.spreadPercent, _ = strconv.Atoi(m[1])
	}
	if h.inter <= 0 || h.fastinter <= 0 || h.downinter <= 0 || h.fall < 1 || h.rise < 1 {
		t.Fatalf("haproxy.cfg: incomplete health check settings %+v", h)
	}
	return h
}

// TestHAProxyDrainOutlastsDetection: a replica of the compose profile drains (answers
// /readyz 503 while still serving) for longer than HAProxy can take to take it out of
// rotation, even with every check at its timeout; otherwise requests would be sent to
// a replica that no longer listens.
func TestHAProxyDrainOutlastsDetection(t *testing.T) {
	files, err := embedded.Stack(embedded.DefaultStackParams())
	if err != nil {
		t.Fatal(err)
	}
	timing := parseHAProxyTiming(t, string(files["haproxy/haproxy.cfg"]))
	drain := composeReplicaDrain(t, loadComposeProfiles(t, "scale").Services["articlesd-replica"])
	worst := timing.detectWorst()
	if worst >= drain {
		t.Errorf("HAProxy may take %s to see a draining replica, longer than the compose replicas' drain %s", worst, drain)
	}
	t.Logf("HAProxy sees a draining replica within %s at worst (%+v); the compose replicas drain for %s", worst, timing, drain)
	if shutdown := defaults["shutdown-timeout"].(time.Duration); drain >= shutdown {
		t.Errorf("the replicas' drain %s is not shorter than --shutdown-timeout %s: serve refuses it", drain, shutdown)
	}
}

// TestHAProxyAcceptsConfig runs `haproxy -c` on the file as compose gets it (the
// replicas by service name, resolved through Docker's DNS) and as the tests write it
// (replicas by address).
func TestHAProxyAcceptsConfig(t *testing.T) {
	haproxy := requireHAProxy(t)
	local := embedded.DefaultStackParams()
	local.Replicas = []string{"127.0.0.1:19001", "127.0.0.1:19002"}
	local.Balancer, local.BalancerStats = "127.0.0.1:19003", "127.0.0.1:19004"
	for name, p := range map[string]embedded.StackParams{"compose": embedded.DefaultStackParams(), "addresses": local} {
		dir := provisionFor(t, p)
		out, err := exec.Command(haproxy, "-c", "-f", filepath.Join(dir, "haproxy", "haproxy.cfg")).CombinedOutput()
		if err != nil {
			t.Errorf("%s: haproxy -c: %v\n%s", name, err, out)
		}
		if strings.Contains(string(out), "WARNING") || strings.Contains(string(out), "ALERT") {
			t.Errorf("%s: haproxy -c warns:\n%s", name, out)
		}
	}
}

// haproxyProc is haproxy running in the foreground.
type haproxyProc struct {
	cmd       *exec.Cmd
	out       *syncBuffer
	api       string // http://host:port of the API frontend
	statsAddr string
}

func startHAProxy(t *testing.T, bin, cfg string, p embedded.StackParams) *haproxyProc {
	t.Helper()
	h := &haproxyProc{out: &syncBuffer{}, api: "http://" + p.Balancer, statsAddr: p.BalancerStats}
	h.cmd = exec.Command(bin, "-db", "-f", cfg)
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = h.cmd.Process.Kill()
			<-exited
		}
	})
	waitFor(t, 10*time.Second, "haproxy's statistics page", func() bool {
		select {
		case <-exited:
			t.Fatalf("haproxy exited:\n%s", h.out)
		default:
		}
		_, err := h.states()
		return err == nil
	})
	return h
}

// states returns the state of each server of the backend articlesd (UP, DOWN, ...) from
// the statistics page.
func (h *haproxyProc) states() (map[string]string, error) {
	rows, err := h.stats()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range rows {
		if r["pxname"] == "articlesd" && r["svname"] != "BACKEND" {
			out[r["svname"]] = strings.Fields(r["status"] + " ")[0] // "UP 1/2" while rising
		}
	}
	return out, nil
}

var statsClient = &http.Client{Timeout: 2 * time.Second}

// stats reads /stats;csv, one map per row.
func (h *haproxyProc) stats() ([]map[string]string, error) {
	resp, err := statsClient.Get("http://" + h.statsAddr + "/stats;csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("stats: %s", resp.Status)
	}
	r := csv.NewReader(bufio.NewReader(resp.Body))
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil || len(records) == 0 {
		return nil, fmt.Errorf("stats: %v", err)
	}
	header := records[0]
	header[0] = strings.TrimPrefix(header[0], "# ")
	var rows []map[string]string
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, v := range rec {
			if i < len(header) {
				row[header[i]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// served returns how many requests HAProxy has sent to each server of the backend.
func (h *haproxyProc) served(t *testing.T) map[string]int {
	t.Helper()
	rows, err := h.stats()
	if err != nil {
		t.Fatalf("HAProxy statistics: %v", err)
	}
	out := map[string]int{}
	for _, r := range rows {
		if r["pxname"] == "articlesd" && r["svname"] != "BACKEND" {
			out[r["svname"]], _ = strconv.Atoi(r["stot"])
		}
	}
	return out
}

// backendStats are the counters of the backend articlesd.
type backendStats struct {
	sessions, retries, redispatches, connErrors, respErrors, status5xx int
}

func (s backendStats) String() string {
	return fmt.Sprintf("%d sessions, %d retries, %d redispatches, %d connection errors, %d response errors, %d answers 5xx",
		s.sessions, s.retries, s.redispatches, s.connErrors, s.respErrors, s.status5xx)
}

func (h *haproxyProc) backend(t *testing.T) backendStats {
	t.Helper()
	rows, err := h.stats()
	if err != nil {
		t.Fatalf("HAProxy statistics: %v", err)
	}
	for _, r := range rows {
		if r["pxname"] == "articlesd" && r["svname"] == "BACKEND" {
			n := func(k string) int { v, _ := strconv.Atoi(r[k]); return v }
			return backendStats{n("stot"), n("wretr"), n("wredis"), n("econ"), n("eresp"), n("hrsp_5xx")}
		}
	}
	t.Fatal("HAProxy statistics: no backend articlesd")
	return backendStats{}
}

func subtract(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range a {
		out[k] = v - b[k]
	}
	return out
}

// stateWatch polls HAProxy's view of the servers and keeps when each changed state.
type stateWatch struct {
	mu      sync.Mutex
	current map[string]string
	changes map[string][]stateChange
}

type stateChange struct {
	at    time.Time
	state string
}

func watchStates(t *testing.T, h *haproxyProc) *stateWatch {
	w := &stateWatch{current: map[string]string{}, changes: map[string][]stateChange{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if states, err := h.states(); err == nil {
				now := time.Now()
				w.mu.Lock()
				for name, st := range states {
					if w.current[name] != st {
						w.current[name] = st
						w.changes[name] = append(w.changes[name], stateChange{now, st})
					}
				}
				w.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return w
}

// waitState waits until server is in state (or, with state "", no longer UP) after
// since, and returns when it was first seen so.
func (w *stateWatch) waitState(t *testing.T, server, state string, since time.Time, limit time.Duration) time.Time {
	t.Helper()
	var at time.Time
	waitFor(t, limit, fmt.Sprintf("HAProxy to see %s %s", server, map[string]string{"": "out of rotation"}[state]+state), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, c := range w.changes[server] {
			if !c.at.Before(since) && (c.state == state || (state == "" && c.state != "UP")) {
				at = c.at
				return true
			}
		}
		return false
	})
	return at
}

// testBound keeps a long test within its budget: each wait gets what it asks for, or
// what is left of the budget if that is less.
type testBound struct {
	t        *testing.T
	deadline time.Time
}

func (b testBound) left(limit time.Duration) time.Duration {
	b.t.Helper()
	rest := time.Until(b.deadline)
	if rest <= 0 {
		b.t.Fatalf("the test has used up its time")
	}
	return min(limit, rest)
}

// startReplica runs `articlesd serve` on addr as the compose profile runs its replicas
// (no migration of its own, the profile's drain), and waits until /readyz says 200.
func startReplica(t *testing.T, b testBound, bin, dbURL, addr string, drain time.Duration) *childServer {
	t.Helper()
	return startServe(t, bin, addr, b.left(30*time.Second), "--auto-migrate=false", "--database-url", dbURL,
		"--shutdown-drain", drain.String(), "--log-level", "warn", "--db-max-conns", "4")
}

// balancedLoad is a closed-loop load of reads and creates through HAProxy, counting
// every request and every failure: an error, or any answer but the expected 2xx.
type balancedLoad struct {
	mu       sync.Mutex
	requests int
	byKind   map[string]int
	failures []loadFailure
	acks     []*faultResult // creates answered 201 with the article
	ids      []string       // of acknowledged creates, for reads
	stop     atomic.Bool
	wg       sync.WaitGroup
}

// loadFailure is a request of the load that failed.
type loadFailure struct {
	kind string
	r    *faultResult
}

func (f loadFailure) String() string {
	return fmt.Sprintf("%s at %s: %v %s", f.kind, f.r.start.Format("15:04:05.000"), f.r, f.r.bodyErr)
}

// sentOnce reports whether a failed create is one that HAProxy, rightly, did not send
// again: its own 502 (a replica took the request and gave no answer), or the client's
// kept-alive connection closed under it (HAProxy's answer when the replica connection
// it reused for the request was closed by the replica as it was sent). Either way the
// client cannot know whether it was applied, and must check before sending it again.
func (f loadFailure) sentOnce() bool {
	r := f.r
	switch {
	case r.method != http.MethodPost:
		return false
	case r.err == nil:
		return r.status == http.StatusBadGateway && strings.Contains(string(r.body), `"title":"Bad Gateway"`)
	default:
		return r.reused && errors.Is(r.err, io.EOF)
	}
}

func (l *balancedLoad) record(kind string, r *faultResult, want int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	l.byKind[kind]++
	switch {
	case r.err == nil && r.status == want && r.bodyErr == "":
		if r.method == http.MethodPost {
			l.acks = append(l.acks, r)
			l.ids = append(l.ids, r.id)
		}
	default:
		l.failures = append(l.failures, loadFailure{kind, r})
	}
}

func (l *balancedLoad) randomID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return ""
	}
	return l.ids[rand.IntN(len(l.ids))]
}

// run starts workers: keep-alive clients, and clients that open a new connection for
// every request; each sends creates and reads (one article, a page of titles) in turn.
func (l *balancedLoad) run(base string, keepAlive, perRequest int) {
	worker := func(w int, reuse bool) {
		defer l.wg.Done()
		client := faultClient(15 * time.Second)
		client.Transport.(*http.Transport).DisableKeepAlives = !reuse
		defer client.CloseIdleConnections()
		kind := map[bool]string{true: "keep-alive", false: "new connection"}[reuse]
		for i := 0; !l.stop.Load(); i++ {
			switch id := l.randomID(); {
			case i%3 == 0 || id == "":
				title, content := uniqueArticle("balanced "+kind, w, i)
				l.record("create, "+kind, faultCreate(client, base, title, content), http.StatusCreated)
			case i%3 == 1:
				l.record("read one, "+kind, faultDo(client, http.MethodGet, base, "/articles/"+id, nil), http.StatusOK)
			default:
				l.record("list, "+kind, faultDo(client, http.MethodGet, base, "/articles?limit=5", nil), http.StatusOK)
			}
			// A steady load that leaves the two cores of a test machine room for the
			// health checks, so that timing says something about HAProxy, not the CPU.
			time.Sleep(2 * time.Millisecond)
		}
	}
	for w := range keepAlive + perRequest {
		l.wg.Add(1)
		go worker(w, w < keepAlive)
	}
}

func (l *balancedLoad) finish() { l.stop.Store(true); l.wg.Wait() }

func (l *balancedLoad) snapshot() (requests int, failures []loadFailure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests, append([]loadFailure(nil), l.failures...)
}

// restartReplica stops replica i with SIGTERM under load, starts it again on the same
// address, and waits until HAProxy has it back in rotation. It logs how long each step
// took.
// drain is the running replica's, next the one it is started again with. With a drain,
// HAProxy must have taken the replica out of rotation before it exits.
func restartReplica(t *testing.T, b testBound, w *stateWatch, replicas []*childServer, i int, bin, dbURL string, drain, next time.Duration) (out, total time.Duration) {
	t.Helper()
	server := fmt.Sprintf("replica%d", i+1)
	term := time.Now()
	if err := replicas[i].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", server, err)
	}
	down := w.waitState(t, server, "", term, b.left(drain+5*time.Second))
	if err := replicas[i].waitExit(t, b.left(drain+20*time.Second)); err != nil {
		t.Errorf("%s exited with %v after SIGTERM, want status 0\n%s", server, err, replicas[i].out)
	}
	exited := time.Now()
	replicas[i] = startReplica(t, b, bin, dbURL, replicas[i].addr, next)
	ready := time.Now()
	up := w.waitState(t, server, "UP", down, b.left(10*time.Second))
	if drain > 0 && down.After(exited) {
		t.Errorf("HAProxy took %s to take %s out of rotation, after it had exited (%s after SIGTERM)", down.Sub(term), server, exited.Sub(term))
	}
	t.Logf("%s: out of rotation %s after SIGTERM; exited after %s; ready again %s after that; back in rotation %s after ready: "+
		"out of rotation for %s, the whole restart %s",
		server, down.Sub(term).Round(time.Millisecond), exited.Sub(term).Round(time.Millisecond), ready.Sub(exited).Round(time.Millisecond),
		up.Sub(ready).Round(time.Millisecond), up.Sub(down).Round(time.Millisecond), up.Sub(term).Round(time.Millisecond))
	return up.Sub(down), up.Sub(term)
}

// TestHAProxyRestartsFailNothing runs three replicas behind Debian's haproxy, with the
// configuration of the compose profile, under a load of creates and reads through
// HAProxy (keep-alive clients and a new connection per request), and then:
// (a) stops one replica with SIGTERM and starts it again; (b) restarts every replica in
// turn, each back in rotation before the next stops; (d) stops a replica run without a
// drain, which HAProxy's retries alone must cover; (c) stops them all. (a) and (b)
// must fail no request: every answer 2xx, every 201 stored; (d) no read, and no create
// sent twice. (c) must answer HAProxy's own 503 as a problem document with Retry-After. It takes about 30 s, 90 s at most
// once articlesd is built.
func TestHAProxyRestartsFailNothing(t *testing.T) {
	haproxy := requireHAProxy(t)
	dbURL := storetest.URL(t, store.Postgres)
	bin := buildArticlesd(t)
	began := time.Now()
	b := testBound{t, began.Add(90 * time.Second)}
	if out, err := exec.Command(bin, "migrate", "up", "--database-url", dbURL).CombinedOutput(); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}
	drain := composeReplicaDrain(t, loadComposeProfiles(t, "scale").Services["articlesd-replica"])

	const n = 3
	addrs := testPorts(t, n+2)
	p := embedded.DefaultStackParams()
	p.Replicas, p.Balancer, p.BalancerStats = addrs[:n], addrs[n], addrs[n+1]
	dir := provisionFor(t, p)
	cfg := filepath.Join(dir, "haproxy", "haproxy.cfg")
	if out, err := exec.Command(haproxy, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	replicas := make([]*childServer, n)
	for i := range n {
		replicas[i] = startReplica(t, b, bin, dbURL, addrs[i], drain)
	}
	lb := startHAProxy(t, haproxy, cfg, p)
	w := watchStates(t, lb)
	for i := range n {
		w.waitState(t, fmt.Sprintf("replica%d", i+1), "UP", time.Time{}, b.left(10*time.Second))
	}
	t.Logf("%d replicas (drain %s) and haproxy up after %s", n, drain, time.Since(began).Round(time.Millisecond))

	load := &balancedLoad{byKind: map[string]int{}}
	load.run(lb.api, 6, 3)
	defer load.finish()
	time.Sleep(time.Second)

	// (a) One replica stopped and started again.
	phase := time.Now()
	before, _ := load.snapshot()
	out, total := restartReplica(t, b, w, replicas, 0, bin, dbURL, drain, drain)
	time.Sleep(500 * time.Millisecond)
	after, failures := load.snapshot()
	t.Logf("(a) SIGTERM to one replica: %d requests through HAProxy meanwhile (%s), %d failed; out of rotation %s, restart %s",
		after-before, time.Since(phase).Round(time.Millisecond), len(failures), out.Round(time.Millisecond), total.Round(time.Millisecond))
	if after-before < 100 {
		t.Errorf("only %d requests while one replica restarted: the load did not run", after-before)
	}

	// (b) A rolling restart of every replica.
	phase = time.Now()
	before = after
	servedBefore := lb.served(t)
	for i := range n {
		restartReplica(t, b, w, replicas, i, bin, dbURL, drain, drain)
	}
	time.Sleep(500 * time.Millisecond)
	after, failures = load.snapshot()
	servedAfter := lb.served(t)
	t.Logf("(b) rolling restart of %d replicas: %d requests meanwhile (%s); by replica %v",
		n, after-before, time.Since(phase).Round(time.Millisecond), subtract(servedAfter, servedBefore))
	for i := range n {
		server := fmt.Sprintf("replica%d", i+1)
		if servedAfter[server] <= servedBefore[server] {
			t.Errorf("%s served no request during the rolling restart: HAProxy never put it back in rotation", server)
		}
	}
	if after-before < 200 {
		t.Errorf("only %d requests during the rolling restart: the load did not run", after-before)
	}

	load.mu.Lock()
	t.Logf("(a) and (b): %d requests, %d failed, %d creates acknowledged; by kind %v", load.requests, len(failures), len(load.acks), load.byKind)
	load.mu.Unlock()
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more failed", len(failures)-10)
			break
		}
		t.Errorf("failed: %s", f)
	}
	backend := lb.backend(t)
	t.Logf("HAProxy so far: %s", backend)

	// (d) The retries on their own: a replica without a drain stops listening at once
	// and is still in rotation until its checks fail, so requests reach its closed port
	// (and, now and then, a kept-alive connection it closes as HAProxy reuses it).
	// HAProxy sends them to another replica; no read may fail. A create that had
	// reached it is never sent again: it may fail (sentOnce), but none may be stored
	// twice. This is what the drain of (a) and (b) prevents.
	restartReplica(t, b, w, replicas, 1, bin, dbURL, drain, 0)
	before, _ = load.snapshot()
	restartReplica(t, b, w, replicas, 1, bin, dbURL, 0, drain)
	time.Sleep(500 * time.Millisecond)
	load.finish()
	after, failuresD := load.snapshot()
	backendD := lb.backend(t)
	retried := backendD.redispatches - backend.redispatches + backendD.retries - backend.retries
	sentOnce := 0
	for _, f := range failuresD[len(failures):] {
		if f.sentOnce() {
			sentOnce++
			t.Logf("(d) a create that reached the stopping replica, not sent again: %s", f)
			continue
		}
		t.Errorf("(d) failed: %s", f)
	}
	t.Logf("(d) a replica without a drain stopped and started again: %d requests meanwhile, %d sent again to another replica by HAProxy, %d creates failed without being sent again, %d other failures",
		after-before, retried, sentOnce, len(failuresD)-len(failures)-sentOnce)
	if retried == 0 {
		t.Errorf("(d) HAProxy retried no request although a replica stopped listening while in rotation")
	}

	load.mu.Lock()
	t.Logf("load: %d requests, %d failed, %d creates acknowledged", load.requests, len(failuresD), len(load.acks))
	acks := load.acks
	load.mu.Unlock()
	if found := verifyStored(t, dbURL, acks); found != len(acks) {
		t.Errorf("%d of %d acknowledged creates found in the database", found, len(acks))
	}
	if twice := querySQL(t, dbURL, "SELECT count(*) FROM (SELECT title FROM articles GROUP BY title HAVING count(*) > 1) AS twice"); twice != "0" {
		t.Errorf("%s articles stored more than once: a create was sent twice", twice)
	}
	t.Logf("HAProxy at the end: %s", backendD)

	// (c) No replica left: HAProxy's own 503, in the API's language.
	for i, r := range replicas {
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("SIGTERM replica%d: %v", i+1, err)
		}
	}
	stopped := time.Now()
	for i, r := range replicas {
		if err := r.waitExit(t, b.left(drain+20*time.Second)); err != nil {
			t.Errorf("replica%d exited with %v after SIGTERM, want status 0", i+1, err)
		}
		w.waitState(t, fmt.Sprintf("replica%d", i+1), "DOWN", stopped, b.left(10*time.Second))
	}
	client := faultClient(5 * time.Second)
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/articles", ""},
		{http.MethodPost, "/articles", `{"title":"t","content":"c","author":"a"}`},
	} {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		r := faultDo(client, tc.method, lb.api, tc.path, body)
		switch {
		case r.err != nil:
			t.Errorf("(c) %s %s with no replica: %v", tc.method, tc.path, r.err)
		case r.status != http.StatusServiceUnavailable:
			t.Errorf("(c) %s %s with no replica: %d %s, want 503", tc.method, tc.path, r.status, r.body)
		default:
			if why := problem503(r); why != "" {
				t.Errorf("(c) %s %s with no replica: %s", tc.method, tc.path, why)
			}
			if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
				t.Errorf("(c) Content-Length %q for a body of %d bytes", cl, len(r.body))
			}
			t.Logf("(c) %s %s with no replica: %d, Retry-After %s, %s", tc.method, tc.path, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	// On the wire, as a client that reads to the end of the connection sees it.
	conn, err := net.DialTimeout("tcp", p.Balancer, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /articles HTTP/1.1\r\nHost: articlesd\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Errorf("(c) reading the raw 503: %v", err)
	}
	head, payload, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok || !strings.HasPrefix(head, "HTTP/1.1 503 ") || !strings.Contains(strings.ToLower(head), fmt.Sprintf("\r\ncontent-length: %d", len(payload))) {
		t.Errorf("(c) raw answer with no replica, Content-Length not that of the body (%d bytes):\n%s", len(payload), raw)
	}
	t.Logf("whole test %s", time.Since(began).Round(time.Millisecond))
}
