package cmd

// Reliability tests: what articlesd does when its database goes away, when the process
// is killed, when it is stopped under load, and when its log file cannot be written.
// Each test drives real traffic over 127.0.0.1 and checks, through the database itself,
// that every write the server acknowledged is stored.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

// faultResult is one request of a fault test and what came of it.
type faultResult struct {
	method, path   string
	title, content string // of a create
	start, end     time.Time
	status         int
	header         http.Header
	body           []byte
	err            error
	reused         bool // sent on a keep-alive connection used before
	wrote          atomic.Bool
	id             string // of a valid 201
	bodyErr        string // why a 201's body is not the article that was sent
}

func (r *faultResult) duration() time.Duration { return r.end.Sub(r.start) }

func (r *faultResult) String() string {
	s := fmt.Sprintf("%s %s after %s", r.method, r.path, r.duration().Round(time.Millisecond))
	if r.err != nil {
		return s + fmt.Sprintf(": error %v (reused connection %v, request written %v)", r.err, r.reused, r.wrote.Load())
	}
	return s + fmt.Sprintf(": %d %.200s", r.status, bytes.TrimSpace(r.body))
}

// faultClient is an HTTP client with one keep-alive connection pool of its own.
func faultClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        4,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// faultDo sends one request (with the bootstrap token) and records what came of it.
func faultDo(client *http.Client, method, base, path string, body []byte) *faultResult {
	r := &faultResult{method: method, path: path, start: time.Now()}
	trace := &httptrace.ClientTrace{
		GotConn:      func(i httptrace.GotConnInfo) { r.reused = i.Reused },
		WroteRequest: func(httptrace.WroteRequestInfo) { r.wrote.Store(true) },
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, base+path, rd)
	if err != nil {
		r.err, r.end = err, time.Now()
		return r
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		r.err, r.end = err, time.Now()
		return r
	}
	r.body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	r.end = time.Now()
	r.status, r.header = resp.StatusCode, resp.Header
	if err != nil {
		r.err = fmt.Errorf("read the body of a %d: %w", resp.StatusCode, err)
	}
	return r
}

var articleIDPattern = regexp.MustCompile(`^[1-9][0-9]*$`)

// faultCreate posts a new article and, for a 201, checks that the body is the article
// sent, with an id.
func faultCreate(client *http.Client, base, title, content string) *faultResult {
	payload, _ := json.Marshal(map[string]any{"title": title, "content": content, "author": "Fault Tester", "tags": []string{"fault"}})
	r := faultDo(client, http.MethodPost, base, "/articles", payload)
	r.title, r.content = title, content
	if r.err == nil && r.status == http.StatusCreated {
		var a struct{ ID, Title, Content string }
		switch err := json.Unmarshal(r.body, &a); {
		case err != nil:
			r.bodyErr = fmt.Sprintf("invalid JSON: %v", err)
		case !articleIDPattern.MatchString(a.ID):
			r.bodyErr = fmt.Sprintf("id %q is not a positive integer", a.ID)
		case a.Title != title || a.Content != content:
			r.bodyErr = fmt.Sprintf("title/content %q/%q, want %q/%q", a.Title, a.Content, title, content)
		default:
			r.id = a.ID
		}
	}
	return r
}

// acknowledged reports whether a create was answered 201 with the article.
func (r *faultResult) acknowledged() bool {
	return r.err == nil && r.status == http.StatusCreated && r.id != ""
}

// uniqueArticle returns a title and content no other request of the run uses.
func uniqueArticle(prefix string, worker, i int) (title, content string) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	title = fmt.Sprintf("%s w%d #%d %s", prefix, worker, i, hex.EncodeToString(b[:]))
	// Without surrounding spaces: the server trims them.
	content = "Body of " + title + "." + strings.Repeat(" Lorem ipsum dolor sit amet.", i%7+1)
	return title, content
}

// problem503 says what is wrong with a 503 answer ("" when it is a problem document with
// Retry-After).
func problem503(r *faultResult) string {
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		return fmt.Sprintf("Content-Type %q, want application/problem+json", ct)
	}
	if ra := r.header.Get("Retry-After"); ra == "" {
		return "no Retry-After"
	} else if n, err := strconv.Atoi(ra); err != nil || n <= 0 {
		return fmt.Sprintf("Retry-After %q is not a positive number of seconds", ra)
	}
	var p struct{ Status int }
	if err := json.Unmarshal(r.body, &p); err != nil || p.Status != http.StatusServiceUnavailable {
		return fmt.Sprintf("body %q is not a 503 problem document", r.body)
	}
	return ""
}

