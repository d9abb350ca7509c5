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
		// restarting; 53300: too many connections; 57014: statement timeout.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") ||
			pgErr.Code == "53300" || pgErr.Code == "57014"
	}
	// The embedded database: another process holds the write lock past the busy timeout.
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}
