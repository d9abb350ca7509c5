package cmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

func TestBadConfiguration(t *testing.T) {
	clearEnv(t)
	sqliteURL := storetest.URL(t, store.SQLite)
	unknownKey := writeFile(t, "unknown.yaml", "addr: \":7000\"\ncolour: blue\n")
	configKey := writeFile(t, "config.yaml", "config: other.yaml\n")
	badYAML := writeFile(t, "bad.yaml", "addr: [\":7000\"\nlog-level: warn\n")
	badDuration := writeFile(t, "duration.yaml", "shutdown-timeout: soon\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")

	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		contains []string
		prefix   string
	}{
		{
			name:     "unsupported scheme",
			args:     []string{"migrate", "status", "--database-url", "mysql://x"},
			contains: []string{`unsupported scheme "mysql"`},
		},
		{
			name:     "URL without scheme",
			args:     []string{"migrate", "status", "--database-url", "articles.db"},
			contains: []string{`want postgres://…, host=… dbname=… or sqlite://PATH`},
		},
		{
			name:   "unreachable postgres",
			args:   []string{"migrate", "status", "--database-url", "postgres://u:secret@127.0.0.1:1/x?sslmode=disable"},
			prefix: "connect to postgres at postgres://u:xxxxx@127.0.0.1:1/x",
		},
		{
			name:   "unreachable postgres from the environment",
			args:   []string{"seed"},
			env:    map[string]string{"ARTICLESD_DATABASE_URL": "postgres://u:secret@127.0.0.1:1/x?sslmode=disable"},
			prefix: "connect to postgres at postgres://u:xxxxx@127.0.0.1:1/x",
		},
		{
			name:     "bad log level",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--log-level", "loud"},
			contains: []string{`log-level "loud"`},
		},
		{
			name:     "bad log level from the environment",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0"},
			env:      map[string]string{"ARTICLESD_LOG_LEVEL": "verbose"},
			contains: []string{`log-level "verbose"`},
		},
		{
			name:     "unknown key in config file",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--config", unknownKey},
			contains: []string{"config file " + unknownKey, `unknown key "colour"`},
		},
		{
			name:     "config key in config file",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--config", configKey},
			contains: []string{`unknown key "config"`},
		},
		{
			name:     "config file is not YAML",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--config", badYAML},
			contains: []string{"config file " + badYAML},
		},
		{
			name:     "missing config file",
			args:     []string{"migrate", "status", "--database-url", sqliteURL, "--config", missing},
			contains: []string{"config file " + missing, "no such file or directory"},
		},
		{
			name:     "missing config file from the environment",
			args:     []string{"migrate", "status", "--database-url", sqliteURL},
			env:      map[string]string{"ARTICLESD_CONFIG": missing},
			contains: []string{"config file " + missing, "no such file or directory"},
		},
		{
			name:     "bad addr",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "nonsense"},
			contains: []string{`addr "nonsense"`},
		},
		{
			name:     "zero shutdown timeout",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--shutdown-timeout", "0s"},
			contains: []string{"shutdown-timeout must be a positive duration", "not 0s"},
		},
		{
			name:     "negative read timeout from the environment",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0"},
			env:      map[string]string{"ARTICLESD_READ_TIMEOUT": "-1s"},
			contains: []string{"read-timeout must be a positive duration"},
		},
		{
			name:     "small body limit",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--max-body-bytes", "10"},
			contains: []string{"max-body-bytes must be at least 1024, not 10"},
		},
		{
			name:     "negative log flush",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--log-flush", "-1s"},
			contains: []string{"log-flush must be between 0 and 1m, not -1s"},
		},
		{
			name:     "no connections",
			args:     []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--db-max-conns", "0"},
			contains: []string{"db-max-conns must be at least 1, not 0"},
		},
		{
			name:   "duration that does not parse in the config file",
			args:   []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0", "--config", badDuration},
			prefix: "configuration: 'shutdown-timeout' time: invalid duration",
		},
		{
			name:   "number that does not parse from the environment",
			args:   []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0"},
			env:    map[string]string{"ARTICLESD_DB_MAX_CONNS": "many"},
			prefix: "configuration: 'db-max-conns' cannot parse value as 'int'",
		},
		{
			name:   "duration that does not parse from the environment",
			args:   []string{"serve", "--database-url", sqliteURL, "--addr", "127.0.0.1:0"},
			env:    map[string]string{"ARTICLESD_SHUTDOWN_TIMEOUT": "soon"},
			prefix: "configuration: 'shutdown-timeout' time: invalid duration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var (
				stdout, stderr string
				err            error
			)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("articlesd %v panicked: %v", tt.args, p)
					}
				}()
				stdout, stderr, err = runWithin(t, 10*time.Second, tt.args...)
			}()
			if err == nil {
				t.Fatalf("articlesd %v: no error", tt.args)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error has several lines: %q", msg)
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("error leaks the password: %q", msg)
			}
			for _, want := range tt.contains {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if tt.prefix != "" && !strings.HasPrefix(msg, tt.prefix) {
				t.Errorf("error %q does not start with %q", msg, tt.prefix)
			}
			// main prints the error once; cobra prints neither it nor the usage.
			if stdout != "" || stderr != "" {
				t.Errorf("articlesd %v wrote stdout %q, stderr %q; want nothing", tt.args, stdout, stderr)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "articlesd.yaml", strings.Join([]string{
		`log-level: warn`,
		`addr: ":7000"`,
		`shutdown-timeout: 2s`,
		`auto-migrate: false`,
		`max-body-bytes: 4096`,
		``,
	}, "\n"))
	serve := []string{"serve"}

	type want struct {
		addr     string
		level    string
		shutdown time.Duration
		migrate  bool
		body     int64
	}
	defaultsOnly := want{":8080", "info", 15 * time.Second, true, 1 << 20}
	fromFile := want{":7000", "warn", 2 * time.Second, false, 4096}
	fromEnv := want{":7001", "error", 3 * time.Second, true, 8192}
	fromFlags := want{":7002", "debug", 4 * time.Second, false, 16384}
	env := map[string]string{
		"ARTICLESD_ADDR":             ":7001",
		"ARTICLESD_LOG_LEVEL":        "error",
		"ARTICLESD_SHUTDOWN_TIMEOUT": "3s",
		"ARTICLESD_AUTO_MIGRATE":     "true",
		"ARTICLESD_MAX_BODY_BYTES":   "8192",
	}
	flags := []string{"--addr", ":7002", "--log-level", "debug", "--shutdown-timeout", "4s", "--auto-migrate=false", "--max-body-bytes", "16384"}

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want want
	}{
		{name: "defaults", want: defaultsOnly},
		{name: "file by flag", args: []string{"--config", file}, want: fromFile},
		{name: "file by env", env: map[string]string{"ARTICLESD_CONFIG": file}, want: fromFile},
		{name: "env beats file", env: env, args: []string{"--config", file}, want: fromEnv},
		{name: "env beats default", env: env, want: fromEnv},
		{name: "flag beats env and file", env: env, args: append([]string{"--config", file}, flags...), want: fromFlags},
		{name: "flag beats file", args: append([]string{"--config", file}, flags...), want: fromFlags},
		{name: "flag beats default", args: flags, want: fromFlags},
		// A flag given its default value is still a flag: it beats the file.
		{
			name: "flag equal to its default beats file",
			args: []string{"--config", file, "--addr", ":8080", "--log-level", "info", "--shutdown-timeout", "15s", "--auto-migrate=true", "--max-body-bytes", "1048576"},
			want: defaultsOnly,
		},
		// The persistent flags of the root may come before the subcommand's own.
		{
			name: "mixed sources",
			env:  map[string]string{"ARTICLESD_SHUTDOWN_TIMEOUT": "3s"},
			args: []string{"--log-level", "debug", "--config", file},
			want: want{":7000", "debug", 3 * time.Second, false, 4096},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			// Every test in this file uses a database URL; here none is opened.
			cfg, err := loadFor(t, serve, append([]string{"--database-url", "sqlite://unused.db"}, tt.args...)...)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			got := want{cfg.Addr, cfg.LogLevel, cfg.ShutdownTimeout, cfg.AutoMigrate, cfg.MaxBodyBytes}
			if got != tt.want {
				t.Fatalf("config = %+v, want %+v", got, tt.want)
			}
			// Keys nobody set keep their defaults.
			if cfg.ReadTimeout != 30*time.Second || cfg.IdleTimeout != 120*time.Second || cfg.DBMaxConns != 8 || cfg.LogFlush != 100*time.Millisecond {
				t.Fatalf("untouched keys changed: %+v", cfg)
			}
		})
	}
}

