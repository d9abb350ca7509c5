package store

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"gorm.io/gorm"
)

// SearchQuery returns the tsquery that a PostgreSQL search for text looks for.
func (s *Store) SearchQuery(ctx context.Context, text string) (string, error) {
	terms, _ := SearchTerms(text)
	words, err := s.searchWords(ctx, terms)
	if err != nil {
		return "", err
	}
	return tsqueryLanguage.write(new(SearchResult).read(words)).full(tsqueryLanguage), nil
}

// WithConnectTimeout exposes withConnectTimeout.
var WithConnectTimeout = withConnectTimeout

// StopWords returns the stop words, sorted.
func StopWords() []string {
	var out []string
	for w := range stopWords {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

// DB exposes the GORM handle to tests that query the database directly.
func (s *Store) DB() *gorm.DB { return s.db }

// HoldConn takes a connection from the pool that writes (write) or reads and keeps it in
// an open transaction until release: a write transaction that has changed every article
// but not committed, or a read transaction that has read. It is how a test holds the
// database up the way a long statement does.
func (s *Store) HoldConn(ctx context.Context, write bool) (release func(), err error) {
	db := s.readSQL
	if write || db == nil {
		db = s.sqlDB
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	stmts := []string{"BEGIN", "SELECT count(*) FROM articles"}
	if write {
		stmts = []string{"BEGIN IMMEDIATE", "UPDATE articles SET title = 'uncommitted'"}
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		_ = conn.Close()
	}, nil
}

// ReadPool exposes the embedded database's read pool (nil for PostgreSQL).
func (s *Store) ReadPool() *sql.DB { return s.readSQL }

// MigrationLockID exposes the migrations' advisory-lock key.
const MigrationLockID = migrationLockID

// PurgeIdempotencyKeys exposes purgeIdempotencyKeys.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context) error { return s.purgeIdempotencyKeys(ctx) }

// HeadsBuilt reads from the database when the search heads were last built (zero: never,
// or marked stale), as a server that starts does.
func (s *Store) HeadsBuilt(ctx context.Context) (time.Time, error) {
	s.vocab.setHeadsAt(time.Time{})
	if err := s.loadVocabulary(ctx); err != nil {
		return time.Time{}, err
	}
	return s.vocab.heads(nil, 0), nil
}

// KeepSearchOnce runs one periodic step of a serving store's search upkeep, starting from
// what the database holds (as after a restart).
func (s *Store) KeepSearchOnce(ctx context.Context) error {
	s.vocab.setHeadsAt(time.Time{})
	return s.keepVocabulary(ctx)
}

// TermScores exposes termScores: FTS5's bm25 of term alone for each of ids (SQLite).
func (s *Store) TermScores(ctx context.Context, term string, ids []int64) (map[int64]float64, error) {
	return s.termScores(ctx, term, ids)
}

// Stems exposes the stemmer: the FTS5 terms of each word.
func (s *Store) Stems(ctx context.Context, words []string) ([][]string, error) {
	return s.stems.terms(ctx, words)
}

// FTSTokenize exposes the tokenizer the stemmer indexes words with.
const FTSTokenize = ftsTokenize

// RebuildRankingIfDue is what keepRanking does at each turn: rebuild the popular ranking
// when it is due and its source changed.
func (s *Store) RebuildRankingIfDue(ctx context.Context) (time.Duration, error) {
	return s.rebuildRanking(ctx, false)
}
