package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"gorm.io/gorm"
)

// VocabularyEvery is how often the vocabulary that typo tolerance draws on is rebuilt:
// a word that only articles newer than that hold is not yet a correction (an exact match
// of it never waits).
const VocabularyEvery = 10 * time.Minute

// vocabulary holds the indexed words (lexemes on PostgreSQL, FTS5 terms on SQLite) in
// memory, by length, so that a misspelt word is compared with the words it could be
// without a round trip. 20,000 words take about 1 MB.
type vocabulary struct {
	mu sync.RWMutex
	// headsAt is when the heads of the words were last built (zero: not known).
	headsAt time.Time
	docs    map[string]int64
	sorted  []string         // for prefix look-ups
	byLen   map[int][]string // rune length → words
}

func (v *vocabulary) set(docs map[string]int64) {
	sorted := make([]string, 0, len(docs))
	byLen := map[int][]string{}
	for w := range docs {
		// Only words as SearchTerms makes them (letters and digits): the parsers also
		// index e-mail addresses, URLs and hyphenated forms, which a query's words are
		// never corrected or completed to (and which carry characters a statement's
		// text must not hold: the tsquery is written into it, see tsLiteral).
		if strings.ContainsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			delete(docs, w)
			continue
		}
		sorted = append(sorted, w)
		n := len([]rune(w))
		byLen[n] = append(byLen[n], w)
	}
	slices.Sort(sorted)
	v.mu.Lock()
	v.docs, v.sorted, v.byLen = docs, sorted, byLen
	v.mu.Unlock()
}

// heads returns since when the words all have heads (no words: when the heads were
// built): zero when one of them has none or when that is not known.
func (v *vocabulary) heads(ws []string, threshold int) time.Time {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, w := range ws {
		if v.docs[w] <= int64(threshold) {
			return time.Time{}
		}
	}
	return v.headsAt
}

// noHeads says whether the vocabulary knows each of the words, and none of them has
// heads (is in more than threshold articles). It says false for a word it does not
// know: before the vocabulary is loaded, or one newer than it.
func (v *vocabulary) noHeads(ws []string, threshold int) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, w := range ws {
		if n := v.docs[w]; n == 0 || n > int64(threshold) {
			return false
		}
	}
	return len(ws) > 0
}

func (v *vocabulary) setHeadsAt(t time.Time) {
	v.mu.Lock()
	v.headsAt = t
	v.mu.Unlock()
}

// count returns the number of articles holding w, as of the vocabulary's last load.
func (v *vocabulary) count(w string) int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.docs[w]
}

func (v *vocabulary) hasAll(ws []string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, w := range ws {
		if v.docs[w] == 0 {
			return false
		}
	}
	return true
}

// maxCompletions bounds the words a prefix is completed to.
const maxCompletions = 10

// completions returns the words that begin with p, other than p and the words of
// except, the most frequent first, at most maxCompletions.
func (v *vocabulary) completions(p string, except []string) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	i, _ := slices.BinarySearch(v.sorted, p)
	var found []string
	for ; i < len(v.sorted) && strings.HasPrefix(v.sorted[i], p); i++ {
		if w := v.sorted[i]; w != p && !slices.Contains(except, w) {
			found = append(found, w)
		}
	}
	slices.SortStableFunc(found, func(a, b string) int { return cmpDocs(v.docs[a], v.docs[b]) })
	return found[:min(len(found), maxCompletions)]
}

// typedPast returns the stem that p may have been typed past ("performanc", whose stem
// is "perform"): the longest indexed word p begins with, of minStem letters or more and
// at most stemTail fewer, if any.
func (v *vocabulary) typedPast(p string) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	runes := []rune(p)
	for n := len(runes) - 1; n >= max(minStem, len(runes)-stemTail); n-- {
		if w := string(runes[:n]); v.docs[w] > 0 {
			return []string{w}
		}
	}
	return nil
}

// The stem of a word typed in part: at least minStem letters, at most stemTail fewer
// than typed.
const (
	minStem  = 4
	stemTail = 4
)

