package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

//go:embed migrations
var migrationFiles embed.FS

// Migration is one versioned schema change, with the SQL that applies and reverts it.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

// MigrationState is a migration and when it was applied (nil: pending).
type MigrationState struct {
	Migration
	AppliedAt *time.Time
	// Changed says that the applied file's checksum is not this migration's.
	Changed bool
}

// schemaMigration is the row that records an applied migration.
type schemaMigration struct {
	Version   int       `gorm:"column:version;primaryKey"`
	Name      string    `gorm:"column:name"`
	AppliedAt time.Time `gorm:"column:applied_at"`
	// Checksum is the SHA-256 of the up file that was applied (see Migration.Checksum).
	Checksum *string `gorm:"column:checksum"`
}

// ErrMigrationChanged says that a migration the database applied is not the file of the
// same version this binary carries: the schema may not be what the binary expects.
var ErrMigrationChanged = errors.New("store: an applied migration differs from this binary's")

// Checksum is the hex SHA-256 of a migration's up SQL, as recorded when it is applied.
func (m Migration) Checksum() string {
	sum := sha256.Sum256([]byte(m.Up))
	return hex.EncodeToString(sum[:])
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// migrationLockID is the PostgreSQL advisory lock that keeps two processes from
// migrating at once (two replicas starting together, say).
const migrationLockID = 0x61727469636c6573 // "articles"

// Migrations returns the migrations for a dialect in version order, read from the files
// embedded in the binary: migrations/DIALECT/NNNN_name.up.sql and .down.sql.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		name := e.Name()
		base, dir2, ok := cutMigrationName(name)
		if !ok {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.up.sql or NNNN_name.down.sql", name)
		}
		num, label, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: version %q is not a positive number", name, num)
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		m := byVersion[v]
		if m == nil {
			m = &Migration{Version: v, Name: label}
			byVersion[v] = m
		}
		if dir2 == "up" {
			m.Up = string(body)
		} else {
			m.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migration %04d_%s: both .up.sql and .down.sql are needed", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func cutMigrationName(name string) (base, direction string, ok bool) {
	if b, found := strings.CutSuffix(name, ".up.sql"); found {
		return b, "up", true
	}
	if b, found := strings.CutSuffix(name, ".down.sql"); found {
		return b, "down", true
	}
	return "", "", false
}

func (s *Store) ensureMigrationTable(ctx context.Context) error {
	ts := "TIMESTAMPTZ"
	if s.dialect == SQLite {
		ts = "DATETIME"
	}
	db := s.db.WithContext(ctx)
	err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at ` + ts + ` NOT NULL,
		checksum   TEXT)`).Error
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	// Tables made before checksums were recorded get the column.
	if !db.Migrator().HasColumn(&schemaMigration{}, "checksum") {
		if err := db.Exec("ALTER TABLE schema_migrations ADD COLUMN checksum TEXT").Error; err != nil {
			return fmt.Errorf("add schema_migrations.checksum: %w", err)
		}
	}
	return nil
}

// verifyApplied checks every applied migration against this binary's file of the same
// version. A migration recorded before checksums were (checksum NULL) is taken to be
// this binary's file, and its checksum is recorded now: trust on first use.
func verifyApplied(tx *gorm.DB, all []Migration, have map[int]schemaMigration) error {
	for _, m := range all {
		r, ok := have[m.Version]
		if !ok {
			continue
		}
		sum := m.Checksum()
		if r.Checksum == nil {
			if err := tx.Model(&schemaMigration{}).Where("version = ?", m.Version).Update("checksum", sum).Error; err != nil {
				return fmt.Errorf("record the checksum of migration %04d: %w", m.Version, err)
			}
			continue
		}
		if *r.Checksum != sum {
			return fmt.Errorf("%w: %04d_%s was applied from a file with SHA-256 %.12s…, this binary's is %.12s…: "+
				"restore the file as it was applied, or move the change to a new migration", ErrMigrationChanged, m.Version, m.Name, *r.Checksum, sum)
		}
	}
	return nil
}

// MigrationStatus lists every known migration with the time it was applied, if it was.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	all, err := Migrations(s.dialect)
	if err != nil {
		return nil, err
	}
	if err := s.ensureMigrationTable(ctx); err != nil {
		return nil, err
	}
	applied, err := appliedMigrations(s.db.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]MigrationState, len(all))
	for i, m := range all {
		out[i].Migration = m
		if r, ok := applied[m.Version]; ok {
			at := r.AppliedAt.UTC()
			out[i].AppliedAt = &at
			out[i].Changed = r.Checksum != nil && *r.Checksum != m.Checksum()
		}
	}
	return out, nil
}

func appliedMigrations(db *gorm.DB) (map[int]schemaMigration, error) {
	var rows []schemaMigration
	if err := db.Order("version").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	out := make(map[int]schemaMigration, len(rows))
	for _, r := range rows {
		out[r.Version] = r
	}
	return out, nil
}

// lock serialises migrations between processes on PostgreSQL for the rest of tx.
// SQLite needs nothing: its transactions start with an immediate write lock.
func (s *Store) lock(tx *gorm.DB) error {
	if s.dialect != Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockID).Error
}

// MigrateUp applies every pending migration, each in its own transaction, and returns
// the ones it applied.
func (s *Store) MigrateUp(ctx context.Context) ([]Migration, error) {
	all, err := Migrations(s.dialect)
	if err != nil {
		return nil, err
	}
	if err := s.ensureMigrationTable(ctx); err != nil {
		return nil, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.lock(tx); err != nil {
			return err
		}
		have, err := appliedMigrations(tx)
		if err != nil {
			return err
		}
		return verifyApplied(tx, all, have)
	})
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range all {
		applied := false
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := s.lock(tx); err != nil {
				return err
			}
			have, err := appliedMigrations(tx)
			if err != nil {
				return err
			}
			if _, ok := have[m.Version]; ok {
				return nil
			}
			if err := tx.Exec(m.Up).Error; err != nil {
				return err
			}
			applied = true
			sum := m.Checksum()
			return tx.Create(&schemaMigration{Version: m.Version, Name: m.Name, AppliedAt: now(), Checksum: &sum}).Error
		})
		if err != nil {
			return done, fmt.Errorf("migration %04d_%s up: %w", m.Version, m.Name, err)
		}
		if applied {
			done = append(done, m)
		}
	}
	return done, nil
}

// VerifyMigrations checks, without writing, that every applied migration whose checksum
// is recorded is this binary's file (ErrMigrationChanged if not). MigrateUp checks so too.
func (s *Store) VerifyMigrations(ctx context.Context) error {
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, st := range states {
		if st.Changed {
			return fmt.Errorf("%w: %04d_%s was applied from another file than this binary's: "+
				"restore the file as it was applied, or move the change to a new migration", ErrMigrationChanged, st.Version, st.Name)
		}
	}
	return nil
}

// checkSchema tells whether every migration this binary carries is applied (ErrSchema
// with ErrUnavailable if not). A schema ahead of the binary is fine: during a rolling
// upgrade the old replicas serve on the new schema until they are replaced.
func (s *Store) checkSchema(ctx context.Context) error {
	all, err := Migrations(s.dialect)
	if err != nil {
		return err
	}
	want := all[len(all)-1].Version
	var have int
	// The read pool: with read replicas, the store is ready on them alone (see Ready).
	err = s.rdb.WithContext(ctx).Raw("SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have).Error
	if err != nil && !schemaMissing(err) {
		return fmt.Errorf("read schema version: %w", s.classify(err))
	}
	if have < want {
		return fmt.Errorf("%w: %w: the database is at migration %d, this binary needs %d: run `articlesd migrate up`",
			ErrUnavailable, ErrSchema, have, want)
	}
	return nil
}

// MigrateDown reverts the most recently applied migration and returns it; nil when no
// migration is applied.
func (s *Store) MigrateDown(ctx context.Context) (*Migration, error) {
	all, err := Migrations(s.dialect)
	if err != nil {
		return nil, err
	}
	if err := s.ensureMigrationTable(ctx); err != nil {
		return nil, err
	}
	var reverted *Migration
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.lock(tx); err != nil {
			return err
		}
		have, err := appliedMigrations(tx)
		if err != nil {
			return err
		}
		for i := len(all) - 1; i >= 0; i-- {
			m := all[i]
			if _, ok := have[m.Version]; !ok {
				continue
			}
			if err := tx.Exec(m.Down).Error; err != nil {
				return fmt.Errorf("migration %04d_%s down: %w", m.Version, m.Name, err)
			}
			if err := tx.Delete(&schemaMigration{}, m.Version).Error; err != nil {
				return err
			}
			reverted = &m
			return nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return reverted, nil
}
