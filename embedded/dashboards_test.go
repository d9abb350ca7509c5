package embedded

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// wantDashboards are the dashboards articlesd ships, by uid.
var wantDashboards = map[string]string{
	"articlesd-api":    "Articles API",
	"articlesd-logs":   "Articles logs",
	"articlesd-traces": "Articles traces",
}

// fixedDatasources are the provisioned datasources' uids and types, used when the
// provisioning file is not in the stack.
var fixedDatasources = map[string]string{"prometheus": "prometheus", "loki": "loki", "tempo": "tempo"}

const datasourcesFile = "grafana/provisioning/datasources/datasources.yaml"

// provisionedDatasources reads uid → type from the rendered datasources file when the
// stack has one, else returns the fixed set. Either way the result must hold exactly
// the three uids the dashboards may name.
func provisionedDatasources(t *testing.T) map[string]string {
	t.Helper()
	files, err := Stack(DefaultStackParams())
	if err != nil {
		t.Fatal(err)
	}
	body, ok := files[datasourcesFile]
	if !ok {
		t.Logf("%s is not in the stack: checking against the fixed datasources", datasourcesFile)
		return fixedDatasources
	}
	var doc struct {
		Datasources []struct {
			Name string `yaml:"name"`
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s: %v", datasourcesFile, err)
	}
	got := map[string]string{}
	for _, ds := range doc.Datasources {
		if ds.UID == "" {
			t.Errorf("%s: datasource %q has no uid: dashboards could not name it", datasourcesFile, ds.Name)
			continue
		}
		if _, dup := got[ds.UID]; dup {
			t.Errorf("%s: uid %q twice", datasourcesFile, ds.UID)
		}
		got[ds.UID] = ds.Type
	}
	for uid, typ := range fixedDatasources {
		if got[uid] != typ {
			t.Errorf("%s: want datasource uid %q of type %q, have type %q", datasourcesFile, uid, typ, got[uid])
		}
	}
	// Only the three known uids may be named: another datasource would need its own checks.
	out := map[string]string{}
	for uid, typ := range got {
		if fixedDatasources[uid] != "" {
			out[uid] = typ
		}
	}
	return out
}

func mustLoadDashboards(t *testing.T) map[string]*dashboard {
	t.Helper()
	ds, err := loadDashboards()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) == 0 {
		t.Fatal("no dashboards in the stack")
	}
	return ds
}

