package telemetry_test

import (
	"os"
	"testing"

	"github.com/articlesd/articlesd/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(sinkEnv) != "" {
		serveSink()
		return
	}
	os.Exit(storetest.Main(m))
}
