package cmd

import (
	"os"
	"strings"
	"testing"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestNoPasswordPrinted runs the commands with database settings of every shape a
// password takes, none of which reach a database, and checks that neither the error nor
// anything written shows any part of the password or of the bootstrap token.
func TestNoPasswordPrinted(t *testing.T) {
	clearEnv(t)
	const left, right, token = "Lft7pw", "Rgt9pw", "Tok3n-very-secret-value"
	for _, settings := range []string{
		"postgres://u:" + left + "#" + right + "@127.0.0.1:1/db",
		"postgres://u:" + left + "/" + right + "@127.0.0.1:1/db",
		"postgres://u:123/" + left + right + "@127.0.0.1:1/db",
		"postgres://u:" + left + "%zz" + right + "@127.0.0.1:1/db",
		"postgres://u:" + left + right + "@127.0.0.1:99999999/db",
		"postgres://u@127.0.0.1:1/db?password=" + left + right,
		"host=127.0.0.1 port=1 user=app password=" + left + right + " dbname=x",
		"host=127.0.0.1 port=1 user=app password='" + left + " " + right + "' dbname=x",
	} {
		for _, args := range [][]string{
			{"serve", "--addr", "127.0.0.1:0", "--bootstrap-token", token, "--database-url", settings},
			{"migrate", "status", "--database-url", settings},
			{"token", "list", "--database-url=" + settings},
		} {
			stdout, stderr, err := run(t, args...)
			if err == nil {
				t.Fatalf("articlesd %s succeeded", strings.Join(redactArgs(args), " "))
			}
			for _, secret := range []string{left, right, token} {
				for what, text := range map[string]string{"error": err.Error(), "stdout": stdout, "stderr": stderr} {
					if strings.Contains(text, secret) {
						t.Errorf("articlesd %s: its %s shows a secret: %s", args[0], what, text)
					}
				}
			}
		}
	}
	cfg := serveConfig("host=db user=app password=" + left + right + " dbname=x")
	cfg.BootstrapToken = token
	if s := cfg.String(); strings.Contains(s, left+right) || strings.Contains(s, token) {
		t.Errorf("Config.String() shows a secret: %s", s)
	}
}

// TestPprofCmdlineRedacted: Go's profiler shows the process's command line; its secret
// flags are masked there.
func TestPprofCmdlineRedacted(t *testing.T) {
	clearEnv(t)
	saved := os.Args
	os.Args = []string{"articlesd", "serve", "--database-url", "postgres://app:S3cretPw@db/x",
		"--bootstrap-token=Tok3n-very-secret-value", "--log-level", "debug"}
	defer func() { os.Args = saved }()
	cfg := serveConfig(storetest.URL(t, store.SQLite))
	cfg.PprofAddr = freeAddr(t)
	startServer(t, cfg)
	code, body := get(t, "http://"+cfg.PprofAddr+"/debug/pprof/cmdline")
	want := strings.Join([]string{"articlesd", "serve", "--database-url", "postgres://app:xxxxx@db/x",
		"--bootstrap-token=xxxxx", "--log-level", "debug"}, "\x00")
	if code != 200 || body != want {
		t.Errorf("cmdline: %d %q, want 200 %q", code, body, want)
	}
}
