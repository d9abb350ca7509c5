package cmd

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is every setting of articlesd. Each key is a flag name, an ARTICLESD_*
// environment variable (upper case, dashes as underscores) and a key of the YAML config
// file; a flag beats the environment, which beats the file, which beats the default.
type Config struct {
	Addr              string        `mapstructure:"addr"`
	DatabaseURL       string        `mapstructure:"database-url"`
	DatabaseReadURL   string        `mapstructure:"database-read-url"`
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
	TrustedProxies string  `mapstructure:"trusted-proxies"`

	RequestTimeout time.Duration `mapstructure:"request-timeout"`
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
	for _, st := range settings {
		if st.env != "" {
			if err := v.BindEnv(st.key, envVariable(st.key), st.env); err != nil {
				return Config{}, err
			}
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
