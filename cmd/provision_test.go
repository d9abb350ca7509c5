package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/embedded"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

func TestProvisionGrafana(t *testing.T) {
	clearEnv(t)
	dir := filepath.Join(t.TempDir(), "stack")
	files, err := embedded.Stack(embedded.DefaultStackParams())
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{
		"alloy/config.alloy",
		"grafana/dashboards/articles-api.json",
		"grafana/dashboards/articles-logs.json",
		"grafana/dashboards/articles-traces.json",
		"grafana/provisioning/dashboards/articlesd.yaml",
		"grafana/provisioning/datasources/datasources.yaml",
		"haproxy/haproxy.cfg",
		"loki/loki.yaml",
		"prometheus/alerts.yml",
		"prometheus/prometheus.yml",
		"promtail/promtail.yaml",
		"tempo/tempo.yaml",
	}
	if got := embedded.StackPaths(files); strings.Join(got, " ") != strings.Join(wantFiles, " ") {
		t.Fatalf("stack files = %v\nwant %v", got, wantFiles)
	}

	// Without --out it explains itself and writes nothing.
	wd := t.TempDir()
	t.Chdir(wd)
	_, stderr, err := run(t, "provision-grafana")
	if err == nil || !strings.Contains(err.Error(), "--out DIR") || !strings.Contains(stderr, "prometheus/prometheus.yml") {
		t.Fatalf("no --out: err %v, stderr %q", err, stderr)
	}
	if entries, _ := os.ReadDir(wd); len(entries) != 0 {
		t.Fatalf("wrote into the working directory: %v", entries)
	}

	out := mustRun(t, "provision-grafana", "--out", dir)
	if out != "wrote "+dir+": 12 files, 12 changed\n" {
		t.Fatalf("first write: %q", out)
	}
	for _, f := range wantFiles {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil || info.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v", f, info, err)
		}
	}
	before, _ := os.Stat(filepath.Join(dir, "prometheus/prometheus.yml"))
	time.Sleep(10 * time.Millisecond)
	if out := mustRun(t, "provision-grafana", "--out", dir); out != "wrote "+dir+": 12 files, 0 changed\n" {
		t.Fatalf("second write: %q", out)
	}
	after, _ := os.Stat(filepath.Join(dir, "prometheus/prometheus.yml"))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("an unchanged file was rewritten")
	}
	if out := mustRun(t, "provision-grafana", "--out", dir, "--check"); out != dir+" is up to date (12 files)\n" {
		t.Fatalf("check: %q", out)
	}

	// --check names every difference and changes nothing.
	for _, err := range []error{
		os.WriteFile(filepath.Join(dir, "loki/loki.yaml"), []byte("changed"), 0o644),
		os.Remove(filepath.Join(dir, "tempo/tempo.yaml")),
		os.WriteFile(filepath.Join(dir, "grafana/dashboards/old.json"), []byte("{}"), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = run(t, "provision-grafana", "--out", dir, "--check")
	want := dir + " differs from what provision-grafana writes: loki/loki.yaml (differs), tempo/tempo.yaml (missing), grafana/dashboards/old.json (not written by provision-grafana)"
	if err == nil || err.Error() != want {
		t.Fatalf("check after edits:\n got %v\nwant %s", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "tempo/tempo.yaml")); err == nil {
		t.Fatal("--check wrote a file")
	}
	// Writing mends all three; no temporary file is left behind.
	if out := mustRun(t, "provision-grafana", "--out", dir); out != "wrote "+dir+": 12 files, 3 changed\n" {
		t.Fatalf("mend: %q", out)
	}
	mustRun(t, "provision-grafana", "--out", dir, "--check")
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".provision-") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// --stdout prints one file; addresses come from the flags.
	out = mustRun(t, "provision-grafana", "--stdout", "prometheus/prometheus.yml", "--api", "10.1.2.3:18080", "--stack-dir", "/etc/stack")
	if !strings.Contains(out, "- targets: ['10.1.2.3:18080']") || !strings.Contains(out, "- /etc/stack/prometheus/alerts.yml") {
		t.Errorf("--stdout with flags:\n%s", out)
	}
	if _, _, err := run(t, "provision-grafana", "--stdout", "nope.yml"); err == nil || !strings.Contains(err.Error(), `no stack file "nope.yml"`) {
		t.Errorf("--stdout of an unknown file: %v", err)
	}
	if _, _, err := run(t, "provision-grafana", "--out", dir, "--loki", "no-port"); err == nil || !strings.Contains(err.Error(), `loki address "no-port"`) {
		t.Errorf("bad address: %v", err)
	}
	// The replicas behind HAProxy, and its addresses, come from the flags too.
	out = mustRun(t, "provision-grafana", "--stdout", "haproxy/haproxy.cfg", "--replicas", "10.1.2.3:18081,10.1.2.4:18081", "--balancer", "127.0.0.1:18443", "--balancer-stats", "127.0.0.1:18404")
	for _, want := range []string{"    server replica1 10.1.2.3:18081\n", "    server replica2 10.1.2.4:18081\n", "    bind 127.0.0.1:18443\n", "    bind 127.0.0.1:18404\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--stdout haproxy/haproxy.cfg with flags lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "server-template") || strings.Contains(out, "resolvers") {
		t.Errorf("replicas given by address still resolve a name:\n%s", out)
	}
	if _, _, err := run(t, "provision-grafana", "--out", dir, "--replicas", "no-port"); err == nil || !strings.Contains(err.Error(), `replica address "no-port"`) {
		t.Errorf("bad replica: %v", err)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	clearEnv(t)
	cfg := serveConfig(storetest.URL(t, store.SQLite))
	s := startServer(t, cfg)
	_, port, _ := strings.Cut(s.addr, ":")
	out := mustRun(t, "healthcheck", "--addr", ":"+port)
	if out != "ready (http://127.0.0.1:"+port+"/readyz)\n" {
		t.Errorf("healthcheck of a ready server: %q", out)
	}
	t.Setenv("ARTICLESD_ADDR", ":"+port)
	mustRun(t, "healthcheck")
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "healthcheck", "--addr", ":"+port, "--timeout", "1s"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("healthcheck of a stopped server: %v", err)
	}
}
