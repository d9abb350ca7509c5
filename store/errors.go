package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// classify marks errors that mean "the database is not there or too slow right now"
// with ErrUnavailable, keeping the original error for the log. A write refused for want
// of space is ErrStorageFull too, and the store remembers it (see Ready).
func (s *Store) classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	if storageFull(err) {
		s.full.Store(true)
		return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrStorageFull, err)
	}
	if schemaMissing(err) {
		return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrSchema, err)
	}
	if unavailable(err) {
		if r := refusal(err); r != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, r)
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// schemaMissing tells a statement that names a table or column the database lacks:
// PostgreSQL's undefined_table (42P01) and undefined_column (42703), SQLite's "no such
// table" and "no such column". The queries are this binary's, so the schema is behind it.
func schemaMissing(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "42P01" || pgErr.Code == "42703"
	}
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "no such column")
}

// storageFull tells a write refused for want of space: SQLITE_FULL ("database or disk is
// full", code 13), PostgreSQL's disk_full (53100), or ENOSPC itself.
func storageFull(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "53100"
	}
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "SQLITE_FULL")
}

func unavailable(err error) bool {
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr), errors.As(err, &connectErr),
		pgconn.Timeout(err):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-03: the server is shutting down or
		// restarting; 53300: too many connections; 57014: statement timeout; 25006: a
		// write reached a server that is (now) a standby, as during a failover.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") ||
			pgErr.Code == "53300" || pgErr.Code == "57014" || pgErr.Code == "25006"
	}
	// The embedded database: another process holds the write lock past the busy timeout.
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}

// RefusedError is a database host's refusal of a connection: the database is not there
// (3D000: a standby that has not replayed its CREATE DATABASE yet), the password is wrong
// (28P01) or the role may not connect (42501). pgx tries no host after one that refuses
// so: the hosts listed after it in a multi-host URL are not tried.
type RefusedError struct {
	// Host is the address that refused, "10.0.0.12:5432 (db2)".
	Host string
	// Reason is what the server said, with its SQLSTATE.
	Reason string
	// Untried tells that later hosts of the URL were not tried for it.
	Untried bool
	err     error
}

func (e *RefusedError) Error() string {
	msg := "database host " + e.Host + " refused the connection: " + e.Reason
	if e.Untried {
		msg += " (the hosts after it were not tried: pgx stops at a host that refuses)"
	}
	return msg
}

func (e *RefusedError) Unwrap() error { return e.err }

// refusal finds, in a failed connection attempt, the host that refused it (nil when none
// did: every host was unreachable, say).
func refusal(err error) *RefusedError {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return nil
	}
	attempts := []error{ce.Unwrap()}
	if joined, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
		attempts = joined.Unwrap()
	}
	for _, attempt := range attempts {
		var pgErr *pgconn.PgError
		if !errors.As(attempt, &pgErr) || !stopsFailover(pgErr.Code) {
			continue
		}
		// Each attempt reads "ADDRESS (HOSTNAME): server error: ...".
		host, _, _ := strings.Cut(attempt.Error(), ": ")
		return &RefusedError{Host: host, Untried: !isLastHost(ce.Config, host),
			Reason: pgErr.Severity + ": " + pgErr.Message + " (SQLSTATE " + pgErr.Code + ")", err: err}
	}
	return nil
}

// isLastHost tells whether "ADDRESS:PORT (HOSTNAME)" is the last host of a configuration.
func isLastHost(c *pgconn.Config, host string) bool {
	last, port := c.Host, c.Port
	if n := len(c.Fallbacks); n > 0 {
		last, port = c.Fallbacks[n-1].Host, c.Fallbacks[n-1].Port
	}
	return strings.HasSuffix(host, fmt.Sprintf(":%d (%s)", port, last))
}

// stopsFailover tells the SQLSTATEs after which pgx tries no further host.
func stopsFailover(code string) bool {
	return code == "28P01" || code == "3D000" || code == "42501"
}
