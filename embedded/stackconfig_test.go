package embedded

// Tests of the log and trace backends' configuration files (Loki, Promtail, Alloy,
// Tempo). They check the rendered files against the key sets of the pinned versions,
// so that a file written for an older release (a Tempo 2 block, a flat overrides map)
// fails here rather than when a container refuses to start. Then the files of the
// scaled deployment: HAProxy's, and Prometheus' discovery of the replicas (the HAProxy
// file is also run through Debian's haproxy, cmd/haproxy_test.go).
//
// Pinned versions, as found in the upstream release notes and docs:
//   grafana/loki     3.7.2  (release-notes/v3-7.md: 3.7.2 of 2026-05-13; `loki -health` since 3.7.0)
//   grafana/tempo    3.0.0  (release-notes/v3-0.md, migrate-to-3.md; `tempo --health` documented for 3.0)
//   grafana/alloy    v1.20.1 (the newest whose image public compose files pin by digest;
//                            v1.21.2 was listed as a release, its image not confirmed)
//   grafana/promtail 3.6.11 (its last image: scylladb/scylla-monitoring PR #2885; EOL 2026-03-02)

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var unusualParams = StackParams{
	API:        "10.0.0.5:18080",
	Prometheus: "metrics.internal:19090",
	Loki:       "logs.internal:3101",
	Tempo:      "traces.internal:3201",
	LogDir:     "/srv/articlesd/logs",
	StackDir:   "/etc/stack",

	Replicas:      []string{"10.0.0.6:18081", "api-pool.internal:18082", "[fd00::7]:18081"},
	Balancer:      "0.0.0.0:18443",
	BalancerStats: "127.0.0.1:18404",
}

func renderStack(t *testing.T, p StackParams) map[string][]byte {
	t.Helper()
	files, err := Stack(p)
	if err != nil {
		t.Fatalf("Stack(%+v): %v", p, err)
	}
	return files
}

func stackFile(t *testing.T, files map[string][]byte, name string) []byte {
	t.Helper()
	body, ok := files[name]
	if !ok {
		t.Fatalf("Stack wrote no %s; it wrote %v", name, StackPaths(files))
	}
	if strings.Contains(string(body), "{{") || strings.Contains(string(body), "<no value>") {
		t.Fatalf("%s holds unrendered template text:\n%s", name, body)
	}
	return body
}

func parseYAML(t *testing.T, name string, body []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s is not valid YAML: %v", name, err)
	}
	if len(doc) == 0 {
		t.Fatalf("%s is empty", name)
	}
	return doc
}

// dig follows a path of map keys and list indexes ("0") through a parsed YAML document.
func dig(t *testing.T, name string, doc any, path ...string) any {
	t.Helper()
	cur := doc
	for i, key := range path {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[key]
			if !ok {
				t.Fatalf("%s: no key %q at %s", name, key, strings.Join(path[:i], "."))
			}
			cur = next
		case []any:
			var idx int
			if _, err := fmt.Sscan(key, &idx); err != nil || idx < 0 || idx >= len(v) {
				t.Fatalf("%s: no element %q in the list at %s", name, key, strings.Join(path[:i], "."))
			}
			cur = v[idx]
		default:
			t.Fatalf("%s: %s is %T, not a map or list", name, strings.Join(path[:i], "."), cur)
		}
	}
	return cur
}

func wantValue(t *testing.T, name string, doc any, want any, path ...string) {
	t.Helper()
	got := dig(t, name, doc, path...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: %s = %v, want %v", name, strings.Join(path, "."), got, want)
	}
}

func checkTopLevelKeys(t *testing.T, name string, doc map[string]any, allowed []string) {
	t.Helper()
	for key := range doc {
		if !slices.Contains(allowed, key) {
			t.Errorf("%s: top-level key %q is not in the pinned version's configuration", name, key)
		}
	}
}

// Loki 3.x top-level blocks (configuration reference); the file uses a few of them.
var lokiTopLevel = []string{
	"target", "auth_enabled", "server", "common", "distributor", "querier", "query_scheduler",
	"frontend", "frontend_worker", "query_range", "ruler", "ingester", "ingester_client",
	"pattern_ingester", "index_gateway", "bloom_build", "bloom_gateway", "storage_config",
	"chunk_store_config", "schema_config", "compactor", "limits_config", "table_manager",
	"memberlist", "runtime_config", "operational_config", "tracing", "analytics",
	"kafka_config", "shutdown_delay", "metrics_namespace",
}