func TestDashboardFilesAreJSON(t *testing.T) {
	err := fs.WalkDir(stackFiles, "stack/grafana/dashboards", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".json") {
			t.Errorf("%s: the dashboards folder holds only .json files (Grafana ignores others)", path)
			return nil
		}
		body, err := fs.ReadFile(stackFiles, path)
		if err != nil {
			return err
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDashboardIdentity(t *testing.T) {
	dashboards := mustLoadDashboards(t)
	uids, titles := map[string]string{}, map[string]string{}
	for path, d := range dashboards {
		if prev, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s have the same uid %q", prev, path, d.UID)
		}
		uids[d.UID] = path
		if prev, dup := titles[d.Title]; dup {
			t.Errorf("%s and %s have the same title %q", prev, path, d.Title)
		}
		titles[d.Title] = path
		want, ok := wantDashboards[d.UID]
		if !ok {
			t.Errorf("%s: unexpected uid %q", path, d.UID)
		} else if d.Title != want {
			t.Errorf("%s: title %q, want %q", path, d.Title, want)
		}
		if d.SchemaVersion < 39 {
			t.Errorf("%s: schemaVersion %d, want 39 or later", path, d.SchemaVersion)
		}
		if d.Time.From != "now-1h" || d.Time.To != "now" {
			t.Errorf("%s: time range %s..%s, want now-1h..now", path, d.Time.From, d.Time.To)
		}
		if d.Refresh != "10s" {
			t.Errorf("%s: refresh %q, want 10s", path, d.Refresh)
		}
		if !dashContains(d.Tags, "articlesd") {
			t.Errorf("%s: tags %v lack articlesd", path, d.Tags)
		}
		ids := map[int]string{}
		for _, p := range d.allPanels() {
			if p.ID <= 0 {
				t.Errorf("%s: panel %q has no stable id", path, p.Title)
			} else if prev, dup := ids[p.ID]; dup {
				t.Errorf("%s: panels %q and %q share id %d", path, prev, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: panel %q has no valid gridPos", path, p.Title)
			}
			if p.Title == "" {
				t.Errorf("%s: panel %d has no title", path, p.ID)
			}
		}
	}
	for uid := range wantDashboards {
		if _, ok := uids[uid]; !ok {
			t.Errorf("no dashboard has uid %q", uid)
		}
	}
}

// queryOf returns the query text of a target and the field it came from.
func queryOf(tg dashboardTarget) (text, field string, err error) {
	if tg.Expr != nil {
		return *tg.Expr, "expr", nil
	}
	if len(tg.Query) > 0 {
		var s string
		if err := json.Unmarshal(tg.Query, &s); err != nil {
			return "", "query", fmt.Errorf("query is not a string: %s", tg.Query)
		}
		return s, "query", nil
	}
	return "", "", fmt.Errorf("target has neither expr nor query")
}

func TestDashboardDatasources(t *testing.T) {
	sources := provisionedDatasources(t)
	for path, d := range mustLoadDashboards(t) {
		checkRef := func(what string, ref *dashboardDatasource) string {
			if ref == nil {
				t.Errorf("%s: %s names no datasource object", path, what)
				return ""
			}
			typ, ok := sources[ref.UID]
			if !ok {
				t.Errorf("%s: %s uses datasource uid %q, not one of the provisioned %v", path, what, ref.UID, dsUIDList(sources))
				return ""
			}
			if ref.Type != typ {
				t.Errorf("%s: %s names uid %q with type %q, but it is a %s datasource", path, what, ref.UID, ref.Type, typ)
			}
			return typ
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				checkRef(fmt.Sprintf("variable %q", v.Name), v.Datasource)
			}
		}
		for _, p := range d.allPanels() {
			if p.Type == "row" {
				if len(p.Targets) > 0 {
					t.Errorf("%s: row %q has targets", path, p.Title)
				}
				continue
			}
			what := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			panelType := checkRef(what, p.Datasource)
			if len(p.Targets) == 0 {
				t.Errorf("%s: %s has no targets", path, what)
			}
			refs := map[string]bool{}
			for i, tg := range p.Targets {
				tw := fmt.Sprintf("%s target %d (%s)", what, i, tg.RefID)
				if tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("%s: missing or repeated refId", tw)
				}
				refs[tg.RefID] = true
				typ := checkRef(tw, tg.Datasource)
				if typ != "" && panelType != "" && typ != panelType {
					t.Errorf("%s: %s target on a %s panel (no mixed panels)", path, typ, panelType)
				}
				text, field, err := queryOf(tg)
				if err != nil {
					t.Errorf("%s: %s: %v", path, tw, err)
					continue
				}
				want := map[string]string{"prometheus": "expr", "loki": "expr", "tempo": "query"}[typ]
				if typ != "" && field != want {
					t.Errorf("%s: %s: a %s target carries its query in %q, not %q", path, tw, typ, want, field)
				}
				if tg.Expr != nil && len(tg.Query) > 0 && typ != "tempo" {
					t.Errorf("%s: %s has both expr and query", path, tw)
				}
				if strings.TrimSpace(text) == "" {
					t.Errorf("%s: %s: empty query", path, tw)
				}
			}
		}
	}
}

