package cmd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/articlesd/articlesd/store"
)

// Config is every setting of articlesd. Each key is a flag name, an ARTICLESD_*
// environment variable (upper case, dashes as underscores) and a key of the YAML config
// file; a flag beats the environment, which beats the file, which beats the default.
type Config struct {
	Addr              string        `mapstructure:"addr"`
	DatabaseURL       string        `mapstructure:"database-url"`
	LogLevel          string        `mapstructure:"log-level"`
	AutoMigrate       bool          `mapstructure:"auto-migrate"`
	ShutdownTimeout   time.Duration `mapstructure:"shutdown-timeout"`
	ShutdownDrain     time.Duration `mapstructure:"shutdown-drain"`
	ReadHeaderTimeout time.Duration `mapstructure:"read-header-timeout"`
	ReadTimeout       time.Duration `mapstructure:"read-timeout"`
	WriteTimeout      time.Duration `mapstructure:"write-timeout"`
	WriteStallTimeout time.Duration `mapstructure:"write-stall-timeout"`
	SendBuffer        int           `mapstructure:"send-buffer"`
	IdleTimeout       time.Duration `mapstructure:"idle-timeout"`
	MaxBodyBytes      int64         `mapstructure:"max-body-bytes"`
	DBMaxConns        int           `mapstructure:"db-max-conns"`

	Metrics          bool          `mapstructure:"metrics"`
	MetricsAddr      string        `mapstructure:"metrics-addr"`
	PprofAddr        string        `mapstructure:"pprof-addr"`
	OTLPEndpoint     string        `mapstructure:"otlp-endpoint"`
	OTLPInsecure     bool          `mapstructure:"otlp-insecure"`
	TraceSampleRatio float64       `mapstructure:"trace-sample-ratio"`
	ServiceName      string        `mapstructure:"service-name"`
	LogFile          string        `mapstructure:"log-file"`
	LogFileMaxMB     int           `mapstructure:"log-file-max-mb"`
	LogFlush         time.Duration `mapstructure:"log-flush"`

	Auth           string  `mapstructure:"auth"`
	BootstrapToken string  `mapstructure:"bootstrap-token"`
	RequireIfMatch bool    `mapstructure:"require-if-match"`
	RateLimit      float64 `mapstructure:"rate-limit"`
	RateBurst      int     `mapstructure:"rate-burst"`

	RequestTimeout time.Duration `mapstructure:"request-timeout"`
}

// defaults holds every key's default, so that each key is known to viper (and so
// read from the environment) whether or not the running command has it as a flag.
var defaults = map[string]any{
	"config":              "",
	"addr":                ":8080",
	"database-url":        "",
	"log-level":           "info",
	"auto-migrate":        true,
	"shutdown-timeout":    15 * time.Second,
	"shutdown-drain":      time.Second,
	"read-header-timeout": 5 * time.Second,
	"read-timeout":        30 * time.Second,
	"write-timeout":       30 * time.Second,
	"write-stall-timeout": 10 * time.Second,
	"send-buffer":         256 << 10,
	"idle-timeout":        120 * time.Second,
	"max-body-bytes":      int64(1 << 20),
	"db-max-conns":        8,
	"metrics":             true,
	"metrics-addr":        "",
	"pprof-addr":          "",
	"otlp-endpoint":       "",
	"otlp-insecure":       true,
	"trace-sample-ratio":  1.0,
	"service-name":        "articles-api",
	"log-file":            "",
	"log-file-max-mb":     100,
	"log-flush":           100 * time.Millisecond,
	"auth":                "on",
	"bootstrap-token":     "",
	"require-if-match":    false,
	"rate-limit":          0.0,
	"rate-burst":          0,
	"request-timeout":     5 * time.Second,
}

// standardEnv lists the OpenTelemetry variables read besides ARTICLESD_*; the
// ARTICLESD_ one wins when both are set.
var standardEnv = map[string]string{
	"otlp-endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
	"service-name":  "OTEL_SERVICE_NAME",
}

// envPrefix prefixes every environment variable articlesd reads.
const envPrefix = "ARTICLESD"

// loadConfig resolves the configuration of a command from its flags, the environment,
// the config file and the defaults, and validates it.
func loadConfig(cmd *cobra.Command) (Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	for key, std := range standardEnv {
		if err := v.BindEnv(key, envVariable(key), std); err != nil {
			return Config{}, err
		}
	}
	var bindErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if _, known := defaults[f.Name]; known {
			bindErr = errors.Join(bindErr, v.BindPFlag(f.Name, f))
		}
	})
	if bindErr != nil {
		return Config{}, bindErr
	}
	if file := v.GetString("config"); file != "" {
		if err := readConfigFile(v, file); err != nil {
			return Config{}, err
		}
	}
	for _, w := range unknownEnvironment(os.Environ()) {
		fmt.Fprintf(cmd.ErrOrStderr(), "articlesd: warning: %s\n", w)
	}
	var cfg Config
	if err := v.Unmarshal(&cfg); err != nil {
		return Config{}, fmt.Errorf("configuration: %s", decodeErrorText(err))
	}
	return cfg, cfg.Validate()
}

func readConfigFile(v *viper.Viper, file string) error {
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("config file %s: %w", file, errors.Unwrap(err))
	}
	v.SetConfigFile(file)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("config file %s: %s", file, firstLine(err.Error()))
	}
	fileKeys := viper.New()
	fileKeys.SetConfigFile(file)
	fileKeys.SetConfigType("yaml")
	_ = fileKeys.ReadInConfig()
	for _, k := range fileKeys.AllKeys() {
		if _, known := defaults[k]; !known || k == "config" {
			return fmt.Errorf("config file %s: unknown key %q (known: %s)", file, k, strings.Join(knownKeys(), ", "))
		}
	}
	return nil
}

