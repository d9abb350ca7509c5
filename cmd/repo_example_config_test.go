package cmd

import (
	"reflect"
	"testing"
)

// TestExampleConfigMatchesDefaults keeps configs/articlesd.example.yaml honest: it must
// load without error and state exactly the defaults.
func TestExampleConfigMatchesDefaults(t *testing.T) {
	for k := range defaults {
		if k != "config" {
			t.Setenv(envVariable(k), "")
		}
	}
	root := NewRootCommand(BuildInfo{})
	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.ParseFlags([]string{"--config", "../configs/articlesd.example.yaml"}); err != nil {
		t.Fatal(err)
	}
	fromFile, err := loadConfig(serve)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}

	bare, _, _ := NewRootCommand(BuildInfo{}).Find([]string{"serve"})
	if err := bare.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	fromDefaults, err := loadConfig(bare)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFile, fromDefaults) {
		t.Errorf("example config\n%v\ndiffers from the defaults\n%v", fromFile, fromDefaults)
	}
}