// cmpDocs orders document counts from the largest.
func cmpDocs(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// maxCorrections bounds the words a misspelt word is searched as.
const maxCorrections = 3

// near returns the words at most edits away from any of forms (optimal string
// alignment distance: a swap of two neighbouring letters is one edit), the closest
// first, then the most frequent, at most maxCorrections of them.
func (v *vocabulary) near(forms []string, edits int) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	type cand struct {
		w    string
		d    int
		docs int64
	}
	var found []cand
	seen := map[string]bool{}
	for _, f := range forms {
		fr := []rune(f)
		for n := len(fr) - edits; n <= len(fr)+edits; n++ {
			for _, w := range v.byLen[n] {
				if seen[w] {
					continue
				}
				if d := editDistance(fr, []rune(w), edits); d <= edits {
					seen[w] = true
					found = append(found, cand{w, d, v.docs[w]})
				}
			}
		}
	}
	slices.SortFunc(found, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		if c := cmpDocs(a.docs, b.docs); c != 0 {
			return c
		}
		return strings.Compare(a.w, b.w)
	})
	out := make([]string, 0, min(len(found), maxCorrections))
	for _, c := range found[:min(len(found), maxCorrections)] {
		out = append(out, c.w)
	}
	return out
}

// editDistance is the optimal string alignment distance of a and b, or bound+1 as soon
// as it must exceed bound.
func editDistance(a, b []rune, bound int) int {
	if d := len(a) - len(b); d > bound || -d > bound {
		return bound + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			c := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				c = min(c, prev2[j-2]+1)
			}
			cur[j] = c
			rowMin = min(rowMin, c)
		}
		if rowMin > bound {
			return bound + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// vocabularyLock is the key of the PostgreSQL advisory lock under which one replica
// rebuilds search_words.
const vocabularyLock = 0x766f636162756c61 // "vocabula"

// headsLock is the lock under which one replica rebuilds search_heads.
const headsLock = 0x7365617263686864 // "searchhd"

// RefreshVocabulary rebuilds the vocabulary of typo tolerance from the articles now
// (on PostgreSQL, the table search_words, which every replica then loads).
func (s *Store) RefreshVocabulary(ctx context.Context) error {
	if err := s.rebuildVocabulary(ctx, 0); err != nil {
		return err
	}
	return s.loadVocabulary(ctx)
}

// takeTurn takes the advisory lock key for the transaction tx (waiting for a replica
// that holds it) and says whether the rebuild is due: always when olderThan is 0, else
// when the time in column of search_words_refreshed is older than that.
func takeTurn(tx *gorm.DB, key int64, column string, olderThan time.Duration) (bool, error) {
	if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", key).Error; err != nil {
		return false, err
	}
	if olderThan <= 0 {
		return true, nil
	}
	var due bool
	err := tx.Raw(`SELECT coalesce((SELECT `+column+` FROM search_words_refreshed), '-infinity') < now() - CAST(? AS interval)`,
		fmt.Sprintf("%d seconds", int(olderThan.Seconds()))).Row().Scan(&due)
	return due, err
}

// rebuildVocabulary rebuilds search_words (PostgreSQL) under vocabularyLock, so that
// replicas take turns; with olderThan > 0, only if it was last rebuilt longer ago.
func (s *Store) rebuildVocabulary(ctx context.Context, olderThan time.Duration) error {
	if s.dialect != Postgres {
		return nil
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if due, err := takeTurn(tx, vocabularyLock, "at", olderThan); err != nil || !due {
			return err
		}
		for _, stmt := range []string{
			"DELETE FROM search_words",
			"INSERT INTO search_words (word, docs) SELECT word, ndoc FROM ts_stat('SELECT search FROM articles')",
			`INSERT INTO search_words_refreshed (at) VALUES (now()) ON CONFLICT (one) DO UPDATE SET at = excluded.at`,
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("refresh the search vocabulary: %w", s.classify(err))
	}
	return nil
}

// loadVocabulary reads the vocabulary into memory.
func (s *Store) loadVocabulary(ctx context.Context) error {
	table := "search_words"
	cols := "word, docs"
	if s.dialect == SQLite {
		table, cols = "articles_fts_words", "term, doc"
	}
	rows, err := s.reader(ctx).Raw("SELECT " + cols + " FROM " + table).Rows()
	if err != nil {
		return fmt.Errorf("load the search vocabulary: %w", s.classify(err))
	}
	defer rows.Close()
	docs := map[string]int64{}
	for rows.Next() {
		var w string
		var n int64
		if err := rows.Scan(&w, &n); err != nil {
			return fmt.Errorf("load the search vocabulary: %w", err)
		}
		docs[w] = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load the search vocabulary: %w", s.classify(err))
	}
	s.vocab.set(docs)
	built := `SELECT heads_at FROM search_words_refreshed`
	if s.dialect == SQLite {
		built = `SELECT at FROM search_heads_built`
	}
	var at sql.NullTime
	if err := s.reader(ctx).Raw(built).Row().Scan(&at); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("load the search vocabulary: %w", s.classify(err))
	}
	s.vocab.setHeadsAt(at.Time)
	return nil
}

