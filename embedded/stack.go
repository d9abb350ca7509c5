package embedded

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"net"
	"sort"
	"strings"
	"text/template"
)

//go:embed all:stack
var stackFiles embed.FS

// StackParams are the addresses the observability stack's files point at. The defaults
// are the service names of docker-compose.yml.
type StackParams struct {
	API        string // host:port of articlesd, scraped by Prometheus
	Prometheus string // host:port of Prometheus
	Loki       string // host:port of Loki
	Tempo      string // host:port of Tempo's HTTP API (queries)
	LogDir     string // directory of articlesd's log files, as the log shippers see it
	StackDir   string // where the written tree is mounted in the stack's containers
}

// DefaultStackParams returns the addresses of the docker compose services.
func DefaultStackParams() StackParams {
	return StackParams{
		API:        "articlesd:8080",
		Prometheus: "prometheus:9090",
		Loki:       "loki:3100",
		Tempo:      "tempo:3200",
		LogDir:     "/var/log/articlesd",
		StackDir:   "/stack",
	}
}

// Validate reports a parameter that cannot be written into the files.
func (p StackParams) Validate() error {
	for name, hp := range map[string]string{"api": p.API, "prometheus": p.Prometheus, "loki": p.Loki, "tempo": p.Tempo} {
		if _, _, err := net.SplitHostPort(hp); err != nil || strings.ContainsAny(hp, " \"'\n") {
			return fmt.Errorf("%s address %q: want host:port", name, hp)
		}
	}
	for name, dir := range map[string]string{"log-dir": p.LogDir, "stack-dir": p.StackDir} {
		if !strings.HasPrefix(dir, "/") || strings.ContainsAny(dir, " \"'\n") {
			return fmt.Errorf("%s %q: want an absolute path without spaces or quotes", name, dir)
		}
	}
	return nil
}

// Stack renders every file of the observability stack's configuration: Grafana
// provisioning and dashboards, Prometheus (with alert rules), Loki, Promtail, Alloy and
// Tempo. Keys are slash-separated paths relative to the output directory. Files named
// *.tmpl in embedded/stack are Go templates of StackParams (written without .tmpl);
// the others are written as they are.
func Stack(p StackParams) (map[string][]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	root, err := fs.Sub(stackFiles, "stack")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	err = fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		name, isTemplate := strings.CutSuffix(path, ".tmpl")
		if isTemplate {
			t, err := template.New(path).Option("missingkey=error").Parse(string(body))
			if err != nil {
				return fmt.Errorf("stack template %s: %w", path, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, p); err != nil {
				return fmt.Errorf("stack template %s: %w", path, err)
			}
			body = buf.Bytes()
		}
		out[name] = body
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StackPaths lists the paths Stack writes, sorted.
func StackPaths(files map[string][]byte) []string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}
