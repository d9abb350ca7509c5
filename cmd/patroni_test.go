package cmd

// TestPatroniFailover: a highly available PostgreSQL (issue 14).
//
// The test builds, on this machine, what the issue asks for in production: a Patroni
// cluster of three PostgreSQL 15 nodes keeping its state in a one-node etcd, three
// `articlesd serve` processes writing through a multi-host URL that finds the primary
// (target_session_attrs=read-write) and reading through one that prefers the standbys
// (target_session_attrs=prefer-standby), and Debian's HAProxy in front of them with the
// project's own haproxy.cfg (rendered by embedded.Stack, exactly as the compose profile
// does). Under create and read load through the balancer it kills the leader's
// postmaster with SIGKILL, the crash nobody can plan for, and then proves, through the
// new primary itself:
//
//   - no create that was answered 201 is lost: each is stored with its title;
//   - no answer is a 500 (nor any 5xx but 503): while no primary answers, articlesd says
//     503 with Retry-After, which is the truth, and a client may retry;
//   - creates work again within 15 s of the kill (the longest stretch without a 201
//     after it is under 15 s);
//   - reads of articles created before the kill never fail: /readyz checks only the
//     read pool when a read URL is set, so HAProxy keeps every replica in rotation, and
//     the reads go to the standbys, which the kill does not touch;
//   - retrying with the same Idempotency-Key never makes a duplicate: every key ends with
//     one 201 and exactly one article in the database, however many tries it took.
//
// The Patroni settings that matter, and why:
//
//   - synchronous_mode: true. The primary acknowledges a commit only once a synchronous
//     standby has it, and Patroni promotes only that standby. Without it an asynchronous
//     standby can be promoted without the last commits the primary had acknowledged:
//     assertion 1 would fail now and then. synchronous_mode_strict: false lets the
//     primary go on alone when no standby is left (availability over a second copy).
//   - primary_start_timeout: 0. After a crash of the primary Patroni fails over at once
//     instead of first trying to restart the crashed server in place (by default it
//     waits up to 300 s for that). With a synchronous standby nothing is lost either way;
//     failing over is what brings writes back within seconds.
//   - ttl: 10, loop_wait: 2, retry_timeout: 5. Patroni's loop runs every 2 s, so the crash
//     is seen within about 2 s; the leader key expires 10 s after its holder stops
//     renewing it (which matters when a whole node goes, not here, where the crashed
//     primary's Patroni gives up the key itself); etcd and PostgreSQL calls are retried
//     for 5 s before Patroni demotes itself. The defaults (30, 10, 10) would make a
//     failover take tens of seconds.
//   - use_pg_rewind, wal_log_hints and data checksums: the crashed primary can rejoin as
//     a standby of the new one without a fresh copy.
//   - maximum_lag_on_failover: a standby more than 1 MB behind is never promoted.
//
// Patroni 3.0.2 talks to etcd 3.4 through its v3 API (the etcd3: section, over etcd's
// gRPC gateway), so etcd needs no --enable-v2. PostgreSQL refuses to run as root, so
// Patroni runs as the postgres OS user, in directories of its own under the test's
// temporary directory; its PostgreSQL servers run in sessions of their own (Patroni
// starts them the way pg_ctl does, so that they outlive it), and the test's cleanup
// finds and kills them by the unique cluster name in their process titles.
//
// All ports are taken from 19100-19299, the range this test is given on the machine.

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/embedded"
	"github.com/articlesd/articlesd/store/storetest"
)

const (
	// patroniPGBin is where Debian's PostgreSQL 15 binaries are.
	patroniPGBin = "/usr/lib/postgresql/15/bin"

	// The load: closed-loop create workers and readers, all through the balancer.
	patroniCreateWorkers = 4
	patroniReadWorkers   = 2
	patroniSeeds         = 30 // articles created before the kill, for the readers
	patroniBeforeKill    = 6 * time.Second
	patroniAfterKill     = 15 * time.Second

	// A create is retried with the same key and body this long after each failed try,
	// and given up (a failure of the test) this long after its first.
	patroniRetryPause  = 200 * time.Millisecond
	patroniKeyDeadline = 30 * time.Second

	// patroniWriteGapLimit bounds the longest stretch after the kill without a 201.
	patroniWriteGapLimit = 15 * time.Second

	patroniSeedAuthor = "Patroni Seed"
	patroniLoadAuthor = "Patroni Load"
)

