package cmd

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchRejects checks that bad flags fail at once with a one-line error, before
// anything is started.
func TestBenchRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--database-url", "sqlite://" + filepath.Join(t.TempDir(), "x.db")}, "bench needs a PostgreSQL database"},
		{[]string{"--database-url", "postgres://u@127.0.0.1:1/db", "--scenarios", "get-by-id,nope"}, `unknown scenario "nope"`},
		{[]string{"--database-url", "postgres://u@127.0.0.1:1/db", "--count", "0"}, "--count must be at least 1"},
		{[]string{"--database-url", "postgres://u@127.0.0.1:1/db", "--rounds", "0"}, "--rounds must be at least 1"},
	} {
		root := NewRootCommand(BuildInfo{})
		root.SetArgs(append([]string{"bench"}, tc.args...))
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("bench %v: error %v, want one line containing %q", tc.args, err, tc.want)
		}
	}
}