// allowedMetric is articlesd's exposition plus Tempo's generated metrics and up.
func allowedMetric(name string) bool {
	switch name {
	case "request_count_total", "request_latency_seconds_bucket", "request_latency_seconds_sum",
		"request_latency_seconds_count", "status_code_count_total", "cpu_usage", "memory_usage",
		"product_count_total", "active_article_count", "articlesd_trace_spans_dropped_total", "up":
		return true
	}
	for _, prefix := range []string{"go_", "process_", "traces_spanmetrics_", "traces_service_graph_"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// checkPromQL parses expr and checks the metrics it reads.
func checkPromQL(expr string) error {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return err
	}
	var bad []string
	selectors := 0
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		selectors++
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					name = m.Value
				}
			}
		}
		if !allowedMetric(name) {
			bad = append(bad, strconv.Quote(name))
		}
		return nil
	})
	if selectors == 0 {
		return fmt.Errorf("reads no metric")
	}
	if len(bad) > 0 {
		return fmt.Errorf("reads metrics articlesd and Tempo do not expose: %s", strings.Join(bad, ", "))
	}
	return nil
}

func TestDashboardPromQL(t *testing.T) {
	exprs, err := DashboardPromQL()
	if err != nil {
		t.Fatal(err)
	}
	if len(exprs) < 10 {
		t.Fatalf("DashboardPromQL returned %d expressions, want the dashboards' (at least 10)", len(exprs))
	}
	for _, e := range exprs {
		if strings.Contains(e, "$") {
			t.Errorf("%q: a Grafana variable is left", e)
		}
		if err := checkPromQL(e); err != nil {
			t.Errorf("%q: %v", e, err)
		}
	}
	// Every prometheus target is among them.
	have := map[string]bool{}
	for _, e := range exprs {
		have[e] = true
	}
	for path, d := range mustLoadDashboards(t) {
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.Type != "prometheus" || tg.Expr == nil {
					continue
				}
				q, err := SubstituteGrafanaVars(*tg.Expr)
				if err != nil {
					t.Errorf("%s: %v", path, err)
				} else if !have[strings.TrimSpace(q)] {
					t.Errorf("%s: %q is missing from DashboardPromQL", path, q)
				}
			}
		}
	}
}

func TestCheckPromQLRejects(t *testing.T) {
	for _, e := range []string{
		`sum(rate(request_count_total[1m])`,                   // unbalanced
		`rate(http_requests_total[1m])`,                       // not articlesd's
		`histogram_quantile(0.95, rate(request_latency[1m]))`, // not articlesd's
		`sum(rate({resource.service.name="articles-api"}[5m]))`,
		`1 + 1`,
	} {
		if checkPromQL(e) == nil {
			t.Errorf("%q passed", e)
		}
	}
	if err := checkPromQL(`sum by (span_name) (rate(traces_spanmetrics_calls_total{service="articles-api"}[1m]))`); err != nil {
		t.Error(err)
	}
}

func TestSubstituteGrafanaVars(t *testing.T) {
	got, err := SubstituteGrafanaVars(`rate(x{endpoint=~"${endpoint}"}[$__rate_interval]) + rate(x{endpoint=~"$endpoint"}[${__interval}]) + y[$__range]`)
	if err != nil {
		t.Fatal(err)
	}
	want := `rate(x{endpoint=~"/articles"}[1m]) + rate(x{endpoint=~"/articles"}[1m]) + y[1h]`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := SubstituteGrafanaVars(`rate(x[$interval])`); err == nil {
		t.Error("an unknown variable passed")
	}
}

// promQLOnly are PromQL functions that LogQL does not have.
var promQLOnly = []string{"histogram_quantile(", "irate(", "increase(", "delta(", "idelta(", "deriv(",
	"predict_linear(", "resets(", "changes(", "holt_winters(", "label_values(", "topk_over_time("}

// checkLogQL is a light syntax check of the dashboards' LogQL.
func checkLogQL(q string) error {
	if !strings.Contains(q, `{job="varlogs"}`) {
		return fmt.Errorf(`does not select {job="varlogs"}`)
	}
	if strings.Contains(q, "logfmt") && strings.Count(q, "logfmt") != strings.Count(q, "logfmt --strict") {
		return fmt.Errorf("uses logfmt without --strict")
	}
	if strings.Contains(q, "json") && regexp.MustCompile(`\|\s*json\b`).MatchString(q) {
		return fmt.Errorf("parses articlesd's logfmt lines as json")
	}
	for _, f := range promQLOnly {
		if strings.Contains(q, f) {
			return fmt.Errorf("uses %s, which LogQL does not have", strings.TrimSuffix(f, "("))
		}
	}
	if err := balanced(q); err != nil {
		return err
	}
	if strings.Contains(q, "\r") {
		return fmt.Errorf("has a carriage return")
	}
	return nil
}