// TestPatroniFailover kills the primary of a Patroni cluster under load through HAProxy
// and three articlesd replicas, and checks that nothing acknowledged is lost, that no
// answer is a 500, that writes come back within 15 s, that reads never fail and that
// idempotency keys make retries safe (see the top of the file).
func TestPatroniFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster and runs for about a minute")
	}
	for _, tool := range []string{"patroni", "etcd", "haproxy"} {
		if _, err := exec.LookPath(tool); err != nil {
			storetest.Skip(t, storetest.Patroni, tool+" is not on PATH")
		}
	}
	if _, err := os.Stat(filepath.Join(patroniPGBin, "postgres")); err != nil {
		storetest.Skip(t, storetest.Patroni, "PostgreSQL 15 is not installed ("+patroniPGBin+"/postgres is missing)")
	}
	if os.Geteuid() != 0 {
		storetest.Skip(t, storetest.Patroni, "the test does not run as root (it runs PostgreSQL as the postgres user)")
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		storetest.Skip(t, storetest.Patroni, "there is no postgres OS user to run PostgreSQL as")
	}

	bin := buildArticlesd(t)
	began := time.Now()
	run := newPatroniRun(t, pgUser)
	ports := patroniPorts(t, 13)
	etcdClient, etcdPeer := ports[0], ports[1]
	apiAddrs := []string{patroniAddr(ports[8]), patroniAddr(ports[9]), patroniAddr(ports[10])}
	balancer, stats := patroniAddr(ports[11]), patroniAddr(ports[12])

	// The cluster: etcd, then the three Patroni nodes at once (one of them wins the race
	// to initialise the cluster, the others copy it).
	run.startEtcd(etcdClient, etcdPeer)
	var nodes []*patroniNode
	for i := range 3 {
		nodes = append(nodes, &patroniNode{name: fmt.Sprintf("n%d", i+1), pgPort: ports[2+i], restPort: ports[5+i]})
	}
	for _, n := range nodes {
		run.writeNodeConfig(n, etcdClient)
	}
	run.handOver()
	for _, n := range nodes {
		n.proc = run.start("patroni-"+n.name, true, run.patroniEnv(), "patroni", n.config)
	}
	cluster := &patroniCluster{nodes: nodes}
	first := cluster.waitHealthy(t, 60*time.Second)
	t.Logf("cluster healthy after %s: leader %s, sync standby %s",
		time.Since(began).Round(100*time.Millisecond), first.leader, first.sync)

	// The database, created on the leader, replicated to both standbys before anything
	// reads it there.
	leader := cluster.node(first.leader)
	if err := patroniExec(leader.pgPort, "postgres", "CREATE DATABASE articles"); err != nil {
		t.Fatalf("create the database on the leader %s: %v", leader.name, err)
	}
	for _, n := range nodes {
		waitFor(t, 20*time.Second, "database articles on "+n.name, func() bool {
			var one int
			return patroniQueryRow(n.pgPort, "postgres", "SELECT 1 FROM pg_database WHERE datname = 'articles'", &one) == nil
		})
	}

	// Three articlesd, then HAProxy in front of them.
	var hosts []string
	for _, n := range nodes {
		hosts = append(hosts, patroniAddr(n.pgPort))
	}
	dbURL := "postgres://postgres@" + strings.Join(hosts, ",") + "/articles?sslmode=disable&target_session_attrs=read-write"
	readURL := "postgres://postgres@" + strings.Join(hosts, ",") + "/articles?sslmode=disable&target_session_attrs=prefer-standby"
	for i, addr := range apiAddrs {
		run.patroniChild(fmt.Sprintf("articlesd-%d", i+1), bin, addr, dbURL, readURL)
	}
	run.startHAProxy(apiAddrs, balancer, stats)
	base := "http://" + balancer

	// The articles the readers read, stored on every standby before the load begins: a
	// read of an article a standby does not have yet goes to the primary (see
	// store.GetArticle), and the primary is what the test kills.
	load := &patroniLoad{base: base}
	seedClient := faultClient(10 * time.Second)
	var seeds []*patroniCreate
	for i := range patroniSeeds {
		c := newPatroniCreate(patroniSeedAuthor, "seed", i)
		if !load.create(seedClient, c) {
			t.Fatalf("seed article %d: %s", i, c.failure)
		}
		seeds = append(seeds, c)
	}
	for _, n := range nodes {
		waitFor(t, 20*time.Second, "the seed articles on "+n.name, func() bool {
			var count int
			err := patroniQueryRow(n.pgPort, "articles", "SELECT count(*) FROM articles WHERE author = '"+patroniSeedAuthor+"'", &count)
			return err == nil && count == patroniSeeds
		})
	}
	seedReplays := load.replays
	load.reset()

	// The load, the kill, the load on after it.
	var workers sync.WaitGroup
	for w := range patroniCreateWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			load.createLoop(w)
		}()
	}
	for range patroniReadWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			load.readLoop(seeds)
		}()
	}
	time.Sleep(patroniBeforeKill)
	old := cluster.node(cluster.state().leader)
	if old == nil {
		load.stop.Store(true)
		workers.Wait()
		t.Fatalf("no leader to kill: %s", cluster.state())
	}
	pid := old.postmasterPID(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the postmaster (pid %d) of %s: %v", pid, old.name, err)
	}
	killAt := time.Now()
	load.killAt.Store(&killAt)
	t.Logf("killed the postmaster (pid %d) of the leader %s", pid, old.name)
	elected := cluster.watchElection(old.name, killAt)
	time.Sleep(patroniAfterKill)
	stopAt := time.Now()
	load.stop.Store(true)
	workers.Wait()

	// The verdict, from the new primary itself.
	election := <-elected
	if election.name == "" {
		t.Fatalf("no new leader within 30 s of the kill: %s", cluster.state())
	}
	primary := cluster.node(election.name)
	var inRecovery bool
	if err := patroniQueryRow(primary.pgPort, "postgres", "SELECT pg_is_in_recovery()", &inRecovery); err != nil || inRecovery {
		t.Fatalf("the new leader %s is not a primary (in recovery %v, error %v)", primary.name, inRecovery, err)
	}
	stored := patroniStored(t, primary.pgPort)

	// 1. No acknowledged create lost, and 5. one article per idempotency key.
	all := append(append([]*patroniCreate(nil), seeds...), load.creates...)
	lost, unfinished := 0, 0
	for _, c := range all {
		if c.id == "" {
			if unfinished++; unfinished <= 10 {
				t.Errorf("key %s never got its 201: %s", c.key, c.failure)
			}
			continue
		}
		if title, ok := stored.byID[c.id]; !ok || title != c.title {
			if lost++; lost <= 10 {
				t.Errorf("article %s %q, answered 201 at %s, is stored as %q (found %v)", c.id, c.title, patroniSince(killAt, c.ackedAt), title, ok)
			}
		}
		if n := stored.perTitle[c.title]; n != 1 {
			t.Errorf("key %s (%q): %d articles in the database, want exactly 1", c.key, c.title, n)
		}
	}
	if lost > 0 || unfinished > 0 {
		t.Errorf("%d acknowledged creates lost, %d keys without a 201 (of %d keys)", lost, unfinished, len(all))
	}
	// Every article of the load is one of the keys': a try that was not acknowledged
	// must not have stored a second one beside the key's.
	if want := len(load.creates); stored.loadRows != want {
		t.Errorf("%d articles by %q in the database, want one per key: %d", stored.loadRows, patroniLoadAuthor, want)
	}

	// 2. No 500 (nor any answer a create or read may not get), 4. no failed read.
	for _, v := range load.violations {
		t.Errorf("%s", v)
	}
	if load.violationCount > len(load.violations) {
		t.Errorf("... %d wrong answers in all", load.violationCount)
	}
	for _, f := range load.readFailures {
		t.Errorf("read: %s", f)
	}
	if load.readFailCount > len(load.readFailures) {
		t.Errorf("... %d of %d reads failed in all", load.readFailCount, load.reads)
	}

	// 3. Creates back within 15 s: the longest stretch after the kill without a 201 is
	// shorter, and it ends with a 201 (one that runs to the end of the load means that
	// writes never came back, however short it is).
	gap, gapEnd := load.writeGap(killAt, stopAt)
	if !gapEnd.Before(stopAt) {
		t.Errorf("creates did not come back: no 201 in the last %s of the load", gap.Round(time.Millisecond))
	} else if gap >= patroniWriteGapLimit {
		t.Errorf("longest stretch after the kill without a 201: %s (until %s), want under %s", gap.Round(time.Millisecond), patroniSince(killAt, gapEnd), patroniWriteGapLimit)
	}
	t.Logf("writes back after %.1f s (the longest stretch without a 201, %.1f s, ended at %s)", gapEnd.Sub(killAt).Seconds(), gap.Seconds(), patroniSince(killAt, gapEnd))

	// 6. The read-replica rules, on the cluster after its failover: a read of an article
	// right after its 201 finds it (a standby that has not replayed it yet sends the read
	// on to the primary), and the pools that served each route are the documented ones.
	patroniReplicaRules(t, base, apiAddrs)

	final := cluster.state()
	t.Logf("cluster at the end: %s", final)
	t.Logf("summary: creates acknowledged %d (%d keys, %d tries, %d without an HTTP answer), replays %d (+%d while seeding), 503s seen %d, longest write gap %.1f s, reads done %d / failed %d, new leader %s elected %.1f s after the kill, total %s",
		load.acked(), len(load.creates), load.tries, load.transport, load.replays, seedReplays, load.unavailable, gap.Seconds(),
		load.reads, load.readFailCount, election.name, election.after.Seconds(), time.Since(began).Round(100*time.Millisecond))
}