// staleHeads records that the heads of the words no longer stand for the articles (a
// bulk load of articles dated in the past, which the newest window of a search would not
// reach): the next keepSearch step of a server rebuilds them.
func (s *Store) staleHeads(ctx context.Context) error {
	stmt := `UPDATE search_words_refreshed SET heads_at = NULL`
	if s.dialect == SQLite {
		stmt = `DELETE FROM search_heads_built`
	}
	if err := s.db.WithContext(ctx).Exec(stmt).Error; err != nil {
		return fmt.Errorf("mark the search heads stale: %w", s.classify(err))
	}
	s.vocab.setHeadsAt(time.Time{})
	return nil
}

// keepVocabulary is keepSearch's periodic step: on PostgreSQL one replica rebuilds
// search_words when it is older than VocabularyEvery, and search_heads when older than
// HeadsEvery; every replica then reloads the vocabulary (the embedded database reloads
// its FTS5 terms).
func (s *Store) keepVocabulary(ctx context.Context) error {
	if err := s.rebuildVocabulary(ctx, VocabularyEvery); err != nil {
		return err
	}
	if err := s.loadVocabulary(ctx); err != nil {
		return err
	}
	return s.rebuildHeads(ctx, HeadsEvery)
}

// SearchHeadSize is how many articles the head of a word holds: as deep as a search
// pages.
const SearchHeadSize = SearchDeepest

// searchHeadsRead bounds the head rows one group of a search reads (each costs a page
// read): the heads of two words.
const searchHeadsRead = 2 * SearchHeadSize

// HeadsEvery is how often the heads of the words are rebuilt: a change that makes an
// article rank high for a word it was not ranked high for reaches broad searches at the
// next rebuild, unless the article is among the newest (which every search reads).
const HeadsEvery = time.Hour

// RefreshHeads rebuilds the heads of the words (PostgreSQL): for every word of the
// vocabulary in more articles than a search ranks whole, its SearchHeadSize best
// articles for the word alone. It costs a ranking of every match of those words: about
// 3 minutes at a million articles on the README's machine, which one replica spends once
// an hour, in the background.
func (s *Store) RefreshHeads(ctx context.Context) error { return s.rebuildHeads(ctx, 0) }

// RefreshStaleHeads is RefreshHeads when the heads were never built, a bulk load made them
// stale, or they are older than HeadsEvery; else it does nothing.
func (s *Store) RefreshStaleHeads(ctx context.Context) error {
	if s.dialect == SQLite {
		if err := s.loadVocabulary(ctx); err != nil {
			return err
		}
	}
	return s.rebuildHeads(ctx, HeadsEvery)
}

// rebuildHeads rebuilds search_heads under headsLock; with olderThan > 0, only if it was
// last rebuilt longer ago.
func (s *Store) rebuildHeads(ctx context.Context, olderThan time.Duration) error {
	if s.dialect != Postgres {
		// One server: when the heads were built is known here, zero before the first.
		if built := s.vocab.heads(nil, 0); olderThan > 0 && !built.IsZero() && time.Since(built) < olderThan {
			return nil
		}
		return s.rebuildHeadsSQLite(ctx)
	}
	// The lock is held by a transaction of its own while the words are rebuilt one
	// short transaction each.
	began := time.Now()
	err := s.db.WithContext(ctx).Transaction(func(lock *gorm.DB) error {
		if due, err := takeTurn(lock, headsLock, "heads_at", olderThan); err != nil || !due {
			return err
		}
		var words []string
		if err := lock.Raw(`SELECT word FROM search_words WHERE docs > ? ORDER BY word`, searchRankAll[Postgres]).Scan(&words).Error; err != nil {
			return err
		}
		db := s.db.WithContext(ctx)
		if err := db.Exec(`DELETE FROM search_heads WHERE word <> ALL (CAST(? AS text[]))`, pgTextArray(words)).Error; err != nil {
			return err
		}
		for _, w := range words {
			q := "'" + tsqueryQuote.Replace(w) + "'"
			err := db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Exec(`DELETE FROM search_heads WHERE word = ?`, w).Error; err != nil {
					return err
				}
				return tx.Exec(`INSERT INTO search_heads (word, rank, created_at, article_id)
					SELECT ?, ts_rank('`+searchWeights+`', search, CAST(? AS tsquery)), created_at, id FROM articles
					WHERE search @@ CAST(? AS tsquery) ORDER BY 2 DESC, 3 DESC, 4 DESC LIMIT ?`, w, q, q, SearchHeadSize).Error
			})
			if err != nil {
				return err
			}
		}
		// The time the rebuild began: an article made while it ran may be missing from
		// the heads, and is among those a search reads as new.
		if err := lock.Exec(`UPDATE search_words_refreshed SET heads_at = transaction_timestamp()`).Error; err != nil {
			return err
		}
		s.log.Info("search heads rebuilt", "words", len(words), "took", time.Since(began).Round(time.Millisecond).String())
		return nil
	})
	if err != nil {
		return fmt.Errorf("refresh the search heads: %w", s.classify(err))
	}
	return nil
}

