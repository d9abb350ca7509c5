package bench

import (
	"os"
	"testing"

	"github.com/articlesd/articlesd/store/storetest"
)

// TestMain reports the tests that skipped for want of PostgreSQL.
func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