// verifyStored opens the database itself (not through any server or proxy) and checks
// that every acknowledged create is there with its exact title and content. It returns
// how many were found intact.
func verifyStored(t *testing.T, dbURL string, acks []*faultResult) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatalf("open %s to verify: %v", store.Redact(dbURL), err)
	}
	defer st.Close()
	found, reported := 0, 0
	for _, r := range acks {
		id, _ := strconv.ParseInt(r.id, 10, 64)
		a, err := st.GetArticle(ctx, id)
		var problem string
		switch {
		case errors.Is(err, store.ErrNotFound):
			problem = "missing"
		case err != nil:
			problem = err.Error()
		case a.Title != r.title || a.Content != r.content:
			problem = fmt.Sprintf("stored as %q / %q", a.Title, a.Content)
		default:
			found++
			continue
		}
		if reported++; reported <= 10 {
			t.Errorf("article %s (%q), answered 201 at %s: %s", r.id, r.title, r.end.Format("15:04:05.000"), problem)
		}
	}
	if reported > 10 {
		t.Errorf("... and %d more acknowledged articles are missing or wrong", reported-10)
	}
	return found
}

// storedTitles counts the creates whose title is stored (for requests that got no answer).
func storedTitles(t *testing.T, dbURL string, rs []*faultResult) (stored int) {
	t.Helper()
	if len(rs) == 0 {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", store.Redact(dbURL), err)
	}
	defer st.Close()
	titles, _, err := st.ListTitles(ctx, store.ListFilter{Limit: 1 << 30})
	if err != nil {
		t.Fatalf("list titles: %v", err)
	}
	have := make(map[string]bool, len(titles))
	for _, ti := range titles {
		have[ti] = true
	}
	for _, r := range rs {
		if have[r.title] {
			stored++
		}
	}
	return stored
}

// ---------------------------------------------------------------------------
// A TCP proxy that can cut the database off
// ---------------------------------------------------------------------------

// dbProxy forwards TCP connections to a database. Sever closes every live connection
// and, until Restore, either refuses new ones (accepts and resets them at once) or
// blackholes them (accepts them and never forwards a byte, like a firewall that drops
// the packets: those connections stay dead even after Restore).
type dbProxy struct {
	ln        net.Listener
	target    string
	blackhole bool

	mu      sync.Mutex
	severed bool
	closed  bool
	live    map[net.Conn]struct{}
	held    []net.Conn
	wg      sync.WaitGroup
}

func startDBProxy(t *testing.T, target string, blackhole bool) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target, blackhole: blackhole, live: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *dbProxy) Addr() string { return p.ln.Addr().String() }

func (p *dbProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		switch {
		case p.closed:
			c.Close()
		case p.severed && p.blackhole:
			p.held = append(p.held, c)
		case p.severed:
			reset(c)
		default:
			p.wg.Add(1)
			go p.forward(c)
		}
		p.mu.Unlock()
	}
}

func (p *dbProxy) forward(down net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, 3*time.Second)
	if err != nil {
		reset(down)
		return
	}
	p.mu.Lock()
	if p.severed || p.closed {
		p.mu.Unlock()
		reset(down)
		up.Close()
		return
	}
	p.live[down], p.live[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, down)
	go pipe(down, up)
	<-done
	down.Close()
	up.Close()
	<-done
	p.mu.Lock()
	delete(p.live, down)
	delete(p.live, up)
	p.mu.Unlock()
}

// reset closes a connection with a TCP RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

// Sever cuts the database off: every live connection is reset, new ones are refused or
// blackholed.
func (p *dbProxy) Sever() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.severed = true
	for c := range p.live {
		reset(c)
	}
}

// Restore lets new connections through again.
func (p *dbProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.severed = false
}