// ---------------------------------------------------------------------------
// Processes of the run
// ---------------------------------------------------------------------------

// patroniRun is everything the test starts: the directories, the processes and their
// logs.
type patroniRun struct {
	t       *testing.T
	dir     string // the test's temporary directory: logs, configuration of HAProxy, etcd's data
	work    string // dir/pg, owned by the postgres user: the nodes' data and sockets
	cluster string // the cluster's name, unique to the run: in every postgres process title
	cred    *syscall.Credential
	procs   []*patroniProc
}

// patroniProc is one process the run started, with its output in a file. A file, not a
// pipe: the PostgreSQL servers Patroni starts inherit its output and outlive it, and
// exec.Cmd.Wait would wait for them to close a pipe.
type patroniProc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed when the process has exited, with err set
	err    error
}

// newPatroniRun makes the run's directories: one the postgres user owns, under a
// temporary directory it may traverse. Its cleanups kill whatever of the run is left and
// show the processes' logs when the test failed.
func newPatroniRun(t *testing.T, pgUser *user.User) *patroniRun {
	uid, err := strconv.Atoi(pgUser.Uid)
	if err != nil {
		t.Fatalf("uid of postgres %q: %v", pgUser.Uid, err)
	}
	gid, err := strconv.Atoi(pgUser.Gid)
	if err != nil {
		t.Fatalf("gid of postgres %q: %v", pgUser.Gid, err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := &patroniRun{
		t:       t,
		dir:     t.TempDir(),
		cluster: "articlesd_patroni_" + hex.EncodeToString(b[:]),
		cred:    &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
	}
	// t.TempDir makes its directories for root alone (0700); postgres must reach its own.
	for _, d := range []string{filepath.Dir(r.dir), r.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.work = filepath.Join(r.dir, "pg")
	for _, d := range []string{r.work, filepath.Join(r.work, "home"), filepath.Join(r.work, "sock"), filepath.Join(r.dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Cleanups run last registered first: the logs are shown (when the test failed)
	// once every process is killed, then the sweep kills what outlived its parent.
	t.Cleanup(r.sweep)
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range r.procs {
				t.Logf("--- last lines of %s (%s):\n%s", p.name, p.log, patroniTail(p.log, 40))
			}
		}
	})
	return r
}

// handOver gives the postgres user everything under the work directory, written by root.
func (r *patroniRun) handOver() {
	err := filepath.Walk(r.work, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, int(r.cred.Uid), int(r.cred.Gid))
	})
	if err != nil {
		r.t.Fatalf("chown %s to postgres: %v", r.work, err)
	}
}