// Tempo 3.0 top-level blocks (manifest and config reference of 3.0). The 2.x blocks
// ingester, ingester_client and compactor are left out on purpose: Tempo 3 refuses them.
// metrics_generator_client is still accepted by 3.0 but deprecated (Tempo's own
// cmd/tempo-cli/cmd-migrate-config_test.go), so the file leaves it out too.
var tempoTopLevel = []string{
	"target", "auth_enabled", "multitenancy_enabled", "shutdown_delay", "stream_over_http_enabled",
	"http_api_prefix", "enable_go_runtime_metrics", "memory", "span_profiling", "server",
	"internal_server", "distributor", "querier", "query_frontend", "metrics_generator", "ingest",
	"block_builder", "live_store", "live_store_client", "storage", "overrides", "memberlist",
	"usage_report", "cache", "backend_scheduler", "backend_scheduler_client", "backend_worker",
}

var tempoRemovedIn3 = []string{"ingester", "ingester_client", "compactor", "metrics_generator_client"}

// Promtail 3.x top-level blocks.
var promtailTopLevel = []string{
	"server", "client", "clients", "positions", "scrape_configs", "limits_config",
	"target_config", "options", "tracing", "global",
}

func TestLokiConfig(t *testing.T) {
	const name = "loki/loki.yaml"
	for _, p := range []StackParams{DefaultStackParams(), unusualParams} {
		doc := parseYAML(t, name, stackFile(t, renderStack(t, p), name))
		checkTopLevelKeys(t, name, doc, lokiTopLevel)
		wantValue(t, name, doc, false, "auth_enabled")
		wantValue(t, name, doc, 3100, "server", "http_listen_port")
		wantValue(t, name, doc, "/loki", "common", "path_prefix")
		wantValue(t, name, doc, 1, "common", "replication_factor")
		for _, dir := range []string{"chunks_directory", "rules_directory"} {
			got, _ := dig(t, name, doc, "common", "storage", "filesystem", dir).(string)
			if !strings.HasPrefix(got, "/loki/") {
				t.Errorf("%s: common.storage.filesystem.%s = %q, want a path under /loki", name, dir, got)
			}
		}
		configs, _ := dig(t, name, doc, "schema_config", "configs").([]any)
		if len(configs) == 0 {
			t.Fatalf("%s: schema_config.configs is empty", name)
		}
		last := len(configs) - 1 // the newest period is the one new data is written with
		wantValue(t, name, configs, "tsdb", fmt.Sprint(last), "store")
		wantValue(t, name, configs, "v13", fmt.Sprint(last), "schema")
		wantValue(t, name, configs, "filesystem", fmt.Sprint(last), "object_store")
		wantValue(t, name, configs, "24h", fmt.Sprint(last), "index", "period")
		// yaml.v3 decodes an unquoted date into a time.Time; Loki wants YYYY-MM-DD.
		switch from := dig(t, name, configs, fmt.Sprint(last), "from").(type) {
		case time.Time:
			if !from.Equal(from.Truncate(24 * time.Hour)) {
				t.Errorf("%s: schema from = %v, want a plain date", name, from)
			}
		case string:
			if _, err := time.Parse(time.DateOnly, from); err != nil {
				t.Errorf("%s: schema from = %q, want a YYYY-MM-DD date", name, from)
			}
		default:
			t.Errorf("%s: schema from = %v (%T), want a YYYY-MM-DD date", name, from, from)
		}
		// Retention needs a delete-request store in Loki 3; without it Loki refuses to start.
		if c, ok := doc["compactor"].(map[string]any); ok && c["retention_enabled"] == true {
			wantValue(t, name, doc, "filesystem", "compactor", "delete_request_store")
		}
	}
}

