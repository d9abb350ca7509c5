package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// SearchVectors returns, in tsvector's text form (as PostgreSQL writes it), the vectors
// AppendSearchVectors appends in binary: what tests compare with the trigger's.
func (l *Lexicon) SearchVectors(a NewArticle) (title, full string, ok bool) {
	b, ok := l.AppendSearchVectors(nil, a)
	if !ok {
		if len(b) != 0 {
			return "appended though refused", "", false
		}
		return "", "", false
	}
	title, rest := vectorText(b)
	full, rest = vectorText(rest)
	if len(rest) != 0 {
		return "", fmt.Sprintf("%d bytes after the two fields", len(rest)), true
	}
	return title, full, true
}

// vectorText reads one tsvector field of binary COPY (length, then tsvectorsend's
// form) and returns it in text form, and what follows it.
func vectorText(b []byte) (string, []byte) {
	if len(b) < 8 {
		return "short field", nil
	}
	n := int(binary.BigEndian.Uint32(b))
	if len(b) < 4+n {
		return "field longer than the input", nil
	}
	f, rest := b[4:4+n], b[4+n:]
	lexemes := int(binary.BigEndian.Uint32(f))
	f = f[4:]
	var out strings.Builder
	for i := range lexemes {
		end := bytes.IndexByte(f, 0)
		if end < 0 || len(f) < end+3 {
			return "truncated lexeme", rest
		}
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteByte('\'')
		for _, c := range f[:end] {
			if c == '\'' || c == '\\' {
				out.WriteByte(c)
			}
			out.WriteByte(c)
		}
		out.WriteByte('\'')
		npos := int(binary.BigEndian.Uint16(f[end+1:]))
		f = f[end+3:]
		if len(f) < 2*npos {
			return "truncated positions", rest
		}
		for j := range npos {
			p := binary.BigEndian.Uint16(f[2*j:])
			if j == 0 {
				out.WriteByte(':')
			} else {
				out.WriteByte(',')
			}
			out.WriteString(strconv.Itoa(int(p & 0x3fff)))
			if w := p >> 14; w > 0 {
				out.WriteByte("DCBA"[w])
			}
		}
		f = f[2*npos:]
	}
	if len(f) != 0 {
		return fmt.Sprintf("%d bytes after the lexemes", len(f)), rest
	}
	return out.String(), rest
}

// Vocabulary exposes the vocabulary's look-ups to tests.
type Vocabulary struct{ v *vocabulary }

// NewVocabulary returns a vocabulary of the given document counts.
func NewVocabulary(docs map[string]int64) Vocabulary {
	v := &vocabulary{}
	v.set(docs)
	return Vocabulary{v}
}

// NoHeads is vocabulary.noHeads.
func (v Vocabulary) NoHeads(ws []string, threshold int) bool { return v.v.noHeads(ws, threshold) }