// start runs a command in a process group of its own (so that it and its children can be
// killed together), as the postgres user when asPostgres, and kills it when the test ends.
func (r *patroniRun) start(name string, asPostgres bool, env []string, args ...string) *patroniProc {
	t := r.t
	t.Helper()
	p := &patroniProc{name: name, log: filepath.Join(r.dir, "logs", name+".log"), exited: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = env
	p.cmd.Dir = r.work
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if asPostgres {
		p.cmd.SysProcAttr.Credential = r.cred
	}
	err = p.cmd.Start()
	f.Close() // the child has its own copy
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	r.procs = append(r.procs, p)
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not exit within 10 s of SIGKILL", name, p.cmd.Process.Pid)
		}
	})
	return p
}

// running fails the test when the process has exited.
func (p *patroniProc) running(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited: %v\n%s", p.name, p.err, patroniTail(p.log, 40))
	default:
	}
}

// sweep kills every process of the run that is left: the PostgreSQL servers, which
// Patroni starts in sessions of their own so that they outlive it, the children of the
// postmaster that was killed, and anything else whose command line names the run's
// directory or cluster. It fails the test when one survives.
func (r *patroniRun) sweep() {
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := r.leftovers()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Errorf("processes of the run survive SIGKILL: %v", left)
			return
		}
		for pid := range left {
			// A postmaster and its children share a process group that is theirs alone.
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leftovers returns the processes whose command line names the run's directory (a
// postmaster's -D) or cluster (the title of each of its children), by pid.
func (r *patroniRun) leftovers() map[int]string {
	left := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		if strings.Contains(cmdline, r.dir) || strings.Contains(cmdline, r.cluster) {
			left[pid] = cmdline
		}
	}
	return left
}

// patroniTail returns the last n lines of a file.
func patroniTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// patroniPorts returns n loopback ports of 19100-19299 that nothing listens on now.
func patroniPorts(t *testing.T, n int) []int {
	t.Helper()
	return freePorts(t, 19100, 19299, n)
}

func patroniAddr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// ---------------------------------------------------------------------------
// etcd and Patroni
// ---------------------------------------------------------------------------