func TestPromtailConfig(t *testing.T) {
	const name = "promtail/promtail.yaml"
	for _, p := range []StackParams{DefaultStackParams(), unusualParams} {
		doc := parseYAML(t, name, stackFile(t, renderStack(t, p), name))
		checkTopLevelKeys(t, name, doc, promtailTopLevel)
		wantValue(t, name, doc, 9080, "server", "http_listen_port")
		pos, _ := dig(t, name, doc, "positions", "filename").(string)
		if !strings.HasPrefix(pos, "/tmp/") && !strings.HasPrefix(pos, "/promtail/") {
			t.Errorf("%s: positions.filename = %q, want it under /tmp or /promtail", name, pos)
		}
		wantValue(t, name, doc, "http://"+p.Loki+"/loki/api/v1/push", "clients", "0", "url")

		jobs, _ := dig(t, name, doc, "scrape_configs").([]any)
		if len(jobs) != 1 {
			t.Fatalf("%s: %d scrape jobs, want 1", name, len(jobs))
		}
		wantValue(t, name, jobs, "varlogs", "0", "job_name")
		wantValue(t, name, jobs, "varlogs", "0", "static_configs", "0", "labels", "job")
		wantValue(t, name, jobs, p.LogDir+"/*.log", "0", "static_configs", "0", "labels", "__path__")

		stages, _ := dig(t, name, jobs, "0", "pipeline_stages").([]any)
		kinds := map[string]map[string]any{}
		var order []string
		for _, s := range stages {
			m, _ := s.(map[string]any)
			for kind, body := range m {
				b, _ := body.(map[string]any)
				kinds[kind] = b
				order = append(order, kind)
			}
		}
		if want := []string{"logfmt", "labels", "timestamp"}; !slices.Equal(order, want) {
			t.Fatalf("%s: pipeline stages %v, want %v", name, order, want)
		}
		mapping, _ := kinds["logfmt"]["mapping"].(map[string]any)
		for _, key := range []string{"level", "time"} {
			if _, ok := mapping[key]; !ok {
				t.Errorf("%s: the logfmt stage does not extract %q", name, key)
			}
		}
		if labels := kinds["labels"]; len(labels) != 1 || !hasKey(labels, "level") {
			t.Errorf("%s: the labels stage promotes %v, want only level", name, labels)
		}
		wantValue(t, name, kinds["timestamp"], "time", "source")
		wantValue(t, name, kinds["timestamp"], "RFC3339Nano", "format")
	}
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func TestTempoConfig(t *testing.T) {
	const name = "tempo/tempo.yaml"
	for _, p := range []StackParams{DefaultStackParams(), unusualParams} {
		doc := parseYAML(t, name, stackFile(t, renderStack(t, p), name))
		checkTopLevelKeys(t, name, doc, tempoTopLevel)
		for _, key := range tempoRemovedIn3 {
			if _, ok := doc[key]; ok {
				t.Errorf("%s: the 2.x block %q is refused (or, metrics_generator_client, deprecated) by Tempo 3", name, key)
			}
		}
		if target, ok := doc["target"]; ok && target != "all" {
			t.Errorf("%s: target = %v, want all (monolithic)", name, target)
		}
		wantValue(t, name, doc, 3200, "server", "http_listen_port")
		wantValue(t, name, doc, "0.0.0.0:4317", "distributor", "receivers", "otlp", "protocols", "grpc", "endpoint")
		wantValue(t, name, doc, "0.0.0.0:4318", "distributor", "receivers", "otlp", "protocols", "http", "endpoint")

		wantValue(t, name, doc, "local", "storage", "trace", "backend")
		for _, path := range [][]string{{"wal", "path"}, {"local", "path"}} {
			got, _ := dig(t, name, doc, append([]string{"storage", "trace"}, path...)...).(string)
			if !strings.HasPrefix(got, "/var/tempo/") {
				t.Errorf("%s: storage.trace.%s = %q, want a path under /var/tempo", name, strings.Join(path, "."), got)
			}
		}
		// Tempo 3.0 reads and writes vParquet4 or later only.
		if trace, _ := dig(t, name, doc, "storage", "trace").(map[string]any); trace["block"] != nil {
			v := fmt.Sprint(dig(t, name, doc, "storage", "trace", "block", "version"))
			if v != "vParquet4" && v != "vParquet5" {
				t.Errorf("%s: storage.trace.block.version = %s, want vParquet4 or later", name, v)
			}
		}

		wantValue(t, name, doc, "http://"+p.Prometheus+"/api/v1/write", "metrics_generator", "storage", "remote_write", "0", "url")
		wantValue(t, name, doc, true, "metrics_generator", "storage", "remote_write", "0", "send_exemplars")

		overrides, _ := dig(t, name, doc, "overrides").(map[string]any)
		if len(overrides) != 1 || !hasKey(overrides, "defaults") {
			// Flat 2.x keys (metrics_generator_processors, ...) or per-tenant blocks here
			// make Tempo 3 refuse the file.
			t.Errorf("%s: overrides has keys %v, want only the scoped defaults block", name, keys(overrides))
		}
		procs := strList(t, name, dig(t, name, doc, "overrides", "defaults", "metrics_generator", "processors"))
		for _, want := range []string{"service-graphs", "span-metrics"} {
			if !slices.Contains(procs, want) {
				t.Errorf("%s: processors %v lack %s", name, procs, want)
			}
		}
		if slices.Contains(procs, "local-blocks") {
			t.Errorf("%s: Tempo 3 removed the local-blocks processor", name)
		}
		dims := strList(t, name, dig(t, name, doc, "overrides", "defaults", "metrics_generator", "processor", "span_metrics", "dimensions"))
		for _, want := range []string{"http.request.method", "http.route", "http.response.status_code"} {
			if !slices.Contains(dims, want) {
				t.Errorf("%s: span-metrics dimensions %v lack %s", name, dims, want)
			}
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func strList(t *testing.T, name string, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: %v is %T, want a list", name, v, v)
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = fmt.Sprint(e)
	}
	return out
}

// alloyBlock is a component block of an Alloy file: `kind "label" { body }`.
type alloyBlock struct{ kind, label, body string }

// scanAlloy strips comments and checks that braces, brackets and strings balance, then
// returns the top-level component blocks. It is no Alloy parser, only enough structure
// to catch a truncated file or a reference to a component the file does not declare.
func scanAlloy(src string) ([]alloyBlock, error) {
	var code strings.Builder // src without comments; strings kept
	var stack []byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			code.WriteByte('\n')
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated block comment")
			}
			i += end + 3
			continue
		case c == '"':
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				switch src[j] {
				case '\\':
					j++
				case '\n':
					return nil, fmt.Errorf("string broken by a newline at byte %d", i)
				}
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string at byte %d", i)
			}
			code.WriteString(src[i : j+1])
			i = j
			continue
		case c == '{' || c == '[' || c == '(':
			stack = append(stack, c)
		case c == '}' || c == ']' || c == ')':
			open := map[byte]byte{'}': '{', ']': '[', ')': '('}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return nil, fmt.Errorf("unbalanced %q at byte %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
		code.WriteByte(c)
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("%d unclosed %q", len(stack), string(stack))
	}

	// Top-level blocks: header up to the '{' at depth 0, body up to its matching '}'.
	s := code.String()
	var blocks []alloyBlock
	depth, start, header := 0, 0, ""
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			i += strings.IndexByte(s[i+1:], '"') + 1
		case '{':
			if depth == 0 {
				header, start = strings.TrimSpace(s[start:i]), i+1
			}
			depth++
		case '}':
			depth--
			if depth == 0 {
				f := strings.Fields(header)
				b := alloyBlock{body: s[start:i]}
				if len(f) > 0 {
					b.kind = f[0]
				}
				if len(f) > 1 {
					b.label = strings.Trim(f[1], `"`)
				}
				blocks = append(blocks, b)
				start = i + 1
			}
		}
	}
	return blocks, nil
}

