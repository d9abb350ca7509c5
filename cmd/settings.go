package cmd

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/articlesd/articlesd/store"
)

// Every setting of articlesd is one entry of settings: the entry gives its key (the
// flag, the key of the YAML config file, and ARTICLESD_KEY in the environment), its
// default, its help, the commands that have its flag, and its check. The flags, the
// defaults viper knows, the validation, the masking of secrets and the configuration
// reference (docs/configuration.md, which a test compares) all come from it.

// scope says which commands have a setting's flag.
type scope int

const (
	// serveOnly (the zero value): a flag of serve; other commands read it from the
	// environment and the config file.
	serveOnly scope = iota
	// everyCommand: a flag of every command (a persistent flag of the root).
	everyCommand
)

// setting is one entry of the table.
type setting struct {
	key   string
	def   any // string, bool, int, int64, float64 or time.Duration
	help  string
	scope scope
	// env is a standard variable read too (the ARTICLESD_ one wins).
	env string
	// secret: masked wherever the configuration or the command line is shown.
	secret bool
	// check reports, in one line naming the setting, why a value cannot work (nil: any
	// value of the type can).
	check func(key string, v any, c Config) error
}

var settings = []setting{
	{key: "config", def: "", scope: everyCommand, help: "YAML config file"},
	{key: "database-url", def: "", scope: everyCommand, secret: true, check: checkDatabase,
		help: "postgres://… or host=… dbname=… for PostgreSQL, sqlite://PATH or empty for the embedded database at ./articlesd.db"},
	{key: "log-level", def: "info", scope: everyCommand, check: checkLevel, help: "debug, info, warn or error"},
	{key: "database-read-url", def: "", secret: true, check: checkReadDatabase,
		help: "PostgreSQL read replicas (a multi-host URL with target_session_attrs=prefer-standby): listings, search, popular and reads by id go there; empty: the primary"},

	{key: "addr", def: ":8080", help: "listen address", check: checkListen},
	{key: "auto-migrate", def: true, help: "apply pending migrations before serving"},
	{key: "shutdown-timeout", def: 15 * time.Second, check: positive, help: "how long a graceful stop waits for requests in flight"},
	{key: "shutdown-drain", def: time.Second, check: checkDrain,
		help: "how long a graceful stop first keeps serving with Connection: close and /readyz 503"},
	{key: "read-header-timeout", def: 5 * time.Second, check: positive, help: "limit for reading request headers"},
	{key: "read-timeout", def: 30 * time.Second, check: positive, help: "limit for reading a whole request"},
	{key: "write-timeout", def: 30 * time.Second, check: positive, help: "limit for writing a response"},
	{key: "write-stall-timeout", def: 10 * time.Second, check: positive,
		help: "answers with articles are written 32 KiB at a time: longest one such write waits for a client that does not read"},
	{key: "send-buffer", def: 256 << 10, check: checkSendBuffer,
		help: "socket send buffer of API connections in bytes (SO_SNDBUF); 0: the kernel's autotuning"},
	{key: "idle-timeout", def: 120 * time.Second, check: positive, help: "how long a keep-alive connection may idle"},
	{key: "max-body-bytes", def: int64(1 << 20), check: atLeast(1024), help: "largest request body accepted; larger ones get 413"},
	{key: "db-max-conns", def: 8, check: atLeast(1), help: "PostgreSQL connection pool size"},
	{key: "request-timeout", def: 5 * time.Second, check: positive,
		help: "bound on one API request, database calls included: past it the answer is 503"},

	{key: "metrics", def: true, help: "serve Prometheus metrics at /metrics"},
	{key: "metrics-addr", def: "", check: checkOptionalListen, help: "also serve /metrics on this separate address"},
	{key: "pprof-addr", def: "", check: checkOptionalListen, help: "serve Go's profiler (/debug/pprof/) on this separate address; off when empty"},
	{key: "otlp-endpoint", def: "", env: "OTEL_EXPORTER_OTLP_ENDPOINT", help: "OTLP gRPC trace collector, host:port or URL; empty: no tracing"},
	{key: "otlp-insecure", def: true, help: "send traces without TLS when the endpoint is host:port"},
	{key: "trace-sample-ratio", def: 1.0, check: checkRatio, help: "share of new traces recorded, 0 to 1 (an incoming traceparent's decision is kept)"},
	{key: "service-name", def: "articles-api", env: "OTEL_SERVICE_NAME", help: "service.name of the traces"},
	{key: "log-file", def: "", help: "also write logs to this file, rotated by size (what Promtail/Alloy ship to Loki)"},
	{key: "log-file-max-mb", def: 100, check: checkLogFileSize, help: "rotate the log file at this size"},
	{key: "log-flush", def: 100 * time.Millisecond, check: checkLogFlush,
		help: "longest an INFO or DEBUG log line waits to be written with others; 0: each at once (warnings and errors never wait)"},

	{key: "auth", def: "on", check: checkAuth, help: "on: POST, PUT and DELETE need an API token; off: writes are open (demos only)"},
	{key: "bootstrap-token", def: "", secret: true, check: checkBootstrapToken,
		help: "a token accepted besides the stored ones, at least 16 characters (for compose and tests)"},
	{key: "require-if-match", def: false, help: "answer 428 to PUT and DELETE without If-Match"},
	{key: "rate-limit", def: 0.0, check: checkRate, help: "requests per second per client address; 0: no limit"},
	{key: "rate-burst", def: 0, check: checkRate, help: "requests a client may burst above --rate-limit (default: the rate, at least 1)"},
	{key: "trusted-proxies", def: "", check: checkProxies,
		help: "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For or Forwarded names the client (logs, rate limit); empty: the peer is the client"},
}

