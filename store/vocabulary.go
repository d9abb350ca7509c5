package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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
	mu     sync.RWMutex
	docs   map[string]int64
	sorted []string         // for prefix look-ups
	byLen  map[int][]string // rune length → words
}

func (v *vocabulary) set(docs map[string]int64) {
	sorted := make([]string, 0, len(docs))
	byLen := map[int][]string{}
	for w := range docs {
		sorted = append(sorted, w)
		n := len([]rune(w))
		byLen[n] = append(byLen[n], w)
	}
	slices.Sort(sorted)
	v.mu.Lock()
	v.docs, v.sorted, v.byLen = docs, sorted, byLen
	v.mu.Unlock()
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
// except, the most frequent first, at most maxCompletions; or, when there are none, the
// stem p may have been typed past.
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
	found = found[:min(len(found), maxCompletions)]
	// None: maybe typed past its stem ("performanc", whose stem is "perform"): the
	// longest indexed word it begins with, of minStem letters or more and at most
	// stemTail fewer.
	runes := []rune(p)
	for n := len(runes) - 1; len(found) == 0 && n >= max(minStem, len(runes)-stemTail); n-- {
		if w := string(runes[:n]); v.docs[w] > 0 && !slices.Contains(except, w) {
			found = append(found, w)
		}
	}
	return found
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

// RefreshVocabulary rebuilds the vocabulary of typo tolerance from the articles now
// (on PostgreSQL, the table search_words, which every replica then loads).
func (s *Store) RefreshVocabulary(ctx context.Context) error {
	if s.dialect == Postgres {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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
	}
	return s.loadVocabulary(ctx)
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
	return nil
}

// keepVocabulary is the flusher's periodic step: on PostgreSQL one replica rebuilds
// search_words when it is older than VocabularyEvery (or empty while articles exist),
// and every replica reloads it; the embedded database reloads its FTS5 terms.
func (s *Store) keepVocabulary(ctx context.Context) error {
	if s.dialect == Postgres {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var stale bool
			err := tx.Raw(`SELECT pg_try_advisory_xact_lock(?) AND (
					coalesce((SELECT at FROM search_words_refreshed), '-infinity') < now() - CAST(? AS interval))`,
				int64(vocabularyLock), fmt.Sprintf("%d seconds", int(VocabularyEvery.Seconds()))).Row().Scan(&stale)
			if err != nil || !stale {
				return err
			}
			return s.RefreshVocabulary(ctx)
		})
		if err != nil {
			return err
		}
	}
	return s.loadVocabulary(ctx)
}
