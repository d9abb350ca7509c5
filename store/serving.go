package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// A serving process makes itself known to the other processes on its database, so that
// `migrate down` can warn that it pulls tables from under them:
//   - on PostgreSQL by the application_name of its connections (which DBAs see too);
//   - on SQLite by a shared flock(2) on the database file, which SQLite's own locks
//     (fcntl) neither see nor disturb.

// serveApplicationName prefixes the application_name of a serving process's connections.
const serveApplicationName = "articlesd serve"

// servingName is the application_name of this process's connections: the prefix, the
// host and the process id, within PostgreSQL's 63 bytes.
func servingName() string {
	host, _ := os.Hostname()
	name := fmt.Sprintf("%s %s/%d", serveApplicationName, host, os.Getpid())
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// withApplicationName sets application_name on PostgreSQL settings that do not set it.
func withApplicationName(dsn, name string) string {
	if strings.Contains(dsn, "application_name") {
		return dsn
	}
	if !strings.Contains(dsn, "://") {
		return dsn + " application_name='" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(name) + "'"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// ServersConnected returns how many serving processes (other than this one) use the
// database: counted on PostgreSQL; on SQLite 1 means at least one.
func (s *Store) ServersConnected(ctx context.Context) (int, error) {
	if s.dialect == SQLite {
		busy, err := fileLockedShared(s.loc.DSN)
		if err != nil || !busy {
			return 0, err
		}
		return 1, nil
	}
	var n int
	err := s.db.WithContext(ctx).Raw(`SELECT count(DISTINCT application_name) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE ?`,
		serveApplicationName+" %").Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count servers: %w", s.classify(err))
	}
	return n, nil
}