// defaults holds every key's default, so that each key is known to viper (and so read
// from the environment) whether or not the running command has it as a flag.
var defaults = func() map[string]any {
	m := make(map[string]any, len(settings))
	for _, s := range settings {
		m[s.key] = s.def
	}
	return m
}()

// addFlags gives a flag set the flags of the settings of a scope, each with its default
// and its help, which names its environment variables.
func addFlags(fs *pflag.FlagSet, sc scope) {
	for _, s := range settings {
		if s.scope != sc {
			continue
		}
		help := s.help + " (env " + envVariable(s.key)
		if s.env != "" {
			help += " or " + s.env
		}
		help += ")"
		switch d := s.def.(type) {
		case string:
			fs.String(s.key, d, help)
		case bool:
			fs.Bool(s.key, d, help)
		case int:
			fs.Int(s.key, d, help)
		case int64:
			fs.Int64(s.key, d, help)
		case float64:
			fs.Float64(s.key, d, help)
		case time.Duration:
			fs.Duration(s.key, d, help)
		default:
			panic(fmt.Sprintf("setting %s: default of type %T", s.key, s.def))
		}
	}
}

// settingFields maps each key to the field of Config that holds it (by its mapstructure
// tag).
var settingFields = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if key := t.Field(i).Tag.Get("mapstructure"); key != "" {
			m[key] = i
		}
	}
	return m
}()

// value returns the value of a setting in a configuration ("config" is none of its fields).
func (c Config) value(key string) (any, bool) {
	i, ok := settingFields[key]
	if !ok {
		return nil, false
	}
	return reflect.ValueOf(c).Field(i).Interface(), true
}

// Validate reports the first setting that cannot work, in one line.
func (c Config) Validate() error {
	for _, s := range settings {
		if s.check == nil {
			continue
		}
		if v, ok := c.value(s.key); ok {
			if err := s.check(s.key, v, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// String prints the configuration with its secrets masked.
func (c Config) String() string {
	type plain Config // without this String method, so that %+v does not recurse
	v := reflect.ValueOf(&c).Elem()
	for _, s := range settings {
		if i, ok := settingFields[s.key]; ok && s.secret {
			if f := v.Field(i); f.String() != "" {
				f.SetString(maskSecret(s.key, f.String()))
			}
		}
	}
	return fmt.Sprintf("%+v", plain(c))
}

// maskSecret masks the value of a secret setting: database settings keep all but their
// passwords, tokens are masked whole.
func maskSecret(key, value string) string {
	if strings.HasSuffix(key, "-url") {
		return store.Redact(value)
	}
	return "xxxxx"
}

// isSecret tells the keys of secret settings.
func isSecret(key string) bool {
	for _, s := range settings {
		if s.key == key {
			return s.secret
		}
	}
	return false
}

// redactArgs returns a command line with the values of secret flags masked, in both
// --flag value and --flag=value.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i := 0; i < len(args); i++ {
		out[i] = args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "--") || !isSecret(name) {
			continue
		}
		if hasValue {
			out[i] = "--" + name + "=" + maskSecret(name, value)
		} else if i+1 < len(args) {
			out[i+1] = maskSecret(name, args[i+1])
			i++
		}
	}
	return out
}

// envVariable is the environment variable of a key: log-level → ARTICLESD_LOG_LEVEL.
func envVariable(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}
