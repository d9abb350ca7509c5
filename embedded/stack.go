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

	// Replicas are the articlesd replicas behind HAProxy, which Prometheus scrapes too,
	// host:port each. A host that is an IP address is one replica; a name is resolved
	// through DNS, every address it has being one replica (Docker's DNS answers a compose
	// service's name with the address of each of its containers). Empty: no replica.
	Replicas []string
	// Balancer is where HAProxy serves the API, BalancerStats its statistics page
	// (/stats, /stats;csv), both as host:port or :port inside HAProxy's container.
	// Empty: DefaultStackParams' (they only matter inside that container).
	Balancer      string
	BalancerStats string
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

		Replicas:      []string{"articlesd-replica:8080"},
		Balancer:      ":8080",
		BalancerStats: ":8404",
	}
}

// MaxResolvedReplicas is how many replicas HAProxy takes from the addresses of one
// replica name (its server-template slots): `--scale articlesd-replica=N` beyond it
// leaves the rest without traffic.
const MaxResolvedReplicas = 10

// Replica is one entry of StackParams.Replicas as the templates use it.
type Replica struct {
	Name     string // HAProxy's name of the server, or prefix of the servers of a DNS name
	Host     string
	Port     string
	Resolved bool // Host is a DNS name: one replica per address
}

// MaxResolvedReplicas is the constant of the same name, for the templates.
func (StackParams) MaxResolvedReplicas() int { return MaxResolvedReplicas }

// Addr returns host:port.
func (r Replica) Addr() string { return net.JoinHostPort(r.Host, r.Port) }

// ReplicaList returns the replicas, in order, as the HAProxy and Prometheus templates
// use them. It assumes Validate has passed.
func (p StackParams) ReplicaList() []Replica {
	var out []Replica
	for i, hp := range p.Replicas {
		host, port, _ := net.SplitHostPort(hp)
		r := Replica{Host: host, Port: port, Resolved: net.ParseIP(host) == nil}
		if r.Resolved {
			r.Name = host
		} else {
			r.Name = fmt.Sprintf("replica%d", i+1)
		}
		out = append(out, r)
	}
	return out
}

// ResolvedReplicas reports whether any replica is a DNS name (HAProxy then needs its
// resolvers section).
func (p StackParams) ResolvedReplicas() bool {
	for _, r := range p.ReplicaList() {
		if r.Resolved {
			return true
		}
	}
	return false
}

// Validate reports a parameter that cannot be written into the files.
func (p StackParams) Validate() error {
	for name, hp := range map[string]string{"api": p.API, "prometheus": p.Prometheus, "loki": p.Loki, "tempo": p.Tempo} {
		if _, _, err := net.SplitHostPort(hp); err != nil || strings.ContainsAny(hp, " \"'\n") {
			return fmt.Errorf("%s address %q: want host:port", name, hp)
		}
	}
	for name, hp := range map[string]string{"balancer": p.Balancer, "balancer-stats": p.BalancerStats} {
		if _, _, err := net.SplitHostPort(hp); hp != "" && (err != nil || strings.ContainsAny(hp, " \"'\n")) {
			return fmt.Errorf("%s address %q: want host:port or :port", name, hp)
		}
	}
	seen := map[string]bool{}
	for _, hp := range p.Replicas {
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" || port == "" || strings.ContainsAny(hp, " \"'\n,#") {
			return fmt.Errorf("replica address %q: want host:port", hp)
		}
		// A name stands for all of its addresses (and names HAProxy's servers): once.
		key := hp
		if net.ParseIP(host) == nil {
			key = host
		}
		if seen[key] {
			return fmt.Errorf("replica address %q: %s given twice", hp, key)
		}
		seen[key] = true
	}
	for name, dir := range map[string]string{"log-dir": p.LogDir, "stack-dir": p.StackDir} {
		if !strings.HasPrefix(dir, "/") || strings.ContainsAny(dir, " \"'\n") {
			return fmt.Errorf("%s %q: want an absolute path without spaces or quotes", name, dir)
		}
	}
	return nil
}

// Stack renders every file of the observability stack's configuration: Grafana
// provisioning and dashboards, Prometheus (with alert rules), Loki, Promtail, Alloy,
// Tempo, and HAProxy in front of the replicas. Keys are slash-separated paths relative to the output directory. Files named
// *.tmpl in embedded/stack are Go templates of StackParams (written without .tmpl);
// the others are written as they are.
func Stack(p StackParams) (map[string][]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	def := DefaultStackParams()
	if p.Balancer == "" {
		p.Balancer = def.Balancer
	}
	if p.BalancerStats == "" {
		p.BalancerStats = def.BalancerStats
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
