package cmd

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	clearEnv(t)
	out := mustRun(t, "version")
	if !strings.HasPrefix(out, "articlesd 1.2.3 (commit abc, built 2026-01-01, go1.26") {
		t.Fatalf("version printed %q", out)
	}
	want := fmt.Sprintf("articlesd 1.2.3 (commit abc, built 2026-01-01, %s %s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if out != want {
		t.Fatalf("version printed %q, want %q", out, want)
	}

	if out := mustRun(t, "--version"); out != "articlesd version 1.2.3 (commit abc, built 2026-01-01)\n" {
		t.Fatalf("--version printed %q", out)
	}

	if _, _, err := run(t, "version", "extra"); err == nil {
		t.Fatal("version with an argument: no error")
	}

	// Unset build information gets placeholders rather than blanks.
	root := NewRootCommand(BuildInfo{})
	var buf bytes.Buffer
	root.SetArgs([]string{"version"})
	root.SetOut(&buf)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "(commit unknown, built unknown, go") || strings.HasPrefix(buf.String(), "articlesd  ") {
		t.Fatalf("version without build information printed %q", buf.String())
	}
}