func TestAlloyConfig(t *testing.T) {
	const name = "alloy/config.alloy"
	for _, p := range []StackParams{DefaultStackParams(), unusualParams} {
		src := string(stackFile(t, renderStack(t, p), name))
		blocks, err := scanAlloy(src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		declared := map[string]alloyBlock{}
		for _, b := range blocks {
			if b.kind == "" || b.label == "" {
				t.Errorf("%s: top-level block %q lacks a component name or label", name, b.kind)
				continue
			}
			declared[b.kind+"."+b.label] = b
		}
		kinds := map[string]alloyBlock{}
		for _, b := range blocks {
			kinds[b.kind] = b
		}
		for _, want := range []string{"local.file_match", "loki.source.file", "loki.process", "loki.write"} {
			if _, ok := kinds[want]; !ok {
				t.Errorf("%s: no %s component", name, want)
			}
		}

		// Every forward_to entry and every targets reference must name a declared component.
		refs := 0
		for _, b := range blocks {
			for _, line := range strings.Split(b.body, "\n") {
				key, val, ok := strings.Cut(line, "=")
				key = strings.TrimSpace(key)
				if !ok || (key != "forward_to" && key != "targets") {
					continue
				}
				for _, ref := range strings.Split(strings.Trim(strings.TrimSpace(val), "[]"), ",") {
					ref = strings.TrimSpace(ref)
					if ref == "" {
						continue
					}
					refs++
					parts := strings.Split(ref, ".")
					if len(parts) < 4 {
						t.Errorf("%s: %s of %s.%s refers to %q, not a component export", name, key, b.kind, b.label, ref)
						continue
					}
					comp := strings.Join(parts[:len(parts)-1], ".")
					if _, ok := declared[comp]; !ok {
						t.Errorf("%s: %s of %s.%s refers to %s, which the file does not declare", name, key, b.kind, b.label, comp)
					}
				}
			}
		}
		if refs < 3 {
			t.Errorf("%s: only %d component references; the pipeline file_match -> source.file -> process -> write is broken", name, refs)
		}

		match := kinds["local.file_match"].body
		for _, want := range []string{`"__path__" = "` + p.LogDir + `/*.log"`, `"job" = "varlogs"`} {
			if !strings.Contains(match, want) {
				t.Errorf("%s: local.file_match lacks %s", name, want)
			}
		}
		process := kinds["loki.process"].body
		for _, want := range []string{"stage.logfmt", "stage.labels", "stage.timestamp", `"level"`, `"time"`, `"RFC3339Nano"`} {
			if !strings.Contains(process, want) {
				t.Errorf("%s: loki.process lacks %s", name, want)
			}
		}
		if want := `url = "http://` + p.Loki + `/loki/api/v1/push"`; !strings.Contains(kinds["loki.write"].body, want) {
			t.Errorf("%s: loki.write lacks %s", name, want)
		}
	}
}

func TestScanAlloyRejectsBrokenFiles(t *testing.T) {
	for _, src := range []string{
		`loki.write "a" { endpoint { url = "x" }`,
		`loki.write "a" { url = "x }`,
		`loki.write "a" { url = "x" }}`,
		`loki.write "a" { forward_to = [a.b.c.receiver }`,
	} {
		if _, err := scanAlloy(src); err == nil {
			t.Errorf("scanAlloy(%q) accepted a broken file", src)
		}
	}
	blocks, err := scanAlloy("// c { \n/* } */ loki.write \"a\" { url = \"}{\" }\n")
	if err != nil || len(blocks) != 1 || blocks[0].kind != "loki.write" || blocks[0].label != "a" {
		t.Errorf("scanAlloy mishandled comments or braces in strings: %v %+v", err, blocks)
	}
}

// haproxyConfig is an HAProxy file cut into sections ("global", "backend articlesd"),
// each a list of directives without comments or surrounding blanks.
type haproxyConfig map[string][]string

func parseHAProxy(t *testing.T, body []byte) haproxyConfig {
	t.Helper()
	cfg := haproxyConfig{}
	section := ""
	for i, line := range strings.Split(string(body), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line[0] != ' ' {
			section = trimmed
			if _, dup := cfg[section]; dup {
				t.Errorf("haproxy.cfg:%d: section %q twice", i+1, section)
			}
			cfg[section] = nil
			continue
		}
		if section == "" {
			t.Fatalf("haproxy.cfg:%d: %q outside any section", i+1, trimmed)
		}
		cfg[section] = append(cfg[section], trimmed)
	}
	return cfg
}

// with returns the directives of a section that start with prefix.
func (c haproxyConfig) with(section, prefix string) []string {
	var out []string
	for _, d := range c[section] {
		if d == prefix || strings.HasPrefix(d, prefix+" ") {
			out = append(out, d)
		}
	}
	return out
}

// haproxyWords splits a directive into words, honouring single quotes (HAProxy's strong
// quoting, which the error bodies use).
func haproxyWords(d string) ([]string, error) {
	var words []string
	for d = strings.TrimSpace(d); d != ""; d = strings.TrimSpace(d) {
		if d[0] == '\'' {
			end := strings.IndexByte(d[1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", d)
			}
			words = append(words, d[1:end+1])
			d = d[end+2:]
			continue
		}
		end := strings.IndexAny(d, " \t")
		if end < 0 {
			end = len(d)
		}
		if strings.ContainsAny(d[:end], `'"\`) {
			return nil, fmt.Errorf("quote or escape inside %q: only whole single-quoted words are expected", d[:end])
		}
		words = append(words, d[:end])
		d = d[end:]
	}
	return words, nil
}

// TestHAProxyConfig checks what the scaled deployment relies on in HAProxy's file: the
// addresses, the health check on /readyz, retries that never replay a request that
// reached a replica unless it is a GET or HEAD, and HAProxy's own errors as problem
// documents (with Retry-After for 502, 503 and 504).
func TestHAProxyConfig(t *testing.T) {
	const name = "haproxy/haproxy.cfg"
	noReplicas := DefaultStackParams()
	noReplicas.Replicas, noReplicas.Balancer, noReplicas.BalancerStats = nil, "", ""
	for _, p := range []StackParams{DefaultStackParams(), unusualParams, noReplicas} {
		cfg := parseHAProxy(t, stackFile(t, renderStack(t, p), name))
		balancer, stats := p.Balancer, p.BalancerStats
		if balancer == "" {
			balancer, stats = DefaultStackParams().Balancer, DefaultStackParams().BalancerStats
		}
		for _, section := range []string{"global", "defaults", "frontend api", "backend articlesd", "frontend stats"} {
			if _, ok := cfg[section]; !ok {
				t.Fatalf("%s: no section %q", name, section)
			}
		}
		if got := cfg.with("frontend api", "bind"); len(got) != 1 || got[0] != "bind "+balancer {
			t.Errorf("%s: frontend api binds %v, want %s", name, got, balancer)
		}
		if got := cfg.with("frontend api", "default_backend"); len(got) != 1 || got[0] != "default_backend articlesd" {
			t.Errorf("%s: frontend api sends to %v, want the backend articlesd", name, got)
		}
		if got := cfg.with("frontend stats", "bind"); len(got) != 1 || got[0] != "bind "+stats {
			t.Errorf("%s: frontend stats binds %v, want %s", name, got, stats)
		}
		if got := cfg.with("frontend stats", "stats uri"); len(got) != 1 || got[0] != "stats uri /stats" {
			t.Errorf("%s: stats page at %v, want /stats", name, got)
		}
		for _, admin := range []string{"stats admin", "stats socket"} {
			if len(cfg.with("frontend stats", admin)) > 0 || len(cfg.with("global", admin)) > 0 {
				t.Errorf("%s: %s: the statistics page is read-only", name, admin)
			}
		}

		// Health: /readyz must answer 200, checked often enough to see a drain in time.
		backend := "backend articlesd"
		for _, want := range []string{
			"option httpchk",
			"http-check expect status 200",
			"http-request disable-l7-retry unless METH_GET",
		} {
			if len(cfg.with(backend, want)) != 1 {
				t.Errorf("%s: %s lacks %q", name, backend, want)
			}
		}
		if got := cfg.with(backend, "http-check send"); len(got) != 1 || !strings.HasPrefix(got[0], "http-check send meth GET uri /readyz ") {
			t.Errorf("%s: health check %v, want GET /readyz", name, got)
		}
		ds := cfg.with(backend, "default-server")
		if len(ds) != 1 {
			t.Fatalf("%s: %d default-server lines, want 1", name, len(ds))
		}
		dsWords := strings.Fields(ds[0])
		for _, want := range []string{"check", "inter", "fastinter", "downinter", "fall", "rise"} {
			if !slices.Contains(dsWords, want) {
				t.Errorf("%s: default-server lacks %s: %s", name, want, ds[0])
			}
		}

		// The servers: one per IP replica, a template per name (resolved by Docker's DNS).
		var servers []string
		for _, d := range cfg[backend] {
			if strings.HasPrefix(d, "server ") || strings.HasPrefix(d, "server-template ") {
				servers = append(servers, d)
			}
		}
		var want []string
		names := 0
		for i, hp := range p.Replicas {
			host, _, _ := net.SplitHostPort(hp)
			if net.ParseIP(host) != nil {
				want = append(want, fmt.Sprintf("server replica%d %s", i+1, hp))
				continue
			}
			names++
			want = append(want, fmt.Sprintf("server-template %s 1-%d %s resolvers docker init-addr none resolve-prefer ipv4", host, MaxResolvedReplicas, hp))
		}
		if !slices.Equal(servers, want) {
			t.Errorf("%s: servers\n%s\nwant\n%s", name, strings.Join(servers, "\n"), strings.Join(want, "\n"))
		}
		if _, ok := cfg["resolvers docker"]; ok != (names > 0) {
			t.Errorf("%s: resolvers section present %v, want it exactly when a replica is a name (%d)", name, ok, names)
		}
		if names > 0 && len(cfg.with("resolvers docker", "parse-resolv-conf")) != 1 {
			t.Errorf("%s: the resolvers do not ask the container's DNS (parse-resolv-conf)", name)
		}

		// Retries: only on what cannot have been processed, on another replica each time.
		if got := cfg.with("defaults", "retry-on"); !slices.Equal(got, []string{"retry-on conn-failure empty-response"}) {
			t.Errorf("%s: %v, want retry-on conn-failure empty-response (nothing that a replica may have acted on)", name, got)
		}
		if got := cfg.with("defaults", "option redispatch"); !slices.Equal(got, []string{"option redispatch 1"}) {
			t.Errorf("%s: %v, want option redispatch 1 (every retry on another replica)", name, got)
		}
		if got := cfg.with("defaults", "retries"); len(got) != 1 || got[0] == "retries 0" {
			t.Errorf("%s: retries %v, want at least one", name, got)
		}
		for _, timeout := range []string{"connect", "client", "server", "http-request", "http-keep-alive", "queue", "check"} {
			if len(cfg.with("defaults", "timeout "+timeout)) != 1 {
				t.Errorf("%s: no timeout %s", name, timeout)
			}
		}

		// HAProxy's own answers are problem documents.
		errs := map[int]bool{}
		for _, d := range cfg.with("defaults", "http-error") {
			words, err := haproxyWords(d)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			var status int
			var contentType, body string
			headers := map[string]string{}
			for i := 1; i+1 < len(words); i += 2 {
				switch words[i] {
				case "status":
					status, _ = strconv.Atoi(words[i+1])
				case "content-type":
					contentType = words[i+1]
				case "string":
					body = words[i+1]
				case "hdr":
					if i+2 >= len(words) {
						t.Fatalf("%s: %q: hdr without a value", name, d)
					}
					headers[words[i+1]] = words[i+2]
					i++
				default:
					t.Errorf("%s: %q: unexpected %q", name, d, words[i])
				}
			}
			if errs[status] {
				t.Errorf("%s: http-error %d twice", name, status)
			}
			errs[status] = true
			if contentType != "application/problem+json" {
				t.Errorf("%s: http-error %d has content-type %q", name, status, contentType)
			}
			var doc struct {
				Type, Title, Detail string
				Status              int
			}
			if err := json.Unmarshal([]byte(body), &doc); err != nil {
				t.Errorf("%s: http-error %d: body %q is not JSON: %v", name, status, body, err)
			}
			if doc.Type != "about:blank" || doc.Title != http.StatusText(status) || doc.Status != status || doc.Detail == "" {
				t.Errorf("%s: http-error %d: body %+v is not the API's problem document for %d", name, status, doc, status)
			}
			if headers["Cache-Control"] != "no-store" {
				t.Errorf("%s: http-error %d: Cache-Control %q, want no-store like the API's problems", name, status, headers["Cache-Control"])
			}
			retryAfter, hasRetry := headers["Retry-After"]
			if wantRetry := status == 502 || status == 503 || status == 504; hasRetry != wantRetry {
				t.Errorf("%s: http-error %d: Retry-After %q, want one exactly on 502, 503 and 504", name, status, retryAfter)
			} else if n, err := strconv.Atoi(retryAfter); hasRetry && (err != nil || n < 1) {
				t.Errorf("%s: http-error %d: Retry-After %q is not a positive number of seconds", name, status, retryAfter)
			}
		}
		for _, status := range []int{400, 408, 500, 501, 502, 503, 504} {
			if !errs[status] {
				t.Errorf("%s: HAProxy's own %d is not a problem document (no http-error)", name, status)
			}
		}
	}
}

func TestHAProxyWords(t *testing.T) {
	got, err := haproxyWords(`http-error status 503 hdr Retry-After 5 string '{"a": "b c"}'`)
	if want := []string{"http-error", "status", "503", "hdr", "Retry-After", "5", "string", `{"a": "b c"}`}; err != nil || !slices.Equal(got, want) {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{`string '{"a"`, `string "{}"`, `string {\"a\"}`} {
		if _, err := haproxyWords(bad); err == nil {
			t.Errorf("%q passed", bad)
		}
	}
}

// TestPrometheusScrapesReplicas: job articlesd scrapes articlesd and every replica,
// those given by name through DNS (each address a target), so that --scale is followed.
func TestPrometheusScrapesReplicas(t *testing.T) {
	const name = "prometheus/prometheus.yml"
	noReplicas := DefaultStackParams()
	noReplicas.Replicas = nil
	for _, p := range []StackParams{DefaultStackParams(), unusualParams, noReplicas} {
		doc := parseYAML(t, name, stackFile(t, renderStack(t, p), name))
		jobs, _ := dig(t, name, doc, "scrape_configs").([]any)
		var job map[string]any
		for _, j := range jobs {
			if m, _ := j.(map[string]any); m["job_name"] == "articlesd" {
				job = m
			}
		}
		if job == nil {
			t.Fatalf("%s: no job articlesd", name)
		}
		wantTargets := []string{p.API}
		var wantDNS []string
		for _, hp := range p.Replicas {
			host, port, _ := net.SplitHostPort(hp)
			if net.ParseIP(host) != nil {
				wantTargets = append(wantTargets, hp)
			} else {
				wantDNS = append(wantDNS, host+" A "+port)
			}
		}
		statics, _ := job["static_configs"].([]any)
		if len(statics) != 1 {
			t.Fatalf("%s: %d static_configs in job articlesd, want 1", name, len(statics))
		}
		if got := strList(t, name, dig(t, name, statics, "0", "targets")); !slices.Equal(got, wantTargets) {
			t.Errorf("%s: static targets %v, want %v", name, got, wantTargets)
		}
		sds, _ := job["dns_sd_configs"].([]any)
		var gotDNS []string
		for i := range sds {
			names := strList(t, name, dig(t, name, sds, fmt.Sprint(i), "names"))
			gotDNS = append(gotDNS, fmt.Sprintf("%s %v %v", strings.Join(names, ","), dig(t, name, sds, fmt.Sprint(i), "type"), dig(t, name, sds, fmt.Sprint(i), "port")))
		}
		if !slices.Equal(gotDNS, wantDNS) {
			t.Errorf("%s: DNS discovery %v, want %v", name, gotDNS, wantDNS)
		}
	}
}

func TestStackParamsRejectBadReplicas(t *testing.T) {
	for _, tc := range []struct {
		change func(*StackParams)
		want   string
	}{
		{func(p *StackParams) { p.Replicas = []string{"no-port"} }, `replica address "no-port"`},
		{func(p *StackParams) { p.Replicas = []string{":8080"} }, `replica address ":8080"`},
		{func(p *StackParams) { p.Replicas = []string{"a:1", "a:2"} }, "a given twice"},
		{func(p *StackParams) { p.Replicas = []string{"10.0.0.1:1", "10.0.0.1:1"} }, "given twice"},
		{func(p *StackParams) { p.Replicas = []string{"a b:1"} }, `replica address "a b:1"`},
		{func(p *StackParams) { p.Balancer = "8080" }, `balancer address "8080"`},
		{func(p *StackParams) { p.BalancerStats = "x:1 y" }, `balancer-stats address "x:1 y"`},
	} {
		p := DefaultStackParams()
		tc.change(&p)
		if _, err := Stack(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", p, err, tc.want)
		}
	}
	p := DefaultStackParams()
	p.Replicas = []string{"10.0.0.1:1", "10.0.0.1:2", "[::1]:3"}
	if _, err := Stack(p); err != nil {
		t.Errorf("replicas on one host, different ports: %v", err)
	}
}
