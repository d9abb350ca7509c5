package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Popular articles are ordered by popular_ranking, a copy of article_views rebuilt in
// bulk, rather than by indexes on article_views itself: with those, every flushed view
// was a row update that re-inserted its row into them, and under reads spread over many
// articles few views coalesce in a flush. A rebuild copies the counts into a table of
// its own, builds its indexes and swaps it in, so "popular" is ordered by the counts of
// the last rebuild; the views an answer shows are the current ones.
//
// How often: a rebuild is due rankingCost times its own last duration after it, at
// least rankingEveryMin and at most rankingEveryMax after it, and is skipped while
// article_views still holds what it was built from (rows, their sum of views, the
// largest id). So it costs a rankingCost-th of a core while views arrive (more once a
// rebuild takes longer than rankingEveryMax/rankingCost, 6 s: at a million articles under
// load, 6–8 s, about 3%) and one scan of article_views per period when they do not; the
// order is at most rankingEveryMax plus a rebuild and a view flush behind, on a small
// database about two seconds.
const (
	rankingCost     = 50
	rankingEveryMin = time.Second
	rankingEveryMax = 5 * time.Minute
)

// rankingEvery is how long after a rebuild that took took the next one is due.
func rankingEvery(took time.Duration) time.Duration {
	return min(max(rankingCost*took, rankingEveryMin), rankingEveryMax)
}

// rankingLock is the PostgreSQL advisory lock of a rebuild: one replica rebuilds, the
// others skip their turn.
const rankingLock = 0x706f70756c61726b // "populark"

// rankingTable returns the statements that make a ranking table called name, filled
// from article_views: the table, its fill, then its keys and indexes (built after the
// fill, which is faster than maintaining them row by row). On PostgreSQL autovacuum is
// off for it: the table is never updated and is replaced within minutes, a rebuild
// analyzes it itself, and a vacuum pass after each fill of a million rows would be work
// for nothing. They are migration 0011's for popular_ranking, and must stay so
// (TestRankingSchemaAsMigrated). On SQLite the indexes are built after the table has its
// final name, since SQLite cannot rename an index.
func rankingTable(d Dialect, name string) (create, fill string, indexes []string) {
	fill = "INSERT INTO " + name + " (article_id, views, created_at)\n    SELECT article_id, views, created_at FROM article_views"
	if d == Postgres {
		create = "CREATE TABLE " + name + ` (
    article_id BIGINT      NOT NULL,
    views      BIGINT      NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
) WITH (autovacuum_enabled = false)`
		indexes = []string{
			"ALTER TABLE " + name + " ADD CONSTRAINT " + name + "_pkey PRIMARY KEY (article_id)",
			"CREATE INDEX " + name + "_idx ON " + name + " (views DESC, created_at DESC, article_id DESC)",
			"CREATE INDEX " + name + "_day_idx ON " + name + "\n    (((created_at AT TIME ZONE 'UTC')::date), views DESC, created_at DESC, article_id DESC)",
		}
		return create, fill, indexes
	}
	create = "CREATE TABLE " + name + ` (
    article_id INTEGER  PRIMARY KEY,
    views      INTEGER  NOT NULL,
    created_at DATETIME NOT NULL
)`
	indexes = []string{"CREATE INDEX " + name + "_idx ON " + name + " (views DESC, created_at DESC, article_id DESC)"}
	return create, fill, indexes
}

// rankingSource is what a ranking was built from: a rebuild is skipped while
// article_views has the same.
type rankingSource struct {
	Rows, Views, MaxID int64
}

const rankingSourceSQL = "SELECT count(*), coalesce(sum(views), 0), coalesce(max(article_id), 0) FROM "

func readRankingSource(tx *gorm.DB, table string) (rankingSource, error) {
	var src rankingSource
	err := tx.Raw(rankingSourceSQL+table).Row().Scan(&src.Rows, &src.Views, &src.MaxID)
	return src, err
}

// RefreshPopular flushes the views counted here and rebuilds the ranking that orders
// popular articles now, whether or not it is due (what a bulk load ends with, and what
// tests call before asking for popular articles).
func (s *Store) RefreshPopular(ctx context.Context) error {
	if err := s.FlushViews(ctx); err != nil {
		return err
	}
	_, err := s.rebuildRanking(ctx, true)
	return err
}

