package storetest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Tests that need something outside the process (PostgreSQL, Prometheus, a browser, root)
// skip where it is missing, unless the variable that requires it is set (CI sets them all).
// A skipped test passes, so `go test ./...` would print nothing but "ok": Main prints one
// line per package naming each group that skipped and how many of its tests did.

// A Group is what a set of tests needs from outside the process.
type Group struct {
	Name       string // "PostgreSQL"
	RequireVar string // "ARTICLESD_REQUIRE_POSTGRES": set to 1, the tests fail instead
	Install    string // how to get it
}

// The groups of the suite.
var (
	Postgres   = Group{"PostgreSQL", "ARTICLESD_REQUIRE_POSTGRES", "set ARTICLESD_TEST_DATABASE_URL to a server where the user may create databases"}
	Promtool   = Group{"promtool", "ARTICLESD_REQUIRE_PROMTOOL", "apt-get install prometheus"}
	Prometheus = Group{"Prometheus", "ARTICLESD_REQUIRE_PROMETHEUS", "apt-get install prometheus"}
	Browser    = Group{"a browser", "ARTICLESD_REQUIRE_BROWSER", "apt-get install chromium"}
	Mount      = Group{"mounting file systems", "ARTICLESD_REQUIRE_MOUNT", "run the tests as root"}
	HAProxy    = Group{"HAProxy", "ARTICLESD_REQUIRE_HAPROXY", "apt-get install haproxy"}
	Patroni    = Group{"a Patroni cluster", "ARTICLESD_REQUIRE_PATRONI", "apt-get install patroni etcd-server, and run the tests as root"}
	Helm       = Group{"Helm", "ARTICLESD_REQUIRE_HELM", "the go command, to build the Helm tool pinned in go.mod"}
)

// Required reports whether the group's tests must run (fail rather than skip).
func (g Group) Required() bool { return os.Getenv(g.RequireVar) == "1" }

var skips struct {
	mu     sync.Mutex
	counts map[Group]int
	why    map[Group]string
}

// Skip skips t because the group is missing (why), or fails it when the group is required.
func Skip(t testing.TB, g Group, why string) {
	t.Helper()
	if g.Required() {
		t.Fatalf("%s: %s; %s=1, so this fails", g.Name, why, g.RequireVar)
	}
	skips.mu.Lock()
	if skips.counts == nil {
		skips.counts, skips.why = map[Group]int{}, map[Group]string{}
	}
	skips.counts[g]++
	skips.why[g] = strings.Join(strings.Fields(why), " ")
	skips.mu.Unlock()
	keepOutOfCache()
	t.Skipf("SKIPPING: needs %s: %s (%s)", g.Name, why, g.Install)
}

// stampFile is opened by a run whose tests skipped. The go command does not cache a
// test result that read a file of the module changed within the last seconds, so a
// later `go test` runs these tests again, and says again what skipped, instead of
// showing "(cached)" for tests that never ran.
const stampFile = ".skipped-tests"

func keepOutOfCache() {
	if err := os.WriteFile(stampFile, []byte("written by a test run whose tests skipped; see store/storetest\n"), 0o644); err != nil {
		return
	}
	if f, err := os.Open(stampFile); err == nil {
		f.Close()
	}
}

// Main runs the tests of a package; call it from TestMain as os.Exit(storetest.Main(m)).
// When tests skipped for want of a group, it says so in one line that `go test ./...`
// shows: on the terminal, where there is one (the go command shows a passing package's
// own output only with -v), else on standard output.
func Main(m *testing.M) int {
	code := m.Run()
	skips.mu.Lock()
	defer skips.mu.Unlock()
	if len(skips.counts) == 0 {
		_ = os.Remove(stampFile)
		return code
	}
	var parts []string
	for g, n := range skips.counts {
		tests := "tests"
		if n == 1 {
			tests = "test"
		}
		parts = append(parts, fmt.Sprintf("%d %s needing %s (%s; %s, or %s=1 to fail instead)", n, tests, g.Name, skips.why[g], g.Install, g.RequireVar))
	}
	sort.Strings(parts)
	pkg, _ := os.Getwd()
	line := fmt.Sprintf("--- articlesd/%s: SKIPPED %s\n", filepath.Base(pkg), strings.Join(parts, "; "))
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		_, _ = tty.WriteString(line)
		tty.Close()
	} else {
		fmt.Print(line)
	}
	return code
}
