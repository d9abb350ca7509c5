package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// curlExample is a curl command of the README, written in backquotes.
var curlExample = regexp.MustCompile("`(curl [^`]*)`")

// TestReadmeExamples runs every curl example of the README as written, in order, on a
// fresh server reached at the README's localhost:8080 (rewritten to the test server's
// address only), with $TOKEN set as the quick start sets it: each must answer 2xx.
func TestReadmeExamples(t *testing.T) {
	clearEnv(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not on PATH")
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	examples := curlExample.FindAllStringSubmatch(string(readme), -1)
	if len(examples) < 7 {
		t.Fatalf("the README has %d curl examples, want one per operation", len(examples))
	}
	srv := startServer(t, serveConfig(storetest.URL(t, store.SQLite)))
	writes := 0
	for _, m := range examples {
		command := strings.ReplaceAll(m[1], "localhost:8080", srv.addr)
		if strings.Contains(command, "-X POST") || strings.Contains(command, "-X PUT") || strings.Contains(command, "-X DELETE") {
			writes++
			if !strings.Contains(command, `-H "Authorization: Bearer $TOKEN"`) {
				t.Errorf("a write example without the token: %s", m[1])
			}
		}
		cmd := exec.Command("bash", "-c", command+` -s -o /dev/null -w '%{http_code}'`)
		cmd.Env = append(os.Environ(), "TOKEN="+testToken, "PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil || !strings.HasPrefix(string(out), "2") {
			t.Errorf("%s\n  → %s (%v)", m[1], out, err)
		}
	}
	if writes < 3 {
		t.Errorf("%d write examples found, want create, update and delete", writes)
	}
}