func (p *dbProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.live {
		c.Close()
	}
	for _, c := range p.held {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// ---------------------------------------------------------------------------
// TestDatabaseCutOff
// ---------------------------------------------------------------------------

// TestDatabaseCutOff runs traffic through a server whose PostgreSQL connections pass a
// proxy, cuts the database off for a few seconds and restores it: during the cut every
// request must get a prompt 503 with Retry-After (never hang), /readyz must say 503 and
// then 200 again, creates must work again without a restart, and every create answered
// 201, whenever, must be stored.
func TestDatabaseCutOff(t *testing.T) {
	for _, mode := range []string{"refused", "blackholed"} {
		t.Run(mode, func(t *testing.T) {
			clearEnv(t)
			testDatabaseCutOff(t, mode == "blackholed")
		})
	}
}

func testDatabaseCutOff(t *testing.T, blackhole bool) {
	const (
		before   = 2 * time.Second
		cut      = 3 * time.Second
		after    = 3 * time.Second
		bound    = 6 * time.Second // no request may take longer, cut or not
		creators = 4
		readers  = 2
	)
	began := time.Now()
	dbURL := storetest.URL(t, store.Postgres)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := startDBProxy(t, target, blackhole)
	proxied := *u
	proxied.Host = proxy.Addr()

	cfg := serveConfig(proxied.String())
	cfg.DBMaxConns = 3
	srv := startServer(t, cfg)
	base := "http://" + srv.addr

	// An article for the readers to read.
	seed := faultCreate(faultClient(10*time.Second), base, "cut-off seed", "Read while the database comes and goes.")
	if !seed.acknowledged() {
		t.Fatalf("seed article: %v", seed)
	}

	var (
		mu                      sync.Mutex
		creates, reads, readies []*faultResult
		stop                    atomic.Bool
		wg                      sync.WaitGroup
	)
	for w := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := faultClient(10 * time.Second)
			for i := 0; !stop.Load(); i++ {
				title, content := uniqueArticle("cut-off", w, i)
				r := faultCreate(client, base, title, content)
				mu.Lock()
				creates = append(creates, r)
				mu.Unlock()
				if r.err == nil && r.status != http.StatusCreated {
					time.Sleep(20 * time.Millisecond) // a client backing off a little
				}
			}
		}()
	}
	for w := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := faultClient(10 * time.Second)
			for i := 0; !stop.Load(); i++ {
				path := "/articles/" + seed.id
				if (i+w)%2 == 1 {
					path = "/articles?limit=5"
				}
				r := faultDo(client, http.MethodGet, base, path, nil)
				mu.Lock()
				reads = append(reads, r)
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := faultClient(10 * time.Second)
		for !stop.Load() {
			r := faultDo(client, http.MethodGet, base, "/readyz", nil)
			mu.Lock()
			readies = append(readies, r)
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}
	}()

	time.Sleep(before)
	severAt := time.Now()
	proxy.Sever()
	// The cut is whole once Sever returns: a request that began in between may have run
	// on a connection Sever had not reset yet (one was answered 2 ms after severAt on a
	// loaded machine).
	severed := time.Now()
	time.Sleep(cut)
	restoreAt := time.Now()
	proxy.Restore()
	time.Sleep(after)
	stop.Store(true)
	stoppedAt := time.Now()
	wg.Wait()
	if wait := time.Since(stoppedAt); wait > time.Second {
		t.Logf("the last requests took %s to finish after the traffic stopped", wait.Round(time.Millisecond))
	}

	phaseOf := func(at time.Time) int {
		switch {
		case at.Before(severAt):
			return 0
		case at.Before(restoreAt):
			return 1
		}
		return 2
	}
	within := func(r *faultResult) bool { return !r.start.Before(severed) && r.end.Before(restoreAt) }

	var (
		acks          []*faultResult
		acked         [3]int // 201s by the phase they were answered in
		unavailable   [3]int // 503s (creates and reads) by phase answered
		cutCreate503  int    // creates started during the cut that got their 503
		restored201   int    // creates started after the restore that got 201
		failures      []string
		slowOrHanging []string
	)
	check := func(r *faultResult, ok int) {
		if r.err == nil && r.duration() <= bound {
			switch {
			case r.status == ok || (r.method == http.MethodGet && r.status == http.StatusOK):
				if within(r) {
					failures = append(failures, "answered as if the database were there during the cut: "+r.String())
				}
			case r.status == http.StatusServiceUnavailable:
				unavailable[phaseOf(r.end)]++
				if msg := problem503(r); msg != "" {
					failures = append(failures, "bad 503 ("+msg+"): "+r.String())
				}
			default:
				failures = append(failures, "unexpected answer: "+r.String())
			}
			return
		}
		slowOrHanging = append(slowOrHanging, fmt.Sprintf("started %s into the cut: %v",
			r.start.Sub(severAt).Round(time.Millisecond), r))
	}
	for _, r := range creates {
		check(r, http.StatusCreated)
		if r.err == nil && r.status == http.StatusCreated {
			if r.bodyErr != "" {
				failures = append(failures, "201 with a wrong body: "+r.bodyErr)
				continue
			}
			acks = append(acks, r)
			acked[phaseOf(r.end)]++
			if !r.start.Before(restoreAt) {
				restored201++
			}
		}
		if r.err == nil && r.status == http.StatusServiceUnavailable && phaseOf(r.start) == 1 {
			cutCreate503++
		}
	}
	for _, r := range reads {
		check(r, http.StatusOK)
	}

	// /readyz: 503 answered during the cut, 200 again after it.
	var ready503InCut, ready200After int
	for _, r := range readies {
		if r.err != nil || r.duration() > bound {
			slowOrHanging = append(slowOrHanging, r.String())
			continue
		}
		// A check that overlaps the cut and says 503 saw it: with blackholed connections
		// each check takes its whole timeout (app.Options.ReadyTimeout, 2 s) of a 3 s cut, so one that
		// both starts and ends inside it is a matter of luck.
		if r.end.After(severAt) && r.start.Before(restoreAt) && r.status == http.StatusServiceUnavailable {
			ready503InCut++
		}
		if !r.start.Before(restoreAt) && r.status == http.StatusOK {
			ready200After++
		}
		if phaseOf(r.start) == 0 && phaseOf(r.end) == 0 && r.status != http.StatusOK {
			failures = append(failures, "/readyz before the cut: "+r.String())
		}
	}

	t.Logf("creates: %d sent; 201 before/during/after the cut: %d/%d/%d; 503s (creates and reads) before/during/after: %d/%d/%d; "+
		"reads: %d; /readyz polls: %d (503 inside the cut: %d, 200 after the restore: %d)",
		len(creates), acked[0], acked[1], acked[2], unavailable[0], unavailable[1], unavailable[2],
		len(reads), len(readies), ready503InCut, ready200After)

	if len(slowOrHanging) > 0 {
		t.Errorf("%d requests failed or took longer than %s while the database was cut off or coming back "+
			"(the server needs a per-request database timeout so that it answers 503 instead of waiting):\n  %s",
			len(slowOrHanging), bound, strings.Join(firstN(slowOrHanging, 8), "\n  "))
	}
	if len(failures) > 0 {
		t.Errorf("%d wrong answers:\n  %s", len(failures), strings.Join(firstN(failures, 8), "\n  "))
	}
	if acked[0] == 0 {
		t.Errorf("no create succeeded before the cut")
	}
	// With refused connections a create started during the cut fails at once (503).
	// With blackholed ones it waits for its deadline, which may fall after the restore:
	// then it may succeed on a fresh connection, so only the bound above applies.
	if cutCreate503 == 0 && !blackhole {
		t.Errorf("no create sent during the cut was answered 503")
	}
	if ready503InCut == 0 {
		t.Errorf("/readyz never answered 503 during the cut")
	}
	if restored201 == 0 {
		t.Errorf("no create sent after the restore succeeded within %s", after)
	}

	// Without a restart: ready again, and creates work.
	waitFor(t, 10*time.Second, "/readyz to answer 200 after the restore", func() bool {
		r := faultDo(faultClient(5*time.Second), http.MethodGet, base, "/readyz", nil)
		return r.err == nil && r.status == http.StatusOK
	})
	final := faultCreate(faultClient(10*time.Second), base, "after the cut-off", "The database is back.")
	if !final.acknowledged() {
		t.Errorf("a create after the restore: %v", final)
	} else {
		acks = append(acks, final)
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("runServe returned %v", err)
	}

	acks = append(acks, seed)
	found := verifyStored(t, dbURL, acks)
	t.Logf("acknowledged creates found in the database afterwards: %d of %d (whole run %s)",
		found, len(acks), time.Since(began).Round(time.Millisecond))
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... and %d more", len(s)-n))
	}
	return s
}