func knownKeys() []string {
	var keys []string
	for k := range defaults {
		if k != "config" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// decodeErrorText folds the decoder's multi-line report into one line naming each bad key.
func decodeErrorText(err error) string {
	var parts []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "* "))
		if line != "" && !strings.HasPrefix(line, "decoding failed due to") {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, "; ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Validate reports the first setting that cannot work, in one line.
func (c Config) Validate() error {
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if _, err := store.ParseURL(c.DatabaseURL); err != nil {
		return err
	}
	if err := checkAddr("addr", c.Addr); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{
		"shutdown-timeout": c.ShutdownTimeout, "read-header-timeout": c.ReadHeaderTimeout,
		"read-timeout": c.ReadTimeout, "write-timeout": c.WriteTimeout, "idle-timeout": c.IdleTimeout,
		"request-timeout": c.RequestTimeout, "write-stall-timeout": c.WriteStallTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be a positive duration such as 30s, not %s", name, d)
		}
	}
	if c.ShutdownDrain < 0 || c.ShutdownDrain >= c.ShutdownTimeout {
		return fmt.Errorf("shutdown-drain must be at least 0 and shorter than shutdown-timeout (%s), not %s", c.ShutdownTimeout, c.ShutdownDrain)
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("max-body-bytes must be at least 1024, not %d", c.MaxBodyBytes)
	}
	if c.SendBuffer < 0 {
		return fmt.Errorf("send-buffer must be 0 (the kernel's own sizing) or a size in bytes, not %d", c.SendBuffer)
	}
	if c.DBMaxConns < 1 {
		return fmt.Errorf("db-max-conns must be at least 1, not %d", c.DBMaxConns)
	}
	if c.TraceSampleRatio < 0 || c.TraceSampleRatio > 1 {
		return fmt.Errorf("trace-sample-ratio must be between 0 and 1, not %v", c.TraceSampleRatio)
	}
	for name, a := range map[string]string{"metrics-addr": c.MetricsAddr, "pprof-addr": c.PprofAddr} {
		if a == "" {
			continue
		}
		if err := checkAddr(name, a); err != nil {
			return err
		}
	}
	if c.Auth != "on" && c.Auth != "off" {
		return fmt.Errorf("auth %q: want on or off", c.Auth)
	}
	if c.BootstrapToken != "" && len(c.BootstrapToken) < 16 {
		return errors.New("bootstrap-token must be at least 16 characters long")
	}
	if c.RateLimit < 0 || c.RateBurst < 0 {
		return fmt.Errorf("rate-limit and rate-burst must not be negative")
	}
	if c.LogFlush < 0 || c.LogFlush > time.Minute {
		return fmt.Errorf("log-flush must be between 0 and 1m, not %s", c.LogFlush)
	}
	if c.LogFile != "" && c.LogFileMaxMB < 1 {
		return fmt.Errorf("log-file-max-mb must be at least 1, not %d", c.LogFileMaxMB)
	}
	return nil
}

// checkAddr tells whether a listen address can be listened on as far as its form goes:
// host:port or :port, the port a number from 0 to 65535 or a service name.
func checkAddr(name, a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port or :port", name, a)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%s %q: port %q is not a number from 0 to 65535 nor a known service", name, a, port)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil || !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(s)) {
		return 0, fmt.Errorf("log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// secretFlags are the settings whose values are, or may hold, secrets.
var secretFlags = map[string]bool{"database-url": true, "bootstrap-token": true}

// redactArgs returns a command line with the values of secret flags masked (database
// settings through store.Redact, tokens whole), in both --flag value and --flag=value.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	mask := func(flag, value string) string {
		if flag == "database-url" {
			return store.Redact(value)
		}
		return "xxxxx"
	}
	for i := 0; i < len(args); i++ {
		out[i] = args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "--") || !secretFlags[name] {
			continue
		}
		if hasValue {
			out[i] = "--" + name + "=" + mask(name, value)
		} else if i+1 < len(args) {
			out[i+1] = mask(name, args[i+1])
			i++
		}
	}
	return out
}

// String prints the configuration with the database password masked.
func (c Config) String() string {
	type plain Config // without this String method, so that %+v does not recurse
	c.DatabaseURL = store.Redact(c.DatabaseURL)
	if c.BootstrapToken != "" {
		c.BootstrapToken = "xxxxx"
	}
	return fmt.Sprintf("%+v", plain(c))
}

// testEnvPrefixes are the environment variables of the test suite (README), which are
// no settings of articlesd's.
var testEnvPrefixes = []string{envPrefix + "_TEST_", envPrefix + "_REQUIRE_", envPrefix + "_BENCH_"}

// unknownEnvironment warns of ARTICLESD_* variables that set nothing: a misspelt one
// (ARTICLESD_LOG_LEVLE) is otherwise ignored in silence. Empty ones are not reported:
// they set nothing anyway.
func unknownEnvironment(environ []string) []string {
	known := map[string]bool{}
	for k := range defaults {
		known[envVariable(k)] = true
	}
	var warnings []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix+"_") || known[name] || value == "" ||
			slices.ContainsFunc(testEnvPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		w := "unknown environment variable " + name + " (ignored)"
		if near := nearest(name, known); near != "" {
			w += "; did you mean " + near + "?"
		}
		warnings = append(warnings, w)
	}
	slices.Sort(warnings)
	return warnings
}

// nearest returns the known name closest to name, if it is a few edits away.
func nearest(name string, known map[string]bool) string {
	best, bestDist := "", 4
	for k := range known {
		if d := editDistance(name, k); d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// envVariable is the environment variable of a key: log-level → ARTICLESD_LOG_LEVEL.
func envVariable(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}