// rebuildRanking rebuilds popular_ranking when it is due and article_views changed since
// it was built, or at once when force is set (under the lock all the same). It returns
// when the next rebuild will be due, counted from now.
func (s *Store) rebuildRanking(ctx context.Context, force bool) (time.Duration, error) {
	every := rankingEveryMin
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			if force {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(rankingLock)).Error; err != nil {
					return err
				}
			} else {
				var ours bool
				if err := tx.Raw("SELECT pg_try_advisory_xact_lock(?)", int64(rankingLock)).Row().Scan(&ours); err != nil {
					return err
				}
				if !ours {
					return nil // another replica is rebuilding it
				}
			}
		}
		var (
			at     time.Time
			tookMS int64
			built  rankingSource
		)
		err := tx.Raw("SELECT at, took_ms, rows, views, max_id FROM popular_ranking_built").Row().
			Scan(&at, &tookMS, &built.Rows, &built.Views, &built.MaxID)
		if err != nil {
			return fmt.Errorf("read when the ranking was built: %w", err)
		}
		every = rankingEvery(time.Duration(tookMS) * time.Millisecond)
		if !force {
			if since := time.Since(at); since < every {
				every -= since
				return nil
			}
			now, err := readRankingSource(tx, "article_views")
			if err != nil {
				return err
			}
			if now == built {
				return nil
			}
		}
		began := time.Now()
		src, err := s.buildRanking(tx)
		if err != nil {
			return err
		}
		took := time.Since(began)
		every = rankingEvery(took)
		s.log.Debug("popular ranking rebuilt", "articles", src.Rows, "took", took.Round(time.Millisecond))
		return tx.Exec("UPDATE popular_ranking_built SET at = ?, took_ms = ?, rows = ?, views = ?, max_id = ?",
			time.Now().UTC(), took.Milliseconds(), src.Rows, src.Views, src.MaxID).Error
	})
	if err != nil {
		return rankingEveryMin, fmt.Errorf("rebuild the popular ranking: %w", s.classify(err))
	}
	return every, nil
}

// buildRanking makes popular_ranking again from article_views, in transaction tx, and
// returns what it was built from (read from the copy, which views flushed meanwhile do
// not change). On PostgreSQL the new table is built whole under another name and swapped
// in at the end, so readers of the old one wait only for the swap, and for at most
// rankingSwapWait: a rebuild that cannot have the old table by then (a long transaction
// holds it) gives up and is retried at its next turn rather than queue every popular
// request behind it. On SQLite readers keep their snapshot while the single writer
// builds.
func (s *Store) buildRanking(tx *gorm.DB) (rankingSource, error) {
	const next = "popular_ranking_next"
	create, fill, indexes := rankingTable(s.dialect, next)
	stmts := []string{create, fill}
	if s.dialect == Postgres {
		// Each index built by one process: with PostgreSQL's default two parallel
		// workers the build took both cores of the README's machine, and reads by id
		// beside it had a p99 of 168 ms instead of 21 (wrk, 32 connections, a rebuild
		// at a million articles; it took no longer built alone).
		//
		// Its commit does not wait for the disk, since popular requests wait for the
		// swap's locks until it is done; a crash that loses the commit leaves the
		// previous ranking, whole.
		stmts = append([]string{"SET LOCAL max_parallel_maintenance_workers = 0", "SET LOCAL synchronous_commit = off"}, stmts...)
		stmts = append(stmts, indexes...)
		stmts = append(stmts, "ANALYZE "+next)
	}
	for _, stmt := range stmts {
		if err := tx.Exec(stmt).Error; err != nil {
			return rankingSource{}, err
		}
	}
	src, err := readRankingSource(tx, next)
	if err != nil {
		return rankingSource{}, err
	}
	if s.dialect == Postgres {
		stmts = []string{fmt.Sprintf("SET LOCAL lock_timeout = %d", rankingSwapWait.Milliseconds()),
			"DROP TABLE popular_ranking", "ALTER TABLE " + next + " RENAME TO popular_ranking",
			"ALTER TABLE popular_ranking RENAME CONSTRAINT " + next + "_pkey TO popular_ranking_pkey"}
		for _, suffix := range []string{"_idx", "_day_idx"} {
			stmts = append(stmts, "ALTER INDEX "+next+suffix+" RENAME TO popular_ranking"+suffix)
		}
	} else {
		_, _, indexes = rankingTable(s.dialect, "popular_ranking")
		stmts = append([]string{"DROP TABLE popular_ranking", "ALTER TABLE " + next + " RENAME TO popular_ranking"}, indexes...)
	}
	for _, stmt := range stmts {
		if err := tx.Exec(stmt).Error; err != nil {
			return rankingSource{}, err
		}
	}
	return src, nil
}

// rankingSwapWait bounds how long a rebuild waits for the old ranking to swap it out.
const rankingSwapWait = 2 * time.Second

// keepRanking rebuilds the ranking whenever it is due, until Close, which cancels a
// rebuild under way.
func (s *Store) keepRanking() {
	defer close(s.rankingKept)
	ctx, cancel := s.untilClose()
	defer cancel()
	wait := time.NewTimer(rankingEveryMin)
	defer wait.Stop()
	for {
		select {
		case <-wait.C:
		case <-ctx.Done():
			return
		}
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Minute)
		began := time.Now()
		every, err := s.rebuildRanking(rctx, false)
		rcancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("rebuilding the popular ranking failed; will retry", "err", err)
		}
		// A turn that only compared article_views with the ranking's source (a scan of
		// the table) is bounded by the same share of a core as a rebuild (a migrated
		// database's ranking has no rebuild time to go by yet), and no turn waits longer
		// than rankingEveryMax, the bound on how stale the ranking may be.
		wait.Reset(min(max(every, rankingCost*time.Since(began), rankingEveryMin/10), rankingEveryMax))
	}
}