// ---------------------------------------------------------------------------
// The articlesd binary as a child process
// ---------------------------------------------------------------------------

// buildArticlesd builds the articlesd binary (without cgo) into a temporary directory.
func buildArticlesd(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot build articlesd")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "articlesd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	began := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	t.Logf("built articlesd in %s", time.Since(began).Round(time.Millisecond))
	return out
}

// childServer is `articlesd serve` running as a child process.
type childServer struct {
	cmd    *exec.Cmd
	addr   string
	out    *syncBuffer
	exited chan struct{} // closed when the process has exited, with err set
	err    error
}

func (c *childServer) base() string { return "http://" + c.addr }

// startChild runs `articlesd serve` on a free local port and waits until /readyz says 200.
func startChild(t *testing.T, bin, dbURL string) *childServer {
	t.Helper()
	return startServe(t, bin, freeAddr(t), 30*time.Second,
		"--database-url", dbURL, "--shutdown-timeout", "10s", "--db-max-conns", "8")
}

// startServe runs `articlesd serve --addr addr` with args, in childEnv, and waits up to
// limit until /readyz says 200. A cleanup kills it if it still runs.
func startServe(t *testing.T, bin, addr string, limit time.Duration, args ...string) *childServer {
	t.Helper()
	c := &childServer{addr: addr, out: &syncBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	c.cmd.Env = childEnv()
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start articlesd: %v", err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	client := faultClient(2 * time.Second)
	waitFor(t, limit, "articlesd on "+addr+" to be ready", func() bool {
		select {
		case <-c.exited:
			t.Fatalf("articlesd on %s exited before it was ready: %v\n%s", addr, c.err, c.out)
		default:
		}
		r := faultDo(client, http.MethodGet, c.base(), "/readyz", nil)
		return r.err == nil && r.status == http.StatusOK
	})
	return c
}

// childEnv is the environment of an articlesd child: this process's without its
// ARTICLESD_ and OTEL_ settings, and with the bootstrap token testToken.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ARTICLESD_") && !strings.HasPrefix(name, "OTEL_") {
			env = append(env, kv)
		}
	}
	return append(env, "ARTICLESD_BOOTSTRAP_TOKEN="+testToken)
}

