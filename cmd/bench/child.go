package bench

// This file holds the supervision of the child processes: starting one with its output
// in a log file, waiting until it answers, stopping it, sampling its resident set; and
// starting the server under test, `articlesd serve`, with every signal on.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// child is a child process of the harness, its output in a log file.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited, with err set
	err     error
	once    sync.Once
}

// startChild starts bin with args, its output going to logPath. The process gets
// SIGTERM when ctx ends, and SIGKILL 10 s later.
func startChild(ctx context.Context, name, bin string, args, env []string, logPath string) (*child, error) {
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
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitReady polls probe every interval until it answers 200, and fails when the
// process exits first or limit passes (timeout then says what did not happen).
func (c *child) waitReady(ctx context.Context, probe string, interval, limit time.Duration, timeout string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := client.Get(probe)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if c.exited() {
			return c.died()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s; the end of its output:\n%s", timeout, c.tail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// stop asks the process to stop (SIGTERM), kills it after grace, and waits for it. It
// returns an error only when the process had to be killed.
func (c *child) stop(grace time.Duration) error {
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
func (c *child) died() error {
	return fmt.Errorf("%s exited early (%w); the end of its output:\n%s", c.name, c.err, c.tail(20))
}

// tail returns the last n lines the process wrote.
func (c *child) tail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// statusKB reads a field of /proc/PID/status in kB (VmRSS, VmHWM); 0 where unknown.
func (c *child) statusKB(field string) int64 {
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
func (c *child) rss() int64 { return c.statusKB("VmRSS") }

// rssSampler records the largest resident set seen while it runs.
type rssSampler struct {
	max  atomic.Int64
	quit chan struct{}
	done chan struct{}
}

func startRSSSampler(c *child, every time.Duration) *rssSampler {
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
// articlesd (those named prefix_*) or OpenTelemetry: the child is configured by its
// flags only.
func childEnv(prefix string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, prefix+"_") || strings.HasPrefix(name, "OTEL_") {
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

// newToken returns a fresh bootstrap token for the writes of the create scenario.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}

// startArticlesd starts `articlesd serve` with telemetry on and returns it once /readyz
// says 200, with its base URL and the start-up time.
func (h *harness) startArticlesd(ctx context.Context, otlpAddr, token string) (*child, string, time.Duration, error) {
	bin := h.o.ArticlesdBin
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
		"--database-url", h.o.DatabaseURL,
		"--auth", "on",
		"--metrics",
		"--log-file", filepath.Join(h.tmp, "articlesd.log"),
		"--otlp-endpoint", otlpAddr,
		"--otlp-insecure",
		"--trace-sample-ratio", "0.1",
	}, h.o.ServeFlags...)
	began := time.Now()
	c, err := startChild(ctx, "articlesd", bin, args, childEnv(h.o.EnvPrefix, h.o.TokenVariable+"="+token), filepath.Join(h.tmp, "articlesd.stderr"))
	if err != nil {
		return nil, "", 0, err
	}
	base := "http://" + addr
	if err := c.waitReady(ctx, base+"/readyz", 5*time.Millisecond, 60*time.Second, "articlesd was not ready within 60s"); err != nil {
		return c, "", 0, err
	}
	return c, base, time.Since(began), nil
}
