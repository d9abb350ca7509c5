package cmd

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWorkflows checks the GitHub Actions workflows with actionlint (a Go tool pinned in
// go.mod), which runs shellcheck on their run: steps where shellcheck is installed. The
// workflows cannot run here; this is the strongest check they get.
func TestWorkflows(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Log("shellcheck is not on PATH: the run: steps are not checked (apt-get install shellcheck)")
	}
	cmd := exec.Command(goBin, "tool", "actionlint")
	cmd.Dir = filepath.Join("..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}
