package embedded

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// dashboardDir is where Stack writes the Grafana dashboards, relative to its output.
const dashboardDir = "grafana/dashboards/"

// grafanaVars are the values the dashboards' Grafana variables take when a query is
// checked or run outside Grafana: the rate and range windows of a 1h dashboard, one
// real route for the endpoint variable, and "All" (the variable's allValue) for the
// instance variable. Longer names come first, so that ${x} is replaced before $x.
var grafanaVars = strings.NewReplacer(
	"${__rate_interval}", "1m",
	"$__rate_interval", "1m",
	"${__interval}", "1m",
	"$__interval", "1m",
	"${__range}", "1h",
	"$__range", "1h",
	"${endpoint}", "/articles",
	"$endpoint", "/articles",
	"${instance}", ".+",
	"$instance", ".+",
)

// unknownVar finds a Grafana variable that grafanaVars does not know.
var unknownVar = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*`)

// SubstituteGrafanaVars replaces the Grafana variables the dashboards use with the
// values above. It fails on a variable it does not know.
func SubstituteGrafanaVars(query string) (string, error) {
	out := grafanaVars.Replace(query)
	if v := unknownVar.FindString(out); v != "" {
		return "", fmt.Errorf("query %q uses Grafana variable %s, which has no substitute", query, v)
	}
	return out, nil
}

// dashboardDatasource is a panel's or a target's datasource reference.
type dashboardDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// dashboardTarget is one query of a panel: expr for Prometheus and Loki, query for Tempo.
type dashboardTarget struct {
	Datasource   *dashboardDatasource `json:"datasource"`
	RefID        string               `json:"refId"`
	Expr         *string              `json:"expr"`
	Query        json.RawMessage      `json:"query"`
	QueryType    string               `json:"queryType"`
	Exemplar     bool                 `json:"exemplar"`
	LegendFormat string               `json:"legendFormat"`
}

// dashboardPanel is a panel, or a row whose collapsed panels are in Panels.
type dashboardPanel struct {
	ID         int                  `json:"id"`
	Type       string               `json:"type"`
	Title      string               `json:"title"`
	Repeat     string               `json:"repeat"`
	Datasource *dashboardDatasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []dashboardTarget `json:"targets"`
	Panels  []dashboardPanel  `json:"panels"`
}

// dashboardVariable is a templating variable.
type dashboardVariable struct {
	Name       string               `json:"name"`
	Type       string               `json:"type"`
	Datasource *dashboardDatasource `json:"datasource"`
	Definition string               `json:"definition"`
	Multi      bool                 `json:"multi"`
	IncludeAll bool                 `json:"includeAll"`
	AllValue   string               `json:"allValue"`
}

// dashboard is the part of a Grafana dashboard model that the checks read.
type dashboard struct {
	UID           string                    `json:"uid"`
	Title         string                    `json:"title"`
	SchemaVersion int                       `json:"schemaVersion"`
	Tags          []string                  `json:"tags"`
	Refresh       string                    `json:"refresh"`
	Time          struct{ From, To string } `json:"time"`
	Panels        []dashboardPanel          `json:"panels"`
	Templating    struct {
		List []dashboardVariable `json:"list"`
	} `json:"templating"`
}

// allPanels returns the dashboard's panels and rows, with the panels nested in
// collapsed rows, in order.
func (d *dashboard) allPanels() []dashboardPanel {
	var out []dashboardPanel
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// loadDashboards parses every dashboard Stack writes, by path.
func loadDashboards() (map[string]*dashboard, error) {
	files, err := Stack(DefaultStackParams())
	if err != nil {
		return nil, err
	}
	out := map[string]*dashboard{}
	for _, path := range StackPaths(files) {
		if !strings.HasPrefix(path, dashboardDir) {
			continue
		}
		var d dashboard
		if err := json.Unmarshal(files[path], &d); err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", path, err)
		}
		out[path] = &d
	}
	return out, nil
}

// DashboardPromQL returns every PromQL expression of the dashboards (the expr of each
// target on a prometheus datasource), with Grafana variables substituted, sorted and
// without duplicates, so that a test can run them against a real Prometheus.
func DashboardPromQL() ([]string, error) {
	dashboards, err := loadDashboards()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for path, d := range dashboards {
		for _, p := range d.allPanels() {
			for _, t := range p.Targets {
				ds := t.Datasource
				if ds == nil {
					ds = p.Datasource
				}
				if ds == nil || ds.Type != "prometheus" || t.Expr == nil {
					continue
				}
				q, err := SubstituteGrafanaVars(*t.Expr)
				if err != nil {
					return nil, fmt.Errorf("dashboard %s panel %q: %w", path, p.Title, err)
				}
				q = strings.TrimSpace(q)
				if !seen[q] {
					seen[q] = true
					out = append(out, q)
				}
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