// waitExit waits for the child to exit and returns how it did.
func (c *childServer) waitExit(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case <-c.exited:
		return c.err
	case <-time.After(limit):
		t.Fatalf("articlesd did not exit within %s\n%s", limit, c.out)
		return nil
	}
}

// isDialError reports whether a request failed before any connection was made.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// ---------------------------------------------------------------------------
// TestCrashLosesNothing
// ---------------------------------------------------------------------------

// TestCrashLosesNothing kills articlesd (SIGKILL) in the middle of a stream of creates
// and checks, after a restart on the same database, that every create answered 201 is
// there: an acknowledgment means the article is durable.
func TestCrashLosesNothing(t *testing.T) {
	bin := buildArticlesd(t)
	forEachDialect(t, func(t *testing.T, dbURL string) {
		began := time.Now()
		const workers = 6
		srv := startChild(t, bin, dbURL)

		var (
			mu     sync.Mutex
			acks   []*faultResult
			others []*faultResult
			killed atomic.Bool
			wg     sync.WaitGroup
		)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := faultClient(10 * time.Second)
				for i := 0; ; i++ {
					title, content := uniqueArticle("crash", w, i)
					r := faultCreate(client, srv.base(), title, content)
					mu.Lock()
					if r.acknowledged() {
						acks = append(acks, r)
					} else {
						others = append(others, r)
					}
					mu.Unlock()
					if r.err != nil && killed.Load() {
						return // the server is gone
					}
					if r.err == nil && r.status == http.StatusCreated && r.bodyErr != "" {
						t.Errorf("201 with a wrong body: %s", r.bodyErr)
					}
				}
			}()
		}
		time.Sleep(1500 * time.Millisecond)
		killed.Store(true)
		killAt := time.Now()
		if err := srv.cmd.Process.Kill(); err != nil {
			t.Fatalf("kill: %v", err)
		}
		err := srv.waitExit(t, 10*time.Second)
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("articlesd exit = %v, want death by SIGKILL", err)
		}
		wg.Wait()

		var ackedBeforeKill, refused int
		var unanswered []*faultResult
		for _, r := range acks {
			if r.end.Before(killAt) {
				ackedBeforeKill++
			}
		}
		for _, r := range others {
			switch {
			case r.err == nil:
				t.Errorf("a create answered without a 201 before the kill: %v", r)
			case isDialError(r.err):
				refused++
			default:
				unanswered = append(unanswered, r)
			}
		}
		if len(acks) == 0 {
			t.Fatal("no create was acknowledged before the kill")
		}

		// Restart on the same database: every acknowledged article is served, intact.
		srv2 := startChild(t, bin, dbURL)
		client := faultClient(10 * time.Second)
		found, reported := 0, 0
		for _, a := range acks {
			r := faultDo(client, http.MethodGet, srv2.base(), "/articles/"+a.id, nil)
			var got struct{ Title, Content string }
			if r.err != nil || r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil ||
				got.Title != a.title || got.Content != a.content {
				if reported++; reported <= 10 {
					t.Errorf("acknowledged article %s (%q), answered 201 %s before the kill, after the restart: %v",
						a.id, a.title, killAt.Sub(a.end).Round(time.Millisecond), r)
				}
				continue
			}
			found++
		}
		if err := srv2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := srv2.waitExit(t, 15*time.Second); err != nil {
			t.Errorf("restarted articlesd exited with %v\n%s", err, srv2.out)
		}
		t.Logf("creates acknowledged: %d (%d before the kill was sent); in flight at the kill, unanswered: %d (stored anyway: %d); "+
			"refused after: %d; found intact after the restart: %d of %d (%s)",
			len(acks), ackedBeforeKill, len(unanswered), storedTitles(t, dbURL, unanswered), refused, found, len(acks),
			time.Since(began).Round(time.Millisecond))
		if found != len(acks) {
			t.Errorf("%d acknowledged articles lost in the crash", len(acks)-found)
		}
	})
}

