package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestMigrationChecksums: each applied migration's checksum is recorded; one recorded
// before checksums were is taken as this binary's (and recorded); a migration whose
// recorded checksum is not its file's makes MigrateUp and VerifyMigrations refuse, and
// status says which.
func TestMigrationChecksums(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		all, err := store.Migrations(s.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		var sums []string
		if err := s.DB().Raw("SELECT checksum FROM schema_migrations ORDER BY version").Scan(&sums).Error; err != nil {
			t.Fatal(err)
		}
		if len(sums) != len(all) {
			t.Fatalf("%d checksums for %d migrations", len(sums), len(all))
		}
		for i, m := range all {
			if sums[i] != m.Checksum() || len(sums[i]) != 64 {
				t.Errorf("migration %04d: checksum %q, want %q", m.Version, sums[i], m.Checksum())
			}
		}
		// Recorded before checksums were: taken as this binary's, and recorded.
		if err := s.DB().Exec("UPDATE schema_migrations SET checksum = NULL WHERE version = 2").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := s.MigrateUp(ctx); err != nil {
			t.Fatalf("MigrateUp with a checksum missing: %v", err)
		}
		var sum string
		if err := s.DB().Raw("SELECT checksum FROM schema_migrations WHERE version = 2").Scan(&sum).Error; err != nil || sum != all[1].Checksum() {
			t.Fatalf("checksum of 0002 after MigrateUp = %q, %v; want %q", sum, err, all[1].Checksum())
		}
		// Applied from another file.
		if err := s.DB().Exec("UPDATE schema_migrations SET checksum = ? WHERE version = 3", strings.Repeat("0", 64)).Error; err != nil {
			t.Fatal(err)
		}
		for name, check := range map[string]func() error{
			"MigrateUp":        func() error { _, err := s.MigrateUp(ctx); return err },
			"VerifyMigrations": func() error { return s.VerifyMigrations(ctx) },
		} {
			if err := check(); !errors.Is(err, store.ErrMigrationChanged) || !strings.Contains(err.Error(), "0003_title_search") {
				t.Errorf("%s with 0003 changed = %v, want ErrMigrationChanged naming 0003_title_search", name, err)
			}
		}
		states, err := s.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range states {
			if st.Changed != (st.Version == 3) {
				t.Errorf("status of %04d: changed = %v", st.Version, st.Changed)
			}
		}
	})
}

// TestFlushNotBlockedByMigration: a migration holding its lock does not stall the view
// flushes (the two once shared an advisory-lock key on PostgreSQL).
func TestFlushNotBlockedByMigration(t *testing.T) {
	s := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	a, err := s.CreateArticle(ctx, store.NewArticle{Title: "t", Content: "c", Author: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ViewArticle(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	tx := s.DB().Begin()
	defer tx.Rollback()
	if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", store.MigrationLockID).Error; err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.FlushViews(fctx); err != nil {
		t.Fatalf("FlushViews while a migration holds its lock: %v", err)
	}
}