func TestConfigDatabaseURLPrecedence(t *testing.T) {
	file := writeFile(t, "db.yaml", "database-url: sqlite://from-file.db\n")
	tests := []struct {
		name string
		path []string
		env  string
		args []string
		want string
	}{
		{name: "default is the embedded database", path: []string{"migrate", "status"}, want: ""},
		{name: "file", path: []string{"migrate", "status"}, args: []string{"--config", file}, want: "sqlite://from-file.db"},
		{name: "env beats file", path: []string{"seed"}, env: "sqlite://from-env.db", args: []string{"--config", file}, want: "sqlite://from-env.db"},
		{name: "flag beats env", path: []string{"migrate"}, env: "sqlite://from-env.db", args: []string{"--config", file, "--database-url", "sqlite://from-flag.db"}, want: "sqlite://from-flag.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("ARTICLESD_DATABASE_URL", tt.env)
			cfg, err := loadFor(t, tt.path, tt.args...)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if cfg.DatabaseURL != tt.want {
				t.Fatalf("database URL = %q, want %q", cfg.DatabaseURL, tt.want)
			}
		})
	}
}

// configStringChild names the environment variable that makes TestConfigString run its
// checks in a child process (see inChild).
const configStringChild = "ARTICLESD_TEST_CHILD_CONFIG_STRING"

