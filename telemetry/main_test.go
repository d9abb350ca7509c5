package telemetry_test

import (
	"os"
	"testing"

	"github.com/articlesd/articlesd/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
