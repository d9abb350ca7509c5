package cmd

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestSettingsTable: the table of settings and Config agree field for field, and every
// flag they make says its default and its environment variable in --help.
func TestSettingsTable(t *testing.T) {
	fields := map[string]bool{}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		fields[ct.Field(i).Tag.Get("mapstructure")] = true
	}
	keys := map[string]bool{}
	for _, s := range settings {
		if keys[s.key] {
			t.Errorf("setting %s twice in the table", s.key)
		}
		keys[s.key] = true
		if !fields[s.key] && s.key != "config" {
			t.Errorf("setting %s has no field in Config", s.key)
		}
		if v, ok := (Config{}).value(s.key); ok && reflect.TypeOf(v) != reflect.TypeOf(s.def) {
			t.Errorf("setting %s: default of type %T, field of type %T", s.key, s.def, v)
		}
	}
	for f := range fields {
		if !keys[f] {
			t.Errorf("Config field %s has no setting", f)
		}
	}
	for path, want := range map[string]int{"serve": len(settings), "migrate": 3} {
		seen := map[string]bool{}
		cmd := subcommand(t, path)
		all := pflag.NewFlagSet("all", pflag.ContinueOnError)
		all.AddFlagSet(cmd.LocalFlags())
		all.AddFlagSet(cmd.InheritedFlags())
		all.VisitAll(func(f *pflag.Flag) {
			if _, ok := defaults[f.Name]; !ok {
				return
			}
			seen[f.Name] = true
			if want := "(env " + envVariable(f.Name); !strings.Contains(f.Usage, want) {
				t.Errorf("--%s: help %q does not name %s", f.Name, f.Usage, envVariable(f.Name))
			}
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" &&
				!strings.Contains(cmd.UsageString(), f.DefValue) {
				t.Errorf("--%s: the default %s is not in --help", f.Name, f.DefValue)
			}
		})
		if len(seen) != want {
			t.Errorf("%s has %d flags from the table, want %d", path, len(seen), want)
		}
	}
}