// inChild runs the test named name again in a child test process with env set, and
// fails the test with the child's output if the child fails. A check that can crash the
// whole process (a stack overflow is not recoverable) fails only its own test this way.
func inChild(t *testing.T, name, env string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	c.Env = append(os.Environ(), env+"=1")
	out, err := c.CombinedOutput()
	if err != nil {
		out := string(out)
		if i := strings.Index(out, "fatal error:"); i >= 0 {
			// A crash: its first lines and the top of the stack say enough.
			out = strings.Join(firstLines(out[i:], 30), "\n")
		}
		t.Fatalf("child test process failed (%v):\n%s", err, out)
	}
}

func firstLines(s string, n int) []string {
	ls := strings.SplitN(s, "\n", n+1)
	return ls[:min(n, len(ls))]
}

func TestConfigString(t *testing.T) {
	if os.Getenv(configStringChild) == "" {
		inChild(t, "TestConfigString", configStringChild)
		return
	}
	cfg := serveConfig("postgres://app:s3cret-pw@db.example:5432/articles?sslmode=disable")
	s := cfg.String()
	if strings.Contains(s, "s3cret-pw") {
		t.Fatalf("Config.String() leaks the password: %s", s)
	}
	for _, want := range []string{"postgres://app:xxxxx@db.example:5432/articles?sslmode=disable", "Addr:127.0.0.1:0", "LogLevel:info"} {
		if !strings.Contains(s, want) {
			t.Errorf("Config.String() = %s, want it to contain %q", s, want)
		}
	}
	if cfg.DatabaseURL != "postgres://app:s3cret-pw@db.example:5432/articles?sslmode=disable" {
		t.Fatalf("String changed the configuration: %q", cfg.DatabaseURL)
	}
	// fmt and slog use String too.
	if s := fmt.Sprint(cfg); strings.Contains(s, "s3cret-pw") {
		t.Fatalf("fmt.Sprint(cfg) leaks the password: %s", s)
	}

	q := serveConfig("postgres://app@db/articles?password=s3cret-pw")
	if s := q.String(); strings.Contains(s, "s3cret-pw") || !strings.Contains(s, "password=xxxxx") {
		t.Fatalf("Config.String() with a password parameter = %s", s)
	}
}

// TestUnknownEnvironmentWarned: an ARTICLESD_* variable that sets nothing is reported at
// start with the name it was probably meant to be; the suite's own are not.
func TestUnknownEnvironmentWarned(t *testing.T) {
	clearEnv(t)
	t.Setenv("ARTICLESD_LOG_LEVLE", "debug")
	t.Setenv("ARTICLESD_TEST_SOMETHING", "1")
	t.Setenv("ARTICLESD_SHUTDOWN_TIMOUT", "3s")
	_, stderr, err := run(t, "migrate", "status", "--database-url", "sqlite://"+filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	want := "articlesd: warning: unknown environment variable ARTICLESD_LOG_LEVLE (ignored); did you mean ARTICLESD_LOG_LEVEL?\n" +
		"articlesd: warning: unknown environment variable ARTICLESD_SHUTDOWN_TIMOUT (ignored); did you mean ARTICLESD_SHUTDOWN_TIMEOUT?\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
}
