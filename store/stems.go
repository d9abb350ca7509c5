package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
)

// ftsTokenize is the tokenizer of the embedded database's full-text index
// (articles_fts, migration 0001).
const ftsTokenize = "porter unicode61 remove_diacritics 2"

// stemmer gives the terms FTS5 makes of words, from FTS5 itself: an index of its own,
// with the articles' tokenizer, in a private in-memory database. The search heads are
// kept per term ("editing" is "edit", "stories" "stori"), and only the tokenizer knows
// which term a typed word is.
type stemmer struct {
	mu sync.Mutex
	db *sql.DB
}

func (st *stemmer) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.db == nil {
		return nil
	}
	return st.db.Close()
}

// terms returns the terms of each word, in order (none for a word the tokenizer drops).
func (st *stemmer) terms(ctx context.Context, words []string) ([][]string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.db == nil {
		db, err := sql.Open("sqlite", ":memory:")
		if err != nil {
			return nil, err
		}
		// One connection, kept: the in-memory database is the connection's.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		st.db = db
	}
	conn, err := st.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// IF NOT EXISTS: should the connection ever be opened again, its database is new.
	setup := `CREATE VIRTUAL TABLE IF NOT EXISTS w USING fts5(word, tokenize = '` + ftsTokenize + `');
		CREATE VIRTUAL TABLE IF NOT EXISTS wv USING fts5vocab(w, 'instance');
		DELETE FROM w;`
	if _, err := conn.ExecContext(ctx, setup); err != nil {
		return nil, err
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?),", len(words)), ",")
	args := make([]any, 0, 2*len(words))
	for i, w := range words {
		args = append(args, i+1, w)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO w (rowid, word) VALUES "+values, args...); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, `SELECT doc, term FROM wv ORDER BY doc, offset`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([][]string, len(words))
	for rows.Next() {
		var doc int
		var term string
		if err := rows.Scan(&doc, &term); err != nil {
			return nil, err
		}
		if doc < 1 || doc > len(words) {
			return nil, fmt.Errorf("stem words: unexpected row %d", doc)
		}
		out[doc-1] = append(out[doc-1], term)
	}
	return out, rows.Err()
}
