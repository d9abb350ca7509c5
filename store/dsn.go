package store

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Database settings come as a URL (postgres://USER:PASSWORD@HOST/DB, sqlite://PATH) or,
// for PostgreSQL, as libpq's keyword/value settings (host=… user=… password=…), which
// pgx reads too. Whatever their shape, no error or log line may show a password: each
// message names the settings through Redact, never through a parser's own error text,
// which quotes the input (url.Parse answered `invalid port ":S3cret" after host` for a
// password holding '#').

// ParseURL reads database settings: a postgres:// or postgresql:// URL, or keyword/value
// settings, select PostgreSQL; sqlite://PATH (or an empty string, meaning ./articlesd.db)
// the embedded database.
func ParseURL(raw string) (Location, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Location{Dialect: SQLite, DSN: DefaultSQLitePath}, nil
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if isKeywordValue(raw) {
			if _, err := pgx.ParseConfig(raw); err != nil {
				return Location{}, fmt.Errorf("database settings %q: %s", Redact(raw), scrub(pgxReason(err), raw))
			}
			return Location{Dialect: Postgres, DSN: raw}, nil
		}
		return Location{}, fmt.Errorf("database URL %q: want postgres://…, host=… dbname=… or sqlite://PATH", Redact(raw))
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		path, _, _ := strings.Cut(rest, "?")
		if path == "" {
			return Location{}, fmt.Errorf("database URL %q: sqlite:// needs a file path, as in sqlite://articlesd.db", raw)
		}
		return Location{Dialect: SQLite, DSN: path}, nil
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil || misparsed(u, rest) {
			return Location{}, fmt.Errorf("database URL %q: not a valid URL; in the user name and password, "+
				"percent-encode : / ? # [ ] @ %% and spaces (%%3A %%2F %%3F %%23 %%5B %%5D %%40 %%25 %%20)", Redact(raw))
		}
		if _, err := pgx.ParseConfig(raw); err != nil {
			return Location{}, fmt.Errorf("database URL %q: %s", Redact(raw), scrub(pgxReason(err), raw))
		}
		return Location{Dialect: Postgres, DSN: raw}, nil
	default:
		return Location{}, fmt.Errorf("database URL %q: unsupported scheme %q (want postgres or sqlite)", Redact(raw), scheme)
	}
}

// misparsed tells a URL that parses, but not as written: an '@' after the host (a
// password holding '/', as in postgres://u:12/3@h/db, makes "u:12" the host).
func misparsed(u *url.URL, rest string) bool {
	at := strings.LastIndex(rest, "@")
	return at >= 0 && (u.User == nil || !strings.HasPrefix(rest[at+1:], u.Host))
}

// isKeywordValue tells libpq keyword/value settings (host=db dbname=x) from other text.
func isKeywordValue(s string) bool {
	key, _, ok := strings.Cut(s, "=")
	return ok && key != "" && !strings.ContainsAny(key, "/:")
}

// pgxReason is what pgx says of settings it cannot read, without its quotation of them.
func pgxReason(err error) string {
	msg := oneLine(err.Error())
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

// oneLine folds a driver's multi-line message (pgx puts the reason of each host tried on
// a line of its own, and sometimes its cause once more) into one line.
func oneLine(s string) string {
	var kept []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.Contains(strings.Join(kept, " "), line) {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, " ")
}

// redacted replaces a password wherever it is shown.
const redacted = "xxxxx"

// secretKeys are the settings whose values are secrets, as URL parameters or keywords.
var secretKeys = []string{"password", "sslpassword"}

// Redact hides the passwords of database settings so that they can be printed or logged:
// the password of a URL's user information (everything between the user's name and the
// last '@', however it is escaped), the password and sslpassword parameters of a URL and
// the password and sslpassword keywords of keyword/value settings.
func Redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if isKeywordValue(raw) {
			return redactKeywords(raw)
		}
		return raw
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		user, _, hasPassword := strings.Cut(rest[:at], ":")
		u, err := url.Parse(raw)
		switch {
		case err != nil || misparsed(u, rest):
			// Not the URL the user meant: the user name may hold the password.
			rest = redacted + rest[at:]
		case hasPassword:
			rest = user + ":" + redacted + rest[at:]
		}
	}
	if base, query, ok := strings.Cut(rest, "?"); ok {
		params := strings.Split(query, "&")
		for i, p := range params {
			key, _, _ := strings.Cut(p, "=")
			if k, err := url.QueryUnescape(key); err == nil && isSecretKey(k) {
				params[i] = key + "=" + redacted
			}
		}
		rest = base + "?" + strings.Join(params, "&")
	}
	return scheme + "://" + rest
}

func isSecretKey(k string) bool {
	for _, s := range secretKeys {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}

// redactKeywords masks the secret values of keyword/value settings: key=value, where
// the value may be 'quoted' with \' and \\ escapes, and spaces may surround '='.
func redactKeywords(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' || s[i] == '\n' {
			out.WriteByte(s[i])
			i++
			continue
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[start:i]
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			out.WriteString(s[start:i])
			continue
		}
		i++ // '='
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		valueStart := i
		if i < len(s) && s[i] == '\'' {
			for i++; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			i = min(i+1, len(s))
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
				i++
			}
		}
		if isSecretKey(key) {
			out.WriteString(key + "=" + redacted)
		} else {
			out.WriteString(s[start:valueStart] + s[valueStart:i])
		}
	}
	return out.String()
}

// passwords returns the secret values of database settings, as written and as meant
// (percent-decoded), so that scrub can hide them from any message.
func passwords(raw string) []string {
	var out []string
	add := func(p string) {
		if len(p) >= 3 { // shorter ones would blot out ports and digits at random
			out = append(out, p)
			if d, err := url.PathUnescape(p); err == nil && d != p {
				out = append(out, d)
			}
		}
	}
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok {
				add(p)
			}
		}
	}
	if cfg, err := pgx.ParseConfig(raw); err == nil {
		add(cfg.Password)
	}
	return out
}

// scrub hides in msg every password of the settings raw.
func scrub(msg, raw string) string {
	for _, p := range passwords(raw) {
		msg = strings.ReplaceAll(msg, p, redacted)
	}
	return msg
}