// ftsMergeSteps bounds the merge steps of mergeFTS (each about 25 ms of the writer at
// 100,000 articles; 15 merged a freshly seeded index).
const ftsMergeSteps = 2000

// mergeFTS merges the embedded database's full-text index into one segment, a bounded
// step at a time (FTS5's 'merge' with a negative page count), so that other writes get
// the single writer between steps. A search's look-ups of single articles
// (rankHeadsSQLite) seek in every segment: they took 2.5 times as long after a bulk load
// had left many. A step that did no work changes no row but its own.
func (s *Store) mergeFTS(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	for range ftsMergeSteps {
		var before, after int64
		err := db.Connection(func(c *gorm.DB) error {
			if err := c.Raw(`SELECT total_changes()`).Row().Scan(&before); err != nil {
				return err
			}
			if err := c.Exec(`INSERT INTO articles_fts (articles_fts, rank) VALUES ('merge', -500)`).Error; err != nil {
				return err
			}
			return c.Raw(`SELECT total_changes()`).Row().Scan(&after)
		})
		if err != nil || after-before <= 1 {
			return err
		}
	}
	return nil
}

// rebuildHeadsSQLite rebuilds search_heads on the embedded database: for every FTS5 term
// in more articles than a search ranks whole, its SearchHeadSize best articles by bm25
// for the term alone, then newest. 18 s at 100,000 articles; the embedded database has
// one server, so no lock; when they were built is kept in search_heads_built, so that a
// restart rebuilds them only when they are older than HeadsEvery.
func (s *Store) rebuildHeadsSQLite(ctx context.Context) error {
	began := time.Now()
	// Read on the read pool, written a term at a time: the single writer is never held
	// for longer than one term's rows.
	var terms []string
	if err := s.reader(ctx).Raw(`SELECT term FROM articles_fts_words WHERE doc > ?`, searchRankAll[SQLite]).Scan(&terms).Error; err != nil {
		return fmt.Errorf("refresh the search heads: %w", s.classify(err))
	}
	db := s.db.WithContext(ctx)
	if err := s.mergeFTS(ctx); err != nil {
		return fmt.Errorf("refresh the search heads: %w", s.classify(err))
	}
	if err := db.Exec(`DELETE FROM search_heads WHERE word NOT IN ?`, append(terms, "")).Error; err != nil {
		return fmt.Errorf("refresh the search heads: %w", s.classify(err))
	}
	type head struct {
		ID        int64
		Score     float64
		CreatedAt time.Time
	}
	for _, t := range terms {
		var rows []head
		err := s.reader(ctx).Raw(`WITH hit AS MATERIALIZED (
				SELECT rowid AS id, `+ftsBM25+` AS score FROM articles_fts WHERE articles_fts MATCH ?)
			SELECT hit.id, hit.score, a.created_at FROM hit CROSS JOIN articles a ON a.id = hit.id
			ORDER BY hit.score, a.created_at DESC, a.id DESC LIMIT ?`, ftsQuote(t), SearchHeadSize).Scan(&rows).Error
		if err == nil {
			err = db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Exec(`DELETE FROM search_heads WHERE word = ?`, t).Error; err != nil || len(rows) == 0 {
					return err
				}
				values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?),", len(rows)), ",")
				args := make([]any, 0, 4*len(rows))
				for _, r := range rows {
					args = append(args, t, r.Score, r.CreatedAt, r.ID)
				}
				return tx.Exec(`INSERT INTO search_heads (word, rank, created_at, article_id) VALUES `+values, args...).Error
			})
		}
		if err != nil {
			return fmt.Errorf("refresh the search heads: %w", s.classify(err))
		}
	}
	err := db.Exec(`INSERT INTO search_heads_built (one, at) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET at = excluded.at`, began.UTC()).Error
	if err != nil {
		return fmt.Errorf("refresh the search heads: %w", s.classify(err))
	}
	s.vocab.setHeadsAt(began)
	s.log.Info("search heads rebuilt", "words", len(terms), "took", time.Since(began).Round(time.Millisecond).String())
	return nil
}
