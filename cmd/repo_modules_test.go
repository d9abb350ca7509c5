package cmd

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testOnlyModules are the heavy modules of the test suite. The binary must import none of
// them: `go run .` and `go build .` fetch only the modules of the packages the binary
// imports, so a user who only runs the service never downloads these.
var testOnlyModules = []string{
	"github.com/moby/buildkit", "github.com/compose-spec/compose-go/v2", "github.com/prometheus/prometheus",
	"github.com/chromedp/chromedp", "github.com/rhysd/actionlint", "github.com/oapi-codegen/oapi-codegen/v2",
	"github.com/go-logfmt/logfmt", "helm.sh/helm/v3", "k8s.io/api", "k8s.io/apimachinery",
	"github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring",
}

func TestBinaryImportsNoTestTool(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".")
	cmd.Dir = filepath.Join("..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	modules := map[string]bool{}
	for _, m := range strings.Fields(string(out)) {
		modules[m] = true
	}
	for _, m := range testOnlyModules {
		if modules[m] {
			t.Errorf("the binary imports %s, a module of the test suite: every user would download it", m)
		}
	}
	t.Logf("the binary needs %d modules", len(modules))
}
