package cmd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/articlesd/articlesd/store"
)

// The checks of the settings (see settings): each says, in one line naming the setting,
// why a value cannot work.

func positive(key string, v any, _ Config) error {
	if d := v.(time.Duration); d <= 0 {
		return fmt.Errorf("%s must be a positive duration such as 30s, not %s", key, d)
	}
	return nil
}

func atLeast(n int64) func(string, any, Config) error {
	return func(key string, v any, _ Config) error {
		var got int64
		switch x := v.(type) {
		case int:
			got = int64(x)
		case int64:
			got = x
		}
		if got < n {
			return fmt.Errorf("%s must be at least %d, not %d", key, n, got)
		}
		return nil
	}
}

func checkDatabase(_ string, v any, _ Config) error {
	_, err := store.ParseURL(v.(string))
	return err
}

func checkLevel(_ string, v any, _ Config) error {
	_, err := parseLevel(v.(string))
	return err
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil || !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(s)) {
		return 0, fmt.Errorf("log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// checkListen tells whether a listen address can be listened on as far as its form
// goes: host:port or :port, the port a number from 0 to 65535 or a service name.
func checkListen(key string, v any, _ Config) error {
	a := v.(string)
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port or :port", key, a)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%s %q: port %q is not a number from 0 to 65535 nor a known service", key, a, port)
	}
	return nil
}

func checkOptionalListen(key string, v any, c Config) error {
	if v.(string) == "" {
		return nil
	}
	return checkListen(key, v, c)
}

func checkDrain(key string, v any, c Config) error {
	if d := v.(time.Duration); d < 0 || d >= c.ShutdownTimeout {
		return fmt.Errorf("%s must be at least 0 and shorter than shutdown-timeout (%s), not %s", key, c.ShutdownTimeout, d)
	}
	return nil
}

func checkSendBuffer(key string, v any, _ Config) error {
	if n := v.(int); n < 0 {
		return fmt.Errorf("%s must be 0 (the kernel's own sizing) or a size in bytes, not %d", key, n)
	}
	return nil
}

func checkRatio(key string, v any, _ Config) error {
	if r := v.(float64); r < 0 || r > 1 {
		return fmt.Errorf("%s must be between 0 and 1, not %v", key, r)
	}
	return nil
}

func checkLogFileSize(key string, v any, c Config) error {
	if n := v.(int); c.LogFile != "" && n < 1 {
		return fmt.Errorf("%s must be at least 1, not %d", key, n)
	}
	return nil
}

func checkLogFlush(key string, v any, _ Config) error {
	if d := v.(time.Duration); d < 0 || d > time.Minute {
		return fmt.Errorf("%s must be between 0 and 1m, not %s", key, d)
	}
	return nil
}

func checkAuth(key string, v any, _ Config) error {
	if a := v.(string); a != "on" && a != "off" {
		return fmt.Errorf("%s %q: want on or off", key, a)
	}
	return nil
}

func checkBootstrapToken(key string, v any, _ Config) error {
	if t := v.(string); t != "" && len(t) < 16 {
		return errors.New(key + " must be at least 16 characters long")
	}
	return nil
}

func checkRate(_ string, _ any, c Config) error {
	if c.RateLimit < 0 || c.RateBurst < 0 {
		return errors.New("rate-limit and rate-burst must not be negative")
	}
	return nil
}

func checkReadDatabase(key string, v any, c Config) error {
	raw := v.(string)
	if raw == "" {
		return nil
	}
	loc, err := store.ParseURL(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	primary, _ := store.ParseURL(c.DatabaseURL)
	if loc.Dialect != store.Postgres || primary.Dialect != store.Postgres {
		return fmt.Errorf("%s: read replicas are PostgreSQL's, beside a PostgreSQL database-url", key)
	}
	return nil
}

func checkProxies(key string, v any, _ Config) error {
	_, err := parseProxies(v.(string))
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// parseProxies reads a comma-separated list of addresses (one host each) and CIDRs.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR such as 10.0.0.0/8", item)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
