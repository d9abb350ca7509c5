package bench

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
)

// TestBenchOptionsValidate checks that each setting that cannot make a run is named in
// a one-line error, and that the defaults with a PostgreSQL URL and a seeder pass.
func TestBenchOptionsValidate(t *testing.T) {
	valid := DefaultOptions()
	valid.DatabaseURL = "postgres://u@127.0.0.1:1/db"
	valid.Seeder = func(context.Context, *store.Store, io.Writer, int, int, int, uint64, int) error { return nil }
	if err := valid.Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(o *Options)
		want   string
	}{
		{"sqlite", func(o *Options) { o.DatabaseURL = "sqlite://x.db" }, "bench needs a PostgreSQL database"},
		{"no database", func(o *Options) { o.DatabaseURL = " " }, "bench needs a PostgreSQL database"},
		{"bad url", func(o *Options) { o.DatabaseURL = "mysql://x" }, `database URL "mysql://x"`},
		{"unknown scenario", func(o *Options) { o.Scenarios = []string{"get-by-id", "nope"} }, `unknown scenario "nope" (known: get-by-id, list-tag,`},
		{"no scenario", func(o *Options) { o.Scenarios = []string{" ", ""} }, "--scenarios names none"},
		{"count", func(o *Options) { o.Count = 0 }, "--count must be at least 1, not 0"},
		{"connections", func(o *Options) { o.Connections = 4097 }, "--connections must be between 1 and 4096, not 4097"},
		{"duration", func(o *Options) { o.Duration = 0 }, "--duration must be positive, not 0s"},
		{"warmup", func(o *Options) { o.Warmup = -time.Second }, "--warmup must not be negative, not -1s"},
		{"rounds", func(o *Options) { o.Rounds = 0 }, "--rounds must be at least 1, not 0"},
		{"seeder", func(o *Options) { o.Seeder = nil }, "Options.Seeder is nil"},
	} {
		o := valid
		o.Scenarios = append([]string(nil), valid.Scenarios...)
		tc.change(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", tc.name, err, tc.want)
		}
	}
}

// TestBenchScenarioNames checks that the table names each scenario once and runs the
// writes after every read (a read must not meet the articles a create added), and that
// blank names in --scenarios are left out.
func TestBenchScenarioNames(t *testing.T) {
	seen := map[string]bool{}
	wrote := false
	for _, s := range scenarios {
		if seen[s.name] {
			t.Errorf("scenario %s is in the table twice", s.name)
		}
		seen[s.name] = true
		if wrote && !s.write {
			t.Errorf("scenario %s reads after a scenario that writes", s.name)
		}
		wrote = wrote || s.write
	}
	if names := ScenarioNames(); len(names) != len(scenarios) || names[0] != scenarios[0].name {
		t.Errorf("ScenarioNames() = %v, want the names of the table", names)
	}
	o := DefaultOptions()
	o.Scenarios = []string{" search", "", "create "}
	picked, err := o.pickedScenarios()
	if err != nil || len(picked) != 2 || picked[0].name != "search" || picked[1].name != "create" {
		t.Errorf("pickedScenarios of %q = %v, %v; want search then create", o.Scenarios, picked, err)
	}
}