// ---------------------------------------------------------------------------
// TestGracefulStopDropsNothing
// ---------------------------------------------------------------------------

// TestGracefulStopDropsNothing sends SIGTERM to articlesd, several times, under a load
// that reaches each way a stop can lose an answer: keep-alive clients (told Connection:
// close during the drain), clients that pipeline creates (a Connection: close answer
// with more requests behind it), clients that pipeline behind a large answer and read it
// slowly (an RST on close would throw away what was not sent yet), a new connection per
// request (the accept queue when the listener closes), and clients that connect during
// the drain and send their create just after it (a request http.Server.Shutdown reads
// is thrown away). Every request written on a connection must get its complete answer,
// except those pipelined behind a Connection: close answer, which must not have been
// processed; every 201 must be stored; the process must exit 0. Only refused (or
// timed-out) dials are acceptable.
func TestGracefulStopDropsNothing(t *testing.T) {
	bin := buildArticlesd(t)
	forEachDialect(t, func(t *testing.T, dbURL string) {
		const rounds = 3
		for round := range rounds {
			gracefulStopRound(t, bin, dbURL, round)
		}
	})
}

// gracefulLoad is what the clients of one round saw.
type gracefulLoad struct {
	mu          sync.Mutex
	acks        []*faultResult      // creates answered 201 with the article
	dropped     map[string][]string // by kind: a request written, no complete answer
	bad         []string            // an answer, but not the one expected
	notStored   []*faultResult      // pipelined behind a Connection: close answer: must not be stored
	refused     int
	behindClose int
	late        int // creates sent after the drain on a connection opened during it, answered
	exited      atomic.Bool
}

func (g *gracefulLoad) drop(kind, what string) {
	g.add(func(g *gracefulLoad) {
		if g.dropped == nil {
			g.dropped = map[string][]string{}
		}
		g.dropped[kind] = append(g.dropped[kind], what)
	})
}

func (g *gracefulLoad) add(f func(g *gracefulLoad)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

// refusedDial reports whether a request failed because no connection could be made:
// refused, or no answer to the SYN.
func refusedDial(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrDeadlineExceeded) || op.Timeout()
}