// startEtcd runs a one-node etcd (as the test's user: it needs nothing of postgres) and
// waits until it is healthy.
func (r *patroniRun) startEtcd(clientPort, peerPort int) {
	t := r.t
	client, peer := "http://"+patroniAddr(clientPort), "http://"+patroniAddr(peerPort)
	p := r.start("etcd", false, []string{"PATH=/usr/bin:/bin", "HOME=" + r.dir},
		"etcd", "--name", "e1", "--data-dir", filepath.Join(r.dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e1="+peer)
	hc := &http.Client{Timeout: time.Second}
	waitFor(t, 20*time.Second, "etcd to be healthy", func() bool {
		p.running(t)
		resp, err := hc.Get(client + "/health")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && strings.Contains(string(b), `"true"`)
	})
}

// patroniNode is one member of the cluster.
type patroniNode struct {
	name     string
	pgPort   int
	restPort int
	dataDir  string
	config   string // the path of its patroni.yml
	proc     *patroniProc
}

// patroniEnv is the environment of Patroni and so of its PostgreSQL servers: nothing of
// the test's (no PG* variable may point them elsewhere).
func (r *patroniRun) patroniEnv() []string {
	return []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Join(r.work, "home"), "LANG=C.UTF-8", "LC_ALL=C.UTF-8"}
}

// writeNodeConfig writes a node's patroni.yml. The bootstrap section (the same in every
// node's file) is what the first node writes to etcd for the whole cluster; see the top
// of the file for why each value is what it is.
func (r *patroniRun) writeNodeConfig(n *patroniNode, etcdPort int) {
	dir := filepath.Join(r.work, n.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	n.dataDir = filepath.Join(dir, "data")
	n.config = filepath.Join(dir, "patroni.yml")
	cfg := fmt.Sprintf(`scope: %[1]s
name: %[2]s
log:
  level: INFO
restapi:
  listen: 127.0.0.1:%[3]d
  connect_address: 127.0.0.1:%[3]d
etcd3:
  hosts: 127.0.0.1:%[4]d
watchdog:
  mode: "off"
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: false
    primary_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        max_connections: 100
        fsync: "on"
  initdb:
    - encoding: UTF8
    - data-checksums
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:%[5]d
  connect_address: 127.0.0.1:%[5]d
  data_dir: %[6]s
  bin_dir: %[7]s
  pgpass: %[8]s
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
  parameters:
    unix_socket_directories: %[9]s
    cluster_name: %[1]s
`, r.cluster, n.name, n.restPort, etcdPort, n.pgPort, n.dataDir, patroniPGBin,
		filepath.Join(dir, "pgpass"), filepath.Join(r.work, "sock"))
	if err := os.WriteFile(n.config, []byte(cfg), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// postmasterPID reads the pid of the node's postmaster from its data directory and
// checks that the process is that postmaster.
func (n *patroniNode) postmasterPID(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatalf("the postmaster of %s: %v", n.name, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("postmaster.pid of %s begins with %q", n.name, line)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !strings.Contains(string(cmdline), n.dataDir) {
		t.Fatalf("process %d of postmaster.pid of %s is not its postmaster: %q", pid, n.name, cmdline)
	}
	return pid
}

// patroniCluster asks the nodes' Patroni REST APIs what the cluster is.
type patroniCluster struct {
	nodes []*patroniNode
}

// patroniMember is one member in the answer of GET /cluster.
type patroniMember struct {
	Name     string `json:"name"`
	Role     string `json:"role"`  // leader, sync_standby or replica
	State    string `json:"state"` // running (Patroni 3.0 says so of a streaming replica too), starting, stopped…
	Timeline int    `json:"timeline"`
	Lag      any    `json:"lag"`
}

// patroniState is the cluster as one node's Patroni sees it.
type patroniState struct {
	from    string
	members []patroniMember
	leader  string // the running leader, "" when there is none
	sync    string // the running synchronous standby
	err     error
}

func (s patroniState) String() string {
	if s.err != nil {
		return "no Patroni answers: " + s.err.Error()
	}
	var parts []string
	for _, m := range s.members {
		parts = append(parts, fmt.Sprintf("%s %s %s (timeline %d, lag %v)", m.Name, m.Role, m.State, m.Timeline, m.Lag))
	}
	return "according to " + s.from + ": " + strings.Join(parts, "; ")
}

var patroniRESTClient = &http.Client{Timeout: time.Second}

// stateFrom asks one node for the cluster.
func (c *patroniCluster) stateFrom(n *patroniNode) patroniState {
	s := patroniState{from: n.name}
	resp, err := patroniRESTClient.Get(fmt.Sprintf("http://127.0.0.1:%d/cluster", n.restPort))
	if err != nil {
		s.err = err
		return s
	}
	defer resp.Body.Close()
	var body struct {
		Members []patroniMember `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		s.err = fmt.Errorf("GET /cluster of %s: %w", n.name, err)
		return s
	}
	s.members = body.Members
	for _, m := range s.members {
		switch {
		case m.Role == "leader" && m.State == "running":
			s.leader = m.Name
		case m.Role == "sync_standby" && m.State == "running":
			s.sync = m.Name
		}
	}
	return s
}

// state asks the nodes in turn until one answers.
func (c *patroniCluster) state() patroniState {
	var s patroniState
	for _, n := range c.nodes {
		if s = c.stateFrom(n); s.err == nil {
			return s
		}
	}
	return s
}

func (c *patroniCluster) node(name string) *patroniNode {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// waitHealthy waits until the cluster has a leader, a synchronous standby and another
// replica, all running, and the leader streams to both standbys.
func (c *patroniCluster) waitHealthy(t *testing.T, limit time.Duration) patroniState {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, n := range c.nodes {
			n.proc.running(t)
		}
		s := c.state()
		why := c.unhealthy(s)
		if why == "" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster is not healthy after %s: %s (%s)", limit, why, s)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// unhealthy says what the cluster lacks to be healthy ("" when nothing).
func (c *patroniCluster) unhealthy(s patroniState) string {
	if s.err != nil {
		return s.err.Error()
	}
	running := 0
	for _, m := range s.members {
		if m.State == "running" {
			running++
		}
	}
	if len(s.members) != 3 || running != 3 || s.leader == "" || s.sync == "" {
		return "want three running members, one the leader, one its synchronous standby"
	}
	var streaming, sync int
	err := patroniQueryRow(c.node(s.leader).pgPort, "postgres",
		"SELECT count(*) FILTER (WHERE state = 'streaming'), count(*) FILTER (WHERE sync_state = 'sync') FROM pg_stat_replication",
		&streaming, &sync)
	switch {
	case err != nil:
		return "pg_stat_replication on the leader: " + err.Error()
	case streaming != 2 || sync != 1:
		return fmt.Sprintf("the leader streams to %d standbys, %d of them synchronous; want 2 and 1", streaming, sync)
	}
	return ""
}

// patroniElection is when a new leader was seen after the kill.
type patroniElection struct {
	name  string
	after time.Duration
}

// watchElection polls the surviving nodes' REST APIs until one of them reports a running
// leader other than old (or 30 s have passed: name "").
func (c *patroniCluster) watchElection(old string, killAt time.Time) <-chan patroniElection {
	out := make(chan patroniElection, 1)
	go func() {
		for time.Since(killAt) < 30*time.Second {
			for _, n := range c.nodes {
				if n.name == old {
					continue
				}
				if s := c.stateFrom(n); s.err == nil && s.leader != "" && s.leader != old {
					out <- patroniElection{name: s.leader, after: time.Since(killAt)}
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		out <- patroniElection{}
	}()
	return out
}

// ---------------------------------------------------------------------------
// Direct SQL on one node
// ---------------------------------------------------------------------------

// patroniConnect connects to one node alone (not through any multi-host URL).
func patroniConnect(port int, database string) (*pgx.Conn, context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=2", port, database))
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return conn, ctx, cancel, nil
}

func patroniExec(port int, database, statement string) error {
	conn, ctx, cancel, err := patroniConnect(port, database)
	if err != nil {
		return err
	}
	defer cancel()
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, statement)
	return err
}

func patroniQueryRow(port int, database, query string, dest ...any) error {
	conn, ctx, cancel, err := patroniConnect(port, database)
	if err != nil {
		return err
	}
	defer cancel()
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, query).Scan(dest...)
}

// patroniRows is what the database holds: every article's title by id, how many articles
// have each title, and how many the load wrote.
type patroniRows struct {
	byID     map[string]string
	perTitle map[string]int
	loadRows int
}

func patroniStored(t *testing.T, port int) patroniRows {
	t.Helper()
	conn, ctx, cancel, err := patroniConnect(port, "articles")
	if err != nil {
		t.Fatalf("connect to the new primary: %v", err)
	}
	defer cancel()
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT id::text, title, author FROM articles")
	if err != nil {
		t.Fatalf("read the articles on the new primary: %v", err)
	}
	out := patroniRows{byID: map[string]string{}, perTitle: map[string]int{}}
	for rows.Next() {
		var id, title, author string
		if err := rows.Scan(&id, &title, &author); err != nil {
			t.Fatal(err)
		}
		out.byID[id] = title
		out.perTitle[title]++
		if author == patroniLoadAuthor {
			out.loadRows++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the articles on the new primary: %v", err)
	}
	return out
}

// patroniRYW is how many articles patroniReplicaRules creates and reads back at once.
const patroniRYW = 40

// patroniReplicaRules creates articles through the balancer and reads each back at once,
// then a listing, a search and popular, and checks which pools served them on the three
// articlesd: searches, popular and reads by id from the standbys (a read by id that
// misses there is asked again of the primary: "primary+replica"), never the primary
// alone; creates from the primary.
func patroniReplicaRules(t *testing.T, base string, apiAddrs []string) {
	t.Helper()
	client := faultClient(10 * time.Second)
	l := &patroniLoad{base: base}
	before := patroniPools(t, apiAddrs)
	for i := range patroniRYW {
		c := newPatroniCreate("Patroni Read Your Writes", "ryw", i)
		if !l.create(client, c) {
			t.Fatalf("create after the failover: %s", c.failure)
		}
		a := patroniSend(client, http.MethodGet, base+"/articles/"+c.id, nil, "")
		var got struct{ ID, Title string }
		if a.err != nil || a.status != http.StatusOK || json.Unmarshal(a.body, &got) != nil || got.ID != c.id || got.Title != c.title {
			t.Errorf("read of article %s right after its 201: %d %v %.300s", c.id, a.status, a.err, a.body)
		}
	}
	for _, path := range []string{"/articles?author=Patroni%20Read%20Your%20Writes&limit=5", "/articles/search?query=failover", "/articles/popular?limit=5"} {
		if a := patroniSend(client, http.MethodGet, base+path, nil, ""); a.err != nil || a.status != http.StatusOK {
			t.Errorf("GET %s after the failover: %d %v %.300s", path, a.status, a.err, a.body)
		}
	}
	served := patroniPools(t, apiAddrs)
	for k, v := range before {
		served[k] -= v
	}
	byID := served[[2]string{"/articles/{id}", "replica"}] + served[[2]string{"/articles/{id}", "primary+replica"}]
	t.Logf("read-replica rules: %d creates each read back at once; reads by id served by the standbys %d, of which asked again of the primary (replication lag) %d; pools %v",
		patroniRYW, byID, served[[2]string{"/articles/{id}", "primary+replica"}], served)
	if byID != patroniRYW {
		t.Errorf("%d reads by id went to the standbys, want all %d (%v)", byID, patroniRYW, served)
	}
	for _, route := range []string{"/articles/{id}", "/articles/search", "/articles/popular"} {
		if n := served[[2]string{route, "primary"}]; n != 0 {
			t.Errorf("%d requests to %s served by the primary alone: reads go to the standbys", n, route)
		}
	}
	for _, route := range []string{"/articles/search", "/articles/popular"} {
		if n := served[[2]string{route, "replica"}]; n != 1 {
			t.Errorf("%d requests to %s served by the standbys, want 1", n, route)
		}
	}
	// The creates (POST) and the listing (GET) share their route: the primary served the
	// creates, the standbys the listing.
	if p, r := served[[2]string{"/articles", "primary"}], served[[2]string{"/articles", "replica"}]; p != patroniRYW || r != 1 {
		t.Errorf("/articles: %d served by the primary, %d by the standbys; want the %d creates and the 1 listing", p, r, patroniRYW)
	}
}

// patroniPools sums articlesd_requests_by_db_pool_total of the articlesd at addrs, by
// route and pool.
func patroniPools(t *testing.T, addrs []string) map[[2]string]int {
	t.Helper()
	out := map[[2]string]int{}
	for _, addr := range addrs {
		fam := scrape(t, "http://"+addr)["articlesd_requests_by_db_pool_total"]
		if fam == nil {
			t.Fatalf("%s/metrics has no articlesd_requests_by_db_pool_total", addr)
		}
		for _, m := range fam.GetMetric() {
			var k [2]string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "endpoint":
					k[0] = lp.GetValue()
				case "pool":
					k[1] = lp.GetValue()
				}
			}
			out[k] += int(m.GetCounter().GetValue())
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// articlesd and HAProxy
// ---------------------------------------------------------------------------

// patroniChild runs `articlesd serve` writing to the primary and reading from the
// standbys, and waits until /readyz says 200.
func (r *patroniRun) patroniChild(name, bin, addr, dbURL, readURL string) {
	t := r.t
	p := r.start(name, false, childEnv(), bin, "serve", "--addr", addr,
		"--database-url", dbURL, "--database-read-url", readURL,
		"--auth", "on", "--trusted-proxies", "127.0.0.1", "--shutdown-timeout", "10s",
		"--db-max-conns", "8", "--auto-migrate=true")
	client := faultClient(2 * time.Second)
	waitFor(t, 30*time.Second, name+" to be ready", func() bool {
		p.running(t)
		a := patroniSend(client, http.MethodGet, "http://"+addr+"/readyz", nil, "")
		return a.err == nil && a.status == http.StatusOK
	})
}

// startHAProxy writes the project's haproxy.cfg for the three replicas, has HAProxy check
// it, runs it and waits until it sends requests to all three.
func (r *patroniRun) startHAProxy(replicas []string, balancer, stats string) {
	t := r.t
	p := embedded.DefaultStackParams()
	p.Replicas = replicas
	p.Balancer = balancer
	p.BalancerStats = stats
	files, err := embedded.Stack(p)
	if err != nil {
		t.Fatalf("render the stack files: %v", err)
	}
	body, ok := files["haproxy/haproxy.cfg"]
	if !ok {
		t.Fatalf("embedded.Stack wrote no haproxy/haproxy.cfg (it wrote %v)", embedded.StackPaths(files))
	}
	cfg := filepath.Join(r.dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c rejects the project's haproxy.cfg: %v\n%s", err, out)
	}
	proc := r.start("haproxy", false, []string{"PATH=/usr/sbin:/usr/bin:/bin"}, "haproxy", "-f", cfg, "-db")
	client := faultClient(2 * time.Second)
	waitFor(t, 20*time.Second, "HAProxy to send requests to all three replicas", func() bool {
		proc.running(t)
		a := patroniSend(client, http.MethodGet, "http://"+balancer+"/readyz", nil, "")
		if a.err != nil || a.status != http.StatusOK {
			return false
		}
		states, err := patroniServerStates(stats)
		if err != nil || len(states) != len(replicas) {
			return false
		}
		for _, s := range states {
			if s != "UP" {
				return false
			}
		}
		return true
	})
}

// patroniServerStates reads HAProxy's statistics (CSV) and returns the status of each
// server of the articlesd backend.
func patroniServerStates(stats string) (map[string]string, error) {
	resp, err := patroniRESTClient.Get("http://" + stats + "/stats;csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil || len(records) == 0 {
		return nil, fmt.Errorf("stats CSV: %v", err)
	}
	col := map[string]int{}
	for i, name := range records[0] {
		col[strings.TrimPrefix(name, "# ")] = i
	}
	out := map[string]string{}
	for _, rec := range records[1:] {
		px, sv, status := rec[col["pxname"]], rec[col["svname"]], rec[col["status"]]
		if px == "articlesd" && sv != "FRONTEND" && sv != "BACKEND" {
			out[sv] = status
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------

// patroniAnswer is one HTTP exchange.
type patroniAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error     // no HTTP answer
	at     time.Time // when the answer, or the error, came
}

// patroniSend sends one request; a body goes with the bootstrap token and, when key is
// not empty, an Idempotency-Key.
func patroniSend(client *http.Client, method, url string, body []byte, key string) patroniAnswer {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return patroniAnswer{err: err, at: time.Now()}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return patroniAnswer{err: err, at: time.Now()}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return patroniAnswer{status: resp.StatusCode, header: resp.Header, body: b, err: err, at: time.Now()}
}

// patroniCreate is one article to create, under one idempotency key, and what came of it.
type patroniCreate struct {
	key, title, content, author string
	id                          string    // from its 201
	ackedAt                     time.Time // when the 201 came
	failure                     string    // why it never got a 201 ("" when it did)
}

// newPatroniCreate makes an article and a key that no other create of any run uses.
func newPatroniCreate(author, kind string, i int) *patroniCreate {
	var b [6]byte
	_, _ = rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	return &patroniCreate{
		key:     "patroni-" + kind + "-" + tag,
		title:   fmt.Sprintf("Failover %s #%d %s", kind, i, tag),
		content: "Written while a Patroni leader dies, " + tag + ".",
		author:  author,
	}
}

// patroniLoad runs creates and reads through the balancer and counts what came of them.
type patroniLoad struct {
	base   string
	stop   atomic.Bool
	killAt atomic.Pointer[time.Time] // for the log lines of wrong answers

	mu             sync.Mutex
	creates        []*patroniCreate // of the load (not the seeds), each finished
	acks           []time.Time      // when each 201 to a create came (replays too)
	tries          int
	replays        int // 201s with Idempotent-Replayed: true
	unavailable    int // 503s, to creates and reads
	transport      int // create tries that got no HTTP answer
	violationCount int
	violations     []string // the first answers no request may get (5xx but 503, …)
	reads          int
	readFailCount  int
	readFailures   []string // the first failed reads
}

// reset forgets the counts (of the seeding).
func (l *patroniLoad) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.creates, l.acks, l.tries, l.replays, l.unavailable, l.transport = nil, nil, 0, 0, 0, 0
	l.violationCount, l.violations, l.reads, l.readFailCount, l.readFailures = 0, nil, 0, 0, nil
}

func (l *patroniLoad) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// when says when something happened, relative to the kill.
func (l *patroniLoad) when(at time.Time) string {
	if k := l.killAt.Load(); k != nil {
		return patroniSince(*k, at)
	}
	return "before the kill"
}

// patroniSince says at relative to the kill: "kill+1.234s" or "kill-0.5s".
func patroniSince(killAt, at time.Time) string {
	return fmt.Sprintf("kill%+.3fs", at.Sub(killAt).Seconds())
}

// violation records an answer the test does not allow (the caller holds l.mu).
func (l *patroniLoad) violation(format string, args ...any) {
	if l.violationCount++; len(l.violations) < 20 {
		l.violations = append(l.violations, fmt.Sprintf(format, args...))
	}
}

// createLoop creates articles one after the other until the load stops; each is
// finished (a 201, or given up after patroniKeyDeadline) before the loop looks.
func (l *patroniLoad) createLoop(worker int) {
	client := faultClient(10 * time.Second)
	for i := 0; !l.stop.Load(); i++ {
		c := newPatroniCreate(patroniLoadAuthor, fmt.Sprintf("w%d", worker), i)
		l.create(client, c)
		l.mu.Lock()
		l.creates = append(l.creates, c)
		l.mu.Unlock()
	}
}

// create sends one article until it is answered 201, with the same key and body each
// time: a try whose answer was lost may have stored it, and the key makes the next try
// replay that create instead of storing it again. It reports whether a 201 came.
func (l *patroniLoad) create(client *http.Client, c *patroniCreate) bool {
	body, _ := json.Marshal(map[string]any{"title": c.title, "content": c.content, "author": c.author, "tags": []string{"failover"}})
	deadline := time.Now().Add(patroniKeyDeadline)
	for {
		a := patroniSend(client, http.MethodPost, l.base+"/articles", body, c.key)
		var got struct{ ID, Title string }
		l.mu.Lock()
		l.tries++
		switch {
		case a.err != nil:
			l.transport++
			c.failure = "no answer: " + a.err.Error()
		case a.status == http.StatusCreated && json.Unmarshal(a.body, &got) == nil && got.ID != "" && got.Title == c.title:
			c.id, c.ackedAt, c.failure = got.ID, a.at, ""
			l.acks = append(l.acks, a.at)
			if a.header.Get("Idempotent-Replayed") == "true" {
				l.replays++
			}
			l.mu.Unlock()
			return true
		case a.status == http.StatusServiceUnavailable:
			l.unavailable++
			c.failure = "503"
		default:
			// A 500, a 502 or 504 of HAProxy's, a 201 with another article, a 4xx: none
			// is a right answer to this create, whatever the cluster is doing.
			l.violation("create %s at %s: %d %.300s", c.key, l.when(a.at), a.status, a.body)
			c.failure = fmt.Sprintf("%d %.200s", a.status, a.body)
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			c.failure = fmt.Sprintf("given up after %s, last try: %s", patroniKeyDeadline, c.failure)
			return false
		}
		time.Sleep(patroniRetryPause)
	}
}

// readLoop reads seed articles, and now and then the listing of all of them, until the
// load stops. Every answer must be 200 with the right content.
func (l *patroniLoad) readLoop(seeds []*patroniCreate) {
	client := faultClient(10 * time.Second)
	titles := make([]string, len(seeds))
	for i, s := range seeds {
		titles[i] = s.title
	}
	sort.Strings(titles)
	listPath := "/articles?limit=100&author=" + url.QueryEscape(patroniSeedAuthor)
	for i := 0; !l.stop.Load(); i++ {
		var a patroniAnswer
		var problem string
		if i%5 == 4 {
			a = patroniSend(client, http.MethodGet, l.base+listPath, nil, "")
			var got []string
			if a.err == nil && a.status == http.StatusOK {
				if err := json.Unmarshal(a.body, &got); err != nil {
					problem = "invalid JSON: " + err.Error()
				} else if sort.Strings(got); strings.Join(got, "\n") != strings.Join(titles, "\n") {
					problem = fmt.Sprintf("listed %d titles, not the %d seeds", len(got), len(titles))
				}
			}
			problem = patroniReadProblem("GET "+listPath, a, problem)
		} else {
			s := seeds[mathrand.IntN(len(seeds))]
			a = patroniSend(client, http.MethodGet, l.base+"/articles/"+s.id, nil, "")
			var got struct{ Title string }
			if a.err == nil && a.status == http.StatusOK {
				if err := json.Unmarshal(a.body, &got); err != nil || got.Title != s.title {
					problem = fmt.Sprintf("title %q, want %q (%v)", got.Title, s.title, err)
				}
			}
			problem = patroniReadProblem("GET /articles/"+s.id, a, problem)
		}
		l.mu.Lock()
		l.reads++
		if a.err == nil && a.status == http.StatusServiceUnavailable {
			l.unavailable++
		}
		if a.err == nil && a.status >= 500 && a.status != http.StatusServiceUnavailable {
			l.violation("read at %s: %d %.300s", l.when(a.at), a.status, a.body)
		}
		if problem != "" {
			if l.readFailCount++; len(l.readFailures) < 20 {
				l.readFailures = append(l.readFailures, l.when(a.at)+": "+problem)
			}
		}
		l.mu.Unlock()
	}
}

// patroniReadProblem says what is wrong with the answer to a read ("" when nothing).
func patroniReadProblem(what string, a patroniAnswer, bodyProblem string) string {
	switch {
	case a.err != nil:
		return what + ": no answer: " + a.err.Error()
	case a.status != http.StatusOK:
		return fmt.Sprintf("%s: %d %.300s", what, a.status, a.body)
	case bodyProblem != "":
		return what + ": " + bodyProblem
	}
	return ""
}

// writeGap returns the longest stretch between the kill and stopAt without a 201 to a
// create, and when it ended: with a 201, or at stopAt when none came after it. A 201 can
// come just after the kill, from a try the dying primary had already committed (its
// backends outlive the postmaster for a moment), so the stretch that matters is the
// longest one, not the first.
func (l *patroniLoad) writeGap(killAt, stopAt time.Time) (gap time.Duration, end time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	times := []time.Time{killAt}
	for _, at := range l.acks {
		if at.After(killAt) && at.Before(stopAt) {
			times = append(times, at)
		}
	}
	times = append(times, stopAt)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d > gap {
			gap, end = d, times[i]
		}
	}
	return gap, end
}