// balanced checks (), [] and {} outside string literals ("…" and `…`).
func balanced(q string) error {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	var quote rune
	escaped := false
	for _, r := range q {
		switch {
		case quote != 0:
			if escaped {
				escaped = false
			} else if r == '\\' && quote == '"' {
				escaped = true
			} else if r == quote {
				quote = 0
			}
		case r == '"' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case r == ')' || r == ']' || r == '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return fmt.Errorf("unbalanced %q", r)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != 0 {
		return fmt.Errorf("unterminated string")
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return nil
}

func TestDashboardLogQL(t *testing.T) {
	n := 0
	for path, d := range mustLoadDashboards(t) {
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.Type != "loki" || tg.Expr == nil {
					continue
				}
				n++
				q, err := SubstituteGrafanaVars(*tg.Expr)
				if err == nil {
					err = checkLogQL(q)
				}
				if err != nil {
					t.Errorf("%s panel %q: %q: %v", path, p.Title, *tg.Expr, err)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no LogQL query in the dashboards")
	}
}

func TestCheckLogQLRejects(t *testing.T) {
	for _, q := range []string{
		`{job="articlesd"} |= "INFO"`,
		`{job="varlogs"} | logfmt | level="ERROR"`,
		`{job="varlogs"} | json`,
		`sum(count_over_time({job="varlogs"} [1m])`,
		`histogram_quantile(0.95, sum by (le) (rate({job="varlogs"} [1m])))`,
		"count_over_time({job=\"varlogs\"} |= \"DEBUG\" [1h])\r\n",
	} {
		if checkLogQL(q) == nil {
			t.Errorf("%q passed", q)
		}
	}
	for _, q := range []string{
		`{job="varlogs"} |= "DELETE" |= "DEBUG" | logfmt --strict`,
		`sum by (level) (count_over_time({job="varlogs"} | logfmt --strict [1m]))`,
		`{job="varlogs"} | logfmt --strict | level="ERROR"`,
		"{job=\"varlogs\"} |= `level=INFO`",
	} {
		if err := checkLogQL(q); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

// ---- TraceQL: a validator of the subset the dashboards use.

type tqToken struct {
	kind string // ident, string, number, duration, op, punct
	text string
}

var tqDuration = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h)`)
var tqNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?`)

func lexTraceQL(q string) ([]tqToken, error) {
	var toks []tqToken
	rs := []rune(q)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"':
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				if rs[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated string")
			}
			toks = append(toks, tqToken{"string", string(rs[i+1 : j])})
			i = j + 1
		case unicode.IsDigit(r):
			rest := string(rs[i:])
			if m := tqDuration.FindString(rest); m != "" && (len(rest) == len(m) || !isIdentRune([]rune(rest[len(m):])[0])) {
				toks = append(toks, tqToken{"duration", m})
				i += len([]rune(m))
			} else {
				m := tqNumber.FindString(rest)
				if len(rest) > len(m) && isIdentRune([]rune(rest[len(m):])[0]) {
					return nil, fmt.Errorf("bad number or duration at %q", rest)
				}
				toks = append(toks, tqToken{"number", m})
				i += len([]rune(m))
			}
		case isIdentRune(r):
			j := i
			for j < len(rs) && (isIdentRune(rs[j]) || rs[j] == '.') {
				j++
			}
			toks = append(toks, tqToken{"ident", string(rs[i:j])})
			i = j
		default:
			two := ""
			if i+1 < len(rs) {
				two = string(rs[i : i+2])
			}
			switch two {
			case "&&", "||", "!=", ">=", "<=", "=~", "!~":
				toks = append(toks, tqToken{"op", two})
				i += 2
				continue
			}
			switch r {
			case '=', '>', '<':
				toks = append(toks, tqToken{"op", string(r)})
			case '{', '}', '(', ')', '|', ',':
				toks = append(toks, tqToken{"punct", string(r)})
			default:
				return nil, fmt.Errorf("unexpected %q", r)
			}
			i++
		}
	}
	return toks, nil
}

func isIdentRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

type tqParser struct {
	toks []tqToken
	pos  int
}

func (p *tqParser) peek() tqToken {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return tqToken{"eof", ""}
}

func (p *tqParser) next() tqToken { t := p.peek(); p.pos++; return t }

func (p *tqParser) expect(kind, text string) error {
	t := p.next()
	if t.kind != kind || (text != "" && t.text != text) {
		return fmt.Errorf("want %s, have %q", strings.TrimSpace(kind+" "+text), t.text)
	}
	return nil
}

// tqField reports whether name is a field of the subset, and which values it takes.
func tqField(name string) (valueKinds []string, ok bool) {
	switch {
	case name == "resource.service.name", name == "name":
		return []string{"string"}, true
	case name == "status":
		return []string{"status"}, true
	case name == "kind":
		return []string{"kind"}, true
	case name == "duration":
		return []string{"duration"}, true
	case strings.HasPrefix(name, "span.http.") && len(name) > len("span.http."):
		return []string{"string", "number"}, true
	}
	return nil, false
}

var tqEnums = map[string][]string{
	"status": {"error", "ok", "unset"},
	"kind":   {"server", "client", "producer", "consumer", "internal", "unspecified"},
}

func (p *tqParser) spanset() error {
	if err := p.expect("punct", "{"); err != nil {
		return err
	}
	if t := p.peek(); t.kind == "punct" && t.text == "}" {
		p.next()
		return nil
	}
	if err := p.expr(); err != nil {
		return err
	}
	return p.expect("punct", "}")
}

func (p *tqParser) expr() error {
	for {
		if err := p.term(); err != nil {
			return err
		}
		if t := p.peek(); t.kind == "op" && (t.text == "&&" || t.text == "||") {
			p.next()
			continue
		}
		return nil
	}
}

func (p *tqParser) term() error {
	if t := p.peek(); t.kind == "punct" && t.text == "(" {
		p.next()
		if err := p.expr(); err != nil {
			return err
		}
		return p.expect("punct", ")")
	}
	f := p.next()
	if f.kind != "ident" {
		return fmt.Errorf("want a field, have %q", f.text)
	}
	kinds, ok := tqField(f.text)
	if !ok {
		return fmt.Errorf("field %q is not in the subset (resource.service.name, span.http.*, status, kind, duration, name)", f.text)
	}
	if f.text == "span.http.status_code" || f.text == "span.http.method" || f.text == "span.http.url" {
		return fmt.Errorf("%s is an old semantic-convention attribute articlesd does not set (http.response.status_code, http.request.method)", f.text)
	}
	op := p.next()
	if op.kind != "op" || op.text == "&&" || op.text == "||" {
		return fmt.Errorf("want a comparison after %s, have %q", f.text, op.text)
	}
	v := p.next()
	switch kinds[0] {
	case "status", "kind":
		if op.text != "=" && op.text != "!=" {
			return fmt.Errorf("%s takes = or !=, not %s", f.text, op.text)
		}
		if v.kind != "ident" || !dashContains(tqEnums[kinds[0]], v.text) {
			return fmt.Errorf("%s = %q: want one of %v", f.text, v.text, tqEnums[kinds[0]])
		}
	case "duration":
		if v.kind != "duration" {
			return fmt.Errorf("duration compares with a duration such as 100ms, not %q", v.text)
		}
		if op.text == "=~" || op.text == "!~" {
			return fmt.Errorf("duration takes no regex")
		}
	default:
		if !dashContains(kinds, v.kind) {
			return fmt.Errorf("%s compares with a %s, not %q", f.text, strings.Join(kinds, " or "), v.text)
		}
		if (op.text == "=~" || op.text == "!~") && v.kind != "string" {
			return fmt.Errorf("a regex match needs a string")
		}
	}
	return nil
}

func (p *tqParser) pipeline() error {
	fn := p.next()
	if fn.kind != "ident" {
		return fmt.Errorf("want rate() or count() after |, have %q", fn.text)
	}
	if err := p.expect("punct", "("); err != nil {
		return err
	}
	if err := p.expect("punct", ")"); err != nil {
		return fmt.Errorf("%s() takes no argument here: %w", fn.text, err)
	}
	switch fn.text {
	case "rate":
		if t := p.peek(); t.kind == "ident" && t.text == "by" {
			p.next()
			if err := p.expect("punct", "("); err != nil {
				return err
			}
			for {
				f := p.next()
				if _, ok := tqField(f.text); f.kind != "ident" || !ok {
					return fmt.Errorf("rate() by (%s): not a field of the subset", f.text)
				}
				if t := p.peek(); t.kind == "punct" && t.text == "," {
					p.next()
					continue
				}
				break
			}
			return p.expect("punct", ")")
		}
		return nil
	case "count":
		op := p.next()
		if op.kind != "op" || op.text == "&&" || op.text == "||" || op.text == "=~" || op.text == "!~" {
			return fmt.Errorf("count() wants a comparison, have %q", op.text)
		}
		return p.expect("number", "")
	}
	return fmt.Errorf("pipeline %s() is not in the subset (rate, count)", fn.text)
}

// checkTraceQL validates a query of the subset: a spanset filter, then optional
// pipelines `| rate() [by (...)]` or `| count() <op> N`.
func checkTraceQL(q string) error {
	for _, bad := range []string{"sum(", "rate({", "histogram_quantile(", "topk(", "[5m]", "[1m]", "by (le"} {
		if strings.Contains(strings.ReplaceAll(q, " ", ""), strings.ReplaceAll(bad, " ", "")) {
			return fmt.Errorf("%q is PromQL, not TraceQL", bad)
		}
	}
	if err := balanced(q); err != nil {
		return err
	}
	toks, err := lexTraceQL(q)
	if err != nil {
		return err
	}
	p := &tqParser{toks: toks}
	if err := p.spanset(); err != nil {
		return err
	}
	for p.peek().kind != "eof" {
		if err := p.expect("punct", "|"); err != nil {
			return err
		}
		if err := p.pipeline(); err != nil {
			return err
		}
	}
	return nil
}

func TestDashboardTraceQL(t *testing.T) {
	n := 0
	for path, d := range mustLoadDashboards(t) {
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.Type != "tempo" {
					continue
				}
				n++
				q, _, err := queryOf(tg)
				if err == nil {
					err = checkTraceQL(q)
				}
				if err == nil {
					switch tg.QueryType {
					case "traceql":
						if strings.Contains(q, "| rate(") {
							err = fmt.Errorf("a metrics query needs queryType traceqlMetrics")
						}
					case "traceqlMetrics":
						if !strings.Contains(q, "| rate(") {
							err = fmt.Errorf("queryType traceqlMetrics needs a metrics pipeline")
						}
					default:
						err = fmt.Errorf("queryType %q, want traceql or traceqlMetrics", tg.QueryType)
					}
				}
				if err != nil {
					t.Errorf("%s panel %q: %q: %v", path, p.Title, q, err)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no TraceQL query in the dashboards")
	}
}

func TestCheckTraceQL(t *testing.T) {
	for _, q := range []string{
		`{ resource.service.name = "articles-api" && status = error }`,
		`{ resource.service.name = "articles-api" && span.http.response.status_code >= 400 }`,
		`{ resource.service.name = "articles-api" && kind = server && duration > 100ms }`,
		`{ resource.service.name = "articles-api" && kind = server }`,
		`{ resource.service.name = "articles-api" && kind = server } | rate() by (span.http.route)`,
		`{ (span.http.route = "/articles/{id}" || name =~ "GET .*") && status != ok } | count() > 3`,
		`{}`,
	} {
		if err := checkTraceQL(q); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
	// The seed's invalid queries, and other mistakes.
	for _, q := range []string{
		`sum(rate({resource.service.name="articles-api"}[5m])) by (method)`,
		`histogram_quantile(0.95, sum(rate({resource.service.name="articles-api"}[5m])) by (le))`,
		`topk(5, avg(rate({resource.service.name="articles-api"}[5m])) by (endpoint))`,
		`{traceDuration > 4ms} | count() > 3`,
		`{duration<30 && status=ok}`,
		`{span.http.status_code>=400}`,
		`{ resource.service.name = "articles-api" && status = failed }`,
		`{ resource.service.name = "articles-api"`,
		`{ kind = server } | rate() by (method`,
		`{ kind = server } | avg(duration)`,
		`{ kind = server } | count() > 3ms`,
		`{ kind = server && }`,
	} {
		if checkTraceQL(q) == nil {
			t.Errorf("%q passed", q)
		}
	}
}

// TestAPIDashboardRED checks the RED row of the API dashboard: rate, 5xx ratio and
// latency quantiles per endpoint, the latency with exemplars.
func TestAPIDashboardRED(t *testing.T) {
	var api *dashboard
	for _, d := range mustLoadDashboards(t) {
		if d.UID == "articlesd-api" {
			api = d
		}
	}
	if api == nil {
		t.Fatal("no articlesd-api dashboard")
	}
	var variable *dashboardVariable
	for i, v := range api.Templating.List {
		if v.Name == "endpoint" {
			variable = &api.Templating.List[i]
		}
	}
	if variable == nil || !strings.Contains(variable.Definition, "label_values(request_count_total, endpoint)") {
		t.Errorf("want a variable endpoint from label_values(request_count_total, endpoint), have %+v", variable)
	}
	inRED, foundRow := false, false
	var exprs []string
	exemplars := false
	for _, p := range api.allPanels() {
		if p.Type == "row" {
			inRED = strings.Contains(p.Title, "RED")
			if inRED {
				foundRow = true
				if p.Repeat != "endpoint" {
					t.Errorf("RED row %q repeats by %q, want endpoint", p.Title, p.Repeat)
				}
			}
			continue
		}
		if !inRED {
			continue
		}
		for _, tg := range p.Targets {
			if tg.Expr == nil {
				continue
			}
			exprs = append(exprs, *tg.Expr)
			if strings.Contains(*tg.Expr, "request_latency_seconds_bucket") {
				if !tg.Exemplar {
					t.Errorf("panel %q: latency target %s shows no exemplars", p.Title, tg.RefID)
				}
				exemplars = true
				if p.FieldConfig.Defaults.Unit != "s" {
					t.Errorf("panel %q: unit %q, want s", p.Title, p.FieldConfig.Defaults.Unit)
				}
			}
			if !strings.Contains(*tg.Expr, `endpoint=~"$endpoint"`) {
				t.Errorf("panel %q: %q does not select the row's endpoint", p.Title, *tg.Expr)
			}
		}
	}
	if !foundRow {
		t.Fatal("no RED row")
	}
	all := strings.Join(exprs, "\n")
	for _, want := range []string{"histogram_quantile(0.5,", "histogram_quantile(0.95,", "histogram_quantile(0.99,", `http_status=~"5.."`, "rate(request_count_total{"} {
		if !strings.Contains(all, want) {
			t.Errorf("the RED row has no query with %s", want)
		}
	}
	if !exemplars {
		t.Error("the RED row has no latency panel")
	}
	units := map[string]bool{"reqps": true, "percentunit": true, "s": true, "percent": true, "short": true, "": true}
	for _, p := range api.allPanels() {
		if !units[p.FieldConfig.Defaults.Unit] {
			t.Errorf("panel %q: unit %q", p.Title, p.FieldConfig.Defaults.Unit)
		}
	}
}

func dashContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func dsUIDList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// instanceVar stands for $instance while a query is parsed, so that its matchers can be
// told apart from any other regex.
const instanceVar = "INSTANCE_VARIABLE"

// articlesdSelectors returns the selectors of a PromQL query that read articlesd's own
// metrics (not Tempo's generated ones), with $instance kept as instanceVar.
func articlesdSelectors(expr string) ([]*parser.VectorSelector, error) {
	q, err := SubstituteGrafanaVars(strings.NewReplacer("${instance}", instanceVar, "$instance", instanceVar).Replace(expr))
	if err != nil {
		return nil, err
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return nil, err
	}
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && !strings.HasPrefix(vs.Name, "traces_") {
			out = append(out, vs)
		}
		return nil
	})
	return out, nil
}

// TestDashboardsPerInstance: with several replicas (docker compose --profile scale)
// every articlesd metric has one series per instance. The API dashboard has an instance
// variable (every articlesd target Prometheus has, several or all), every query of
// articlesd's metrics keeps to the instances chosen, and a row shows the instances side
// by side: up, request rate and latency.
func TestDashboardsPerInstance(t *testing.T) {
	perInstance := map[string]bool{} // metric -> some panel shows it by instance
	for path, d := range mustLoadDashboards(t) {
		var instance *dashboardVariable
		for i, v := range d.Templating.List {
			if v.Name == "instance" {
				instance = &d.Templating.List[i]
			}
		}
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.Type != "prometheus" || tg.Expr == nil {
					continue
				}
				sels, err := articlesdSelectors(*tg.Expr)
				if err != nil {
					t.Errorf("%s panel %q: %q: %v", path, p.Title, *tg.Expr, err)
					continue
				}
				if len(sels) > 0 && instance == nil {
					t.Errorf("%s panel %q reads articlesd's metrics, but the dashboard has no instance variable", path, p.Title)
				}
				for _, vs := range sels {
					filtered := false
					for _, m := range vs.LabelMatchers {
						if m.Name == "instance" {
							filtered = m.Type == labels.MatchRegexp && m.Value == instanceVar
						}
					}
					if !filtered {
						t.Errorf(`%s panel %q: %s in %q is not filtered by instance=~"$instance"`, path, p.Title, vs.Name, *tg.Expr)
					}
					if strings.Contains(tg.LegendFormat, "{{instance}}") {
						perInstance[vs.Name] = true
					}
				}
			}
		}
		if instance == nil {
			continue
		}
		if instance.Type != "query" || instance.Definition != `label_values(up{job="articlesd"}, instance)` {
			t.Errorf(`%s: variable instance is a %s of %q, want a query of label_values(up{job="articlesd"}, instance)`, path, instance.Type, instance.Definition)
		}
		if !instance.Multi || !instance.IncludeAll || instance.AllValue != ".+" {
			t.Errorf("%s: variable instance: multi %v, includeAll %v, allValue %q; want several or all instances (.+)", path, instance.Multi, instance.IncludeAll, instance.AllValue)
		}
	}
	for _, metric := range []string{"up", "request_count_total", "request_latency_seconds_bucket", "cpu_usage", "memory_usage"} {
		if !perInstance[metric] {
			t.Errorf("no panel shows %s per instance (a target with legend {{instance}})", metric)
		}
	}
}

func TestArticlesdSelectors(t *testing.T) {
	sels, err := articlesdSelectors(`sum(rate(request_count_total{instance=~"$instance"}[1m])) / sum(rate(traces_spanmetrics_calls_total[1m])) + up{job="articlesd"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(sels) != 2 || sels[0].Name != "request_count_total" || sels[1].Name != "up" {
		t.Fatalf("selectors %v, want request_count_total and up", sels)
	}
	if _, err := articlesdSelectors(`rate(request_count_total{instance=~"$host"}[1m])`); err == nil {
		t.Error("an unknown variable passed")
	}
}