func gracefulStopRound(t *testing.T, bin, dbURL string, round int) {
	began := time.Now()
	drain := defaults["shutdown-drain"].(time.Duration)
	srv := startChild(t, bin, dbURL)
	g := &gracefulLoad{dropped: map[string][]string{}}
	termed := make(chan time.Time, 1)
	var termAt atomic.Pointer[time.Time]
	var wg sync.WaitGroup
	spawn := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	prefix := fmt.Sprintf("graceful r%d", round)

	// The Go client's own keep-alive connections, and a new connection per request.
	goClients := func(workers int, keepAlive bool, kind string) {
		for w := range workers {
			spawn(func() {
				client := faultClient(15 * time.Second)
				client.Transport.(*http.Transport).DisableKeepAlives = !keepAlive
				for i := 0; !g.exited.Load(); i++ {
					title, content := uniqueArticle(prefix+" "+kind, w, i)
					r := faultCreate(client, srv.base(), title, content)
					g.add(func(g *gracefulLoad) {
						switch {
						case r.acknowledged():
							g.acks = append(g.acks, r)
						case r.err == nil:
							g.bad = append(g.bad, fmt.Sprintf("%s: %v %s", kind, r, r.bodyErr))
						case refusedDial(r.err):
							g.refused++
						default:
							kind := kind + ", new connection"
							if r.reused {
								kind = kind + ", reused connection"
							}
							g.dropped[kind] = append(g.dropped[kind], fmt.Sprintf("%s after SIGTERM: %v", sinceTerm(&termAt, r.start), r))
						}
					})
					if r.err != nil {
						time.Sleep(20 * time.Millisecond)
					}
				}
			})
		}
	}
	goClients(12, true, "keep-alive")
	goClients(4, false, "new connection")

	// Pipelining: 2 to 4 creates written back to back, then their answers read.
	for w := range 4 {
		spawn(func() {
			for i := 0; !g.exited.Load(); {
				c, err := net.DialTimeout("tcp", srv.addr, 2*time.Second)
				if err != nil {
					g.add(func(g *gracefulLoad) { g.refused++ })
					time.Sleep(20 * time.Millisecond)
					continue
				}
				br := bufio.NewReader(c)
				for open := true; open && !g.exited.Load(); {
					var batch []*faultResult
					var wire []byte
					for range 2 + i%3 {
						title, content := uniqueArticle(prefix+" pipelined", w, i)
						i++
						batch = append(batch, &faultResult{method: http.MethodPost, path: "/articles", title: title, content: content, start: time.Now()})
						wire = append(wire, rawCreate(title, content)...)
					}
					_, werr := c.Write(wire)
					open = readPipelined(g, c, br, batch, werr, &termAt, "pipelined creates")
				}
				c.Close()
			}
		})
	}

	// A large answer read slowly through a small receive buffer (set before connect, so
	// the window advertised fits it), a request behind it.
	smallBuffer := net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
	}}
	for range 2 {
		spawn(func() {
			for !g.exited.Load() {
				c, err := smallBuffer.Dial("tcp", srv.addr)
				if err != nil {
					g.add(func(g *gracefulLoad) { g.refused++ })
					time.Sleep(20 * time.Millisecond)
					continue
				}
				br := bufio.NewReader(c)
				for open := true; open && !g.exited.Load(); {
					_, werr := io.WriteString(c, "GET /openapi.yaml HTTP/1.1\r\nHost: articlesd\r\n\r\n")
					time.Sleep(2 * time.Millisecond)
					if werr == nil {
						_, werr = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: articlesd\r\n\r\n")
					}
					time.Sleep(30 * time.Millisecond)
					start := time.Now()
					batch := []*faultResult{{method: http.MethodGet, path: "/openapi.yaml", start: start}, {method: http.MethodGet, path: "/healthz", start: start}}
					open = readPipelined(g, c, br, batch, werr, &termAt, "large answer read slowly, a request behind it")
				}
				c.Close()
			}
		})
	}

	// Connections opened during the drain whose create is sent just after it.
	for w := range 4 {
		spawn(func() {
			t0 := <-termed
			time.Sleep(time.Until(t0.Add(drain - 50*time.Millisecond)))
			c, err := net.DialTimeout("tcp", srv.addr, 2*time.Second)
			if err != nil {
				g.drop("late create, dial during the drain", err.Error())
				return
			}
			defer c.Close()
			time.Sleep(time.Until(t0.Add(drain + time.Duration(20+15*w)*time.Millisecond)))
			title, content := uniqueArticle(prefix+" late", w, 0)
			r := &faultResult{method: http.MethodPost, path: "/articles", title: title, content: content, start: time.Now()}
			_, werr := c.Write(rawCreate(title, content))
			readPipelined(g, c, bufio.NewReader(c), []*faultResult{r}, werr, &termAt, "late create (connected during the drain, sent after it)")
			if r.acknowledged() {
				g.add(func(g *gracefulLoad) { g.late++ })
			}
		})
	}

	time.Sleep(1200 * time.Millisecond)
	now := time.Now()
	termAt.Store(&now)
	for range 4 {
		termed <- now
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	exitErr := srv.waitExit(t, 20*time.Second)
	stoppedAt := time.Now()
	g.exited.Store(true)
	wg.Wait()

	dropped := 0
	for _, d := range g.dropped {
		dropped += len(d)
	}
	t.Logf("round %d: creates acknowledged: %d (%d of 4 sent after the drain on a connection opened during it); "+
		"refused dials: %d; unanswered behind a Connection: close answer: %d; dropped: %d; bad answers: %d; stop took %s (round %s)",
		round, len(g.acks), g.late, g.refused, g.behindClose, dropped, len(g.bad),
		stoppedAt.Sub(now).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	if exitErr != nil {
		t.Errorf("round %d: articlesd exited with %v after SIGTERM, want status 0\n%s", round, exitErr, srv.out)
	}
	if !strings.Contains(srv.out.String(), "msg=stopped") {
		t.Errorf("round %d: articlesd did not log its stop:\n%s", round, srv.out)
	}
	kinds := make([]string, 0, len(g.dropped))
	for kind := range g.dropped {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		d := g.dropped[kind]
		t.Errorf("round %d: %d dropped (%s), first: %s", round, len(d), kind, strings.Join(firstN(d, 3), "; "))
	}
	for _, b := range firstN(g.bad, 8) {
		t.Errorf("round %d: incomplete or wrong answer: %s", round, b)
	}
	if n := storedTitles(t, dbURL, g.notStored); n > 0 {
		t.Errorf("round %d: %d of the %d creates pipelined behind a Connection: close answer were stored, without an answer", round, n, len(g.notStored))
	}
	if found := verifyStored(t, dbURL, g.acks); found != len(g.acks) {
		t.Errorf("round %d: %d of %d acknowledged creates found in the database", round, found, len(g.acks))
	}
}

func sinceTerm(termAt *atomic.Pointer[time.Time], at time.Time) string {
	if p := termAt.Load(); p != nil {
		return at.Sub(*p).Round(time.Microsecond).String()
	}
	return "before SIGTERM"
}

// rawCreate is a create request as written on the wire.
func rawCreate(title, content string) []byte {
	body, _ := json.Marshal(map[string]any{"title": title, "content": content, "author": "Fault Tester", "tags": []string{"fault"}})
	return fmt.Appendf(nil, "POST /articles HTTP/1.1\r\nHost: articlesd\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testToken, len(body), body)
}

// readPipelined reads the answers to batch, written together on c (werr: how the
// write went), records them in g, and reports whether c may be used again.
func readPipelined(g *gracefulLoad, c net.Conn, br *bufio.Reader, batch []*faultResult, werr error, termAt *atomic.Pointer[time.Time], kind string) bool {
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for i, r := range batch {
		r.wrote.Store(werr == nil)
		r.reused = i > 0
		resp, err := http.ReadResponse(br, &http.Request{Method: r.method})
		if err == nil {
			r.body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			r.status, r.header = resp.StatusCode, resp.Header
			if err != nil {
				err = fmt.Errorf("truncated answer: %d bytes of its body, then %w", len(r.body), err)
			}
		}
		r.end = time.Now()
		if err != nil {
			r.err = err
			if werr != nil {
				r.err = fmt.Errorf("%w (write: %v)", err, werr)
			}
			g.drop(kind, fmt.Sprintf("request %d of %d, %s after SIGTERM: %v", i+1, len(batch), sinceTerm(termAt, r.start), r))
			return false
		}
		ok := r.status == http.StatusOK
		if r.method == http.MethodPost {
			var a struct{ ID, Title, Content string }
			if r.status == http.StatusCreated && json.Unmarshal(r.body, &a) == nil && a.Title == r.title && a.Content == r.content && articleIDPattern.MatchString(a.ID) {
				r.id, ok = a.ID, true
			}
		}
		g.add(func(g *gracefulLoad) {
			switch {
			case !ok:
				g.bad = append(g.bad, fmt.Sprintf("pipelined %d of %d: %v", i+1, len(batch), r))
			case r.method == http.MethodPost:
				g.acks = append(g.acks, r)
			}
		})
		if resp.Close {
			// The rest were not to be served: nothing more may come, and none stored.
			rest := batch[i+1:]
			if n, _ := br.Read(make([]byte, 1)); n > 0 {
				g.add(func(g *gracefulLoad) { g.bad = append(g.bad, "bytes after a Connection: close answer") })
			}
			g.add(func(g *gracefulLoad) {
				g.behindClose += len(rest)
				for _, x := range rest {
					if x.method == http.MethodPost {
						g.notStored = append(g.notStored, x)
					}
				}
			})
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// TestLogFileUnwritable
// ---------------------------------------------------------------------------

// TestLogFileUnwritable serves with a log file that cannot be created (its parent is a
// regular file): requests are served as usual, logs still reach stderr, and the failure
// is reported once, not once per line.
func TestLogFileUnwritable(t *testing.T) {
	clearEnv(t)
	blocker := writeFile(t, "not-a-directory", "a regular file\n")
	cfg := serveConfig(storetest.URL(t, store.SQLite))
	cfg.LogFile = filepath.Join(blocker, "articlesd.log")
	cfg.LogFileMaxMB = 1
	srv := startServer(t, cfg)
	client := faultClient(10 * time.Second)

	const n = 60
	for i := range n {
		title, content := uniqueArticle("log", 0, i)
		r := faultCreate(client, "http://"+srv.addr, title, content)
		if !r.acknowledged() {
			t.Fatalf("create %d with an unwritable log file: %v %s", i, r, r.bodyErr)
		}
		if g := faultDo(client, http.MethodGet, "http://"+srv.addr, "/articles/"+r.id, nil); g.err != nil || g.status != http.StatusOK {
			t.Fatalf("read %d with an unwritable log file: %v", i, g)
		}
	}
	waitFor(t, 5*time.Second, "the request lines on stderr", func() bool {
		return strings.Count(srv.log.String(), "msg=request ") >= 2*n
	})
	if err := srv.stop(t); err != nil {
		t.Fatalf("runServe returned %v", err)
	}
	log := srv.log.String()
	if got := strings.Count(log, "log file unwritable"); got != 1 {
		t.Errorf("stderr says %q %d times, want exactly once:\n%s", "log file unwritable", got, strings.Join(firstLines(log, 20), "\n"))
	}
	if _, err := os.Stat(cfg.LogFile); err == nil {
		t.Errorf("%s exists", cfg.LogFile)
	}
	t.Logf("%d creates and %d reads served with an unwritable log file; %d request lines on stderr",
		n, n, strings.Count(log, "msg=request "))
}
