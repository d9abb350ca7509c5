package storetest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSkipsAreReported runs a PostgreSQL test of package store against a server that is
// not there, as `go test ./...` would on a machine without PostgreSQL, on a terminal (by
// script(1), which gives it one): the default output has the package's one line naming
// what skipped and why, and the run is not cached, so a second one says it again instead
// of "(cached)".
func TestSkipsAreReported(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) is not on PATH: no terminal to run go test on")
	}
	run := func() string {
		cmd := exec.Command(script, "-qec", goBin+" test -run '^TestStopWordsArePostgreSQLs$' ./store/", "/dev/null")
		cmd.Dir = filepath.Join("..", "..")
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "ARTICLESD_") && !strings.HasPrefix(kv, "GOFLAGS=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "ARTICLESD_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go test: %v\n%s", err, out)
		}
		return string(out)
	}
	for i := range 2 {
		out := run()
		if !strings.Contains(out, "--- articlesd/store: SKIPPED 1 test needing PostgreSQL (not reachable at postgres://postgres@127.0.0.1:1/postgres") ||
			!strings.Contains(out, "or ARTICLESD_REQUIRE_POSTGRES=1 to fail instead)") {
			t.Errorf("run %d says nothing of the skip:\n%s", i+1, out)
		}
		if strings.Contains(out, "(cached)") {
			t.Errorf("run %d was cached:\n%s", i+1, out)
		}
	}
}
