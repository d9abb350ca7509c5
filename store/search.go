package store

import (
	"cmp"
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxSearchTerms bounds how many words of a query reach the full-text engine.
const maxSearchTerms = 16

// englishStopWords is PostgreSQL's list of English stop words (its
// tsearch_data/english.stop, from the Snowball project), which its 'english'
// configuration leaves out of every text search vector. The embedded database indexes
// them; both leave them out of queries, so that a query means the same on both.
//
//go:embed english.stop
var englishStopWords string

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(englishStopWords) {
		m[w] = true
	}
	return m
}()

// SearchTerms splits free text into the words a search looks for, and the stop words it
// leaves out (lower-cased, each once). Everything that is not a letter or a digit
// separates words, so quotes, operators, backslashes and control characters in user
// input carry no meaning to the full-text engine.
func SearchTerms(text string) (terms, ignored []string) {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		lower := strings.ToLower(w)
		switch {
		case !stopWords[lower]:
			terms = append(terms, w)
		case !slices.Contains(ignored, lower):
			ignored = append(ignored, lower)
		}
	}
	if len(terms) > maxSearchTerms {
		terms = terms[:maxSearchTerms]
	}
	return terms, ignored
}

// SearchDeepest bounds how far a search pages: offset + limit at most this. Beyond it the
// API answers 400.
const SearchDeepest = 500

// searchRankAll is the largest group that is ranked whole, by dialect. On PostgreSQL
// each match costs a heap page read (the vectors are in the row): 5,000 take about
// 22 ms on the README's machine; on the embedded database (its driver is C translated
// to Go) 5,000 take about 25 ms. A group estimated below the bound is still cut at twice
// as many, so that a wrong estimate costs twice the bound, not the table.
var searchRankAll = map[Dialect]int{Postgres: 8000, SQLite: 5000}

// searchBroad is how many candidates of a larger group are ranked, about: the matches
// among the newest articles (by createdAt on PostgreSQL, by id on the embedded
// database), in a window of searchBroad ÷ (the share of articles that match) articles,
// at most searchWindow (5,000 page reads, about 25 ms).
const (
	searchBroad  = 300
	searchWindow = 2500
)

// searchTitleAll bounds the articles with every word of a broad query in the title that
// are ranked beside the heads and the newest.
const searchTitleAll = 2000

// Typo tolerance, as Meilisearch's defaults: a word of minTypo1 to minTypo2-1 letters
// may be one edit away from an indexed word, a longer one two.
const (
	minTypo1  = 5
	minTypo2  = 9
	minPrefix = 3 // the last word is completed as a prefix from this many letters
)

// Correction is a misspelt word of a query and the indexed words it was searched as.
type Correction struct {
	Word string
	As   []string
}

// SearchResult is what a search found and how it read the query.
type SearchResult struct {
	Articles  []Article
	Ignored   []string     // stop words, left out
	Unknown   []string     // words found nowhere, not even corrected: left out
	Corrected []Correction // misspelt words and what they were searched as
}

// searchWord is one word of a query as the engine searches it.
type searchWord struct {
	typed  string   // lower-cased
	exact  []string // PostgreSQL: its lexemes (all required); SQLite: the word itself
	fixes  []string // corrections: indexed words near it
	longer []string // completions, for the last word: indexed words it begins
}

// Search returns the articles matching the query, most relevant first (see Find).
func (s *Store) Search(ctx context.Context, query string, limit, offset int) ([]Article, error) {
	r, err := s.Find(ctx, query, limit, offset)
	return r.Articles, err
}

// Find searches the articles. Every word of the query must match, as typed (stemmed),
// through a correction (a misspelt word of minTypo1 letters or more matches the indexed
// words one or two edits away), or, for the last word, as the beginning of a longer word.
// Articles that match every word as typed come first; within each group the articles
// are ranked by the database's weighted full-text rank (title above tags and author
// above content, repeated words counting less and less), then newest (created_at) first.
// A group of at most searchRankAll matches is ranked whole; a larger one from candidates:
// the heads of its words (RefreshHeads), the newest articles and, on PostgreSQL, for
// several words, articles with all of them in the title (see findPG). Nothing is found
// past SearchDeepest. docs/search.md has the whole definition.
func (s *Store) Find(ctx context.Context, query string, limit, offset int) (SearchResult, error) {
	return s.find(ctx, query, limit, offset, false)
}

// FindExhaustive is Find with every group ranked whole, whatever its size: the reference
// that the search-quality benchmark compares Find with. Its cost is unbounded.
func (s *Store) FindExhaustive(ctx context.Context, query string, limit, offset int) (SearchResult, error) {
	return s.find(ctx, query, limit, offset, true)
}

func (s *Store) find(ctx context.Context, query string, limit, offset int, whole bool) (SearchResult, error) {
	res := SearchResult{Articles: []Article{}}
	terms, ignored := SearchTerms(query)
	res.Ignored = ignored
	if len(terms) == 0 || (!whole && offset+limit > SearchDeepest) {
		return res, nil
	}
	words, err := s.searchWords(ctx, terms)
	if err != nil {
		return res, fmt.Errorf("search articles: %w", s.classify(err))
	}
	kept := res.read(words)
	if len(kept) == 0 {
		return res, nil
	}
	if s.dialect == Postgres {
		err = s.findPG(ctx, kept, limit, offset, whole, &res.Articles)
	} else {
		err = s.findSQLite(ctx, kept, limit, offset, whole, &res.Articles)
	}
	if err != nil {
		return res, fmt.Errorf("search articles: %w", s.classify(err))
	}
	res.Articles = s.finish(res.Articles)
	return res, nil
}

// read records in r how the words were read, and returns those that are searched: the
// others are found nowhere, even corrected.
func (r *SearchResult) read(words []searchWord) []searchWord {
	var kept []searchWord
	for _, w := range words {
		switch {
		case len(w.exact) == 0 && len(w.fixes) == 0 && len(w.longer) == 0:
			r.Unknown = append(r.Unknown, w.typed)
		default:
			if len(w.fixes) > 0 {
				r.Corrected = append(r.Corrected, Correction{Word: w.typed, As: w.fixes})
			}
			kept = append(kept, w)
		}
	}
	return kept
}

// searchWords reads each term as the engine will search it: its exact form when some
// article holds it, else its corrections; the last term also as a prefix.
func (s *Store) searchWords(ctx context.Context, terms []string) ([]searchWord, error) {
	words := make([]searchWord, 0, len(terms))
	seen := map[string]bool{}
	for _, t := range terms {
		lower := strings.ToLower(t)
		if !seen[lower] {
			seen[lower] = true
			words = append(words, searchWord{typed: lower})
		}
	}
	if s.dialect == Postgres {
		if err := s.lexemes(ctx, words); err != nil {
			return nil, err
		}
		// Words that share their lexemes ("stories story") are one word.
		uniq := words[:0]
		have := map[string]bool{}
		for _, w := range words {
			key := strings.Join(w.exact, " ")
			if len(w.exact) == 0 || !have[key] {
				have[key] = true
				uniq = append(uniq, w)
			}
		}
		words = uniq
	} else {
		for i := range words {
			words[i].exact = []string{words[i].typed}
		}
	}
	known, err := s.indexed(ctx, words)
	if err != nil {
		return nil, err
	}
	last := len(words) - 1
	for i := range words {
		w := &words[i]
		if i == last && utf8.RuneCountInString(w.typed) >= minPrefix {
			w.longer = s.vocab.completions(w.typed, w.exact)
		}
		if known[i] {
			continue
		}
		w.exact = nil
		if len(w.longer) > 0 {
			continue // being typed: completed, not corrected
		}
		if n := utf8.RuneCountInString(w.typed); n >= minTypo1 {
			edits := 1
			if n >= minTypo2 {
				edits = 2
			}
			w.fixes = s.vocab.near(stemLike(w.typed), edits)
		}
		if i == last && len(w.fixes) == 0 {
			w.longer = s.vocab.typedPast(w.typed)
		}
	}
	return words, nil
}

// stemLike returns a word and the forms both stemmers (Snowball on PostgreSQL, Porter
// on SQLite) commonly make of it: a final e dropped, a final y made i, a plural s
// dropped. The vocabulary holds stems, so a misspelling is compared with them as these
// too ("poleice" is one edit from the stem "polic" once its e is dropped), alike on both
// databases.
func stemLike(w string) []string {
	forms := []string{w}
	for _, end := range [][2]string{{"e", ""}, {"y", "i"}, {"s", ""}} {
		if base, ok := strings.CutSuffix(w, end[0]); ok {
			forms = append(forms, base+end[1])
		}
	}
	return forms
}

// lexemes sets the exact form of each word on PostgreSQL: the lexemes the 'english'
// configuration makes of it (none for a word it drops).
func (s *Store) lexemes(ctx context.Context, words []searchWord) error {
	typed := make([]string, len(words))
	for i, w := range words {
		typed[i] = w.typed
	}
	rows, err := s.reader(ctx).Raw(`SELECT t.i, coalesce(string_agg(l, ' ' ORDER BY l), '')
		FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS t(w, i)
		LEFT JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', t.w))) AS l ON true
		GROUP BY t.i`, pgTextArray(typed)).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var ls string
		if err := rows.Scan(&i, &ls); err != nil {
			return err
		}
		words[i-1].exact = strings.Fields(ls)
	}
	return rows.Err()
}

// arrayQuote escapes an element of a quoted PostgreSQL array literal.
var arrayQuote = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// pgTextArray writes strings as a PostgreSQL text array literal.
func pgTextArray(ss []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(arrayQuote.Replace(s))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// indexed says of each word whether some article holds its exact form: the
// vocabulary knows, or, for a word newer than it, the full-text index (cheap for a rare
// word), asked about all such words in one statement.
func (s *Store) indexed(ctx context.Context, words []searchWord) ([]bool, error) {
	known := make([]bool, len(words))
	var ask []int
	var exists []string
	var args []any
	for i, w := range words {
		switch {
		case len(w.exact) == 0:
		case s.dialect == Postgres && s.vocab.hasAll(w.exact):
			known[i] = true
		case s.dialect == Postgres:
			ask = append(ask, i)
			exists = append(exists, "EXISTS (SELECT 1 FROM articles WHERE search @@ "+tsLiteral(tsAnd(quoteLexemes(w.exact)))+")")
		default:
			ask = append(ask, i)
			exists = append(exists, "EXISTS (SELECT 1 FROM articles_fts WHERE articles_fts MATCH ?)")
			args = append(args, ftsQuote(w.exact[0]))
		}
	}
	if len(ask) == 0 {
		return known, nil
	}
	found := make([]bool, len(ask))
	dest := make([]any, len(ask))
	for i := range found {
		dest[i] = &found[i]
	}
	if err := s.reader(ctx).Raw("SELECT "+strings.Join(exists, ", "), args...).Row().Scan(dest...); err != nil {
		return nil, err
	}
	for j, i := range ask {
		known[i] = found[j]
	}
	return known, nil
}

// The query languages.

// tsLiteral writes a tsquery as a SQL constant. The statements of a search carry their
// tsquery in their text rather than as a parameter: a prepared statement run a few times
// gets a generic plan, which cannot see the words, and took 800 ms where the plan for the
// words takes 10.
func tsLiteral(q string) string { return "CAST('" + strings.ReplaceAll(q, "'", "''") + "' AS tsquery)" }

// tsqueryQuote escapes a lexeme for a quoted tsquery operand.
var tsqueryQuote = strings.NewReplacer(`\`, `\\`, "'", "''")

func quoteLexemes(ls []string) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = "'" + tsqueryQuote.Replace(l) + "'"
	}
	return out
}

func tsAnd(ops []string) string { return group(ops, " & ") }
func tsOr(ops []string) string  { return group(ops, " | ") }

// group joins operands with an operator, in parentheses when there are several.
func group(ops []string, op string) string {
	switch len(ops) {
	case 0:
		return ""
	case 1:
		return ops[0]
	}
	return "(" + strings.Join(ops, op) + ")"
}

// ftsQuote makes a word one FTS5 string (SearchTerms leaves letters and digits only).
func ftsQuote(w string) string { return `"` + strings.ReplaceAll(w, `"`, `""`) + `"` }

// alternatives are the forms a word matches besides its exact one.
func (w searchWord) alternatives() []string { return append(slices.Clip(w.fixes), w.longer...) }

// searchQuery is a search in a query language: the words as typed (exact, "" when one
// of them has no exact form), the other matches (rest), and, for ts_rank, the words as
// typed OR'ed (exactRanked: the first group is ranked by them alone) and every form of
// every word OR'ed (ranked: the second group).
type searchQuery struct{ exact, rest, ranked, exactRanked string }

// queryLanguage writes the operators of a full-text query language.
type queryLanguage struct {
	quote           func(string) string
	and, or, andNot string
}

var (
	tsqueryLanguage = queryLanguage{quote: func(l string) string { return "'" + tsqueryQuote.Replace(l) + "'" },
		and: " & ", or: " | ", andNot: " & !"}
	fts5Language = queryLanguage{quote: ftsQuote, and: " AND ", or: " OR ", andNot: " NOT "}
)

// write writes the search. The other matches are written word by word: those that match
// some word i only through its alternatives, and every other word in any form. Written
// as "every word in any form, but not every word as typed", the index would have to
// read every article holding the words as typed to rule them out.
func (l queryLanguage) write(words []searchWord) searchQuery {
	exactOf := func(w searchWord) string {
		if len(w.exact) == 0 {
			return ""
		}
		ops := make([]string, len(w.exact))
		for i, e := range w.exact {
			ops[i] = l.quote(e)
		}
		return group(ops, l.and)
	}
	anyOf := func(w searchWord) string {
		var ops []string
		if e := exactOf(w); e != "" {
			ops = append(ops, e)
		}
		for _, a := range w.alternatives() {
			ops = append(ops, l.quote(a))
		}
		return group(ops, l.or)
	}
	var q searchQuery
	var exact, rest, ranked []string
	for i, w := range words {
		if e := exactOf(w); e != "" {
			exact = append(exact, e)
		}
		ranked = append(ranked, anyOf(w))
		alts := w.alternatives()
		if len(alts) == 0 {
			continue
		}
		quoted := make([]string, len(alts))
		for j, a := range alts {
			quoted[j] = l.quote(a)
		}
		part := group(quoted, l.or)
		if e := exactOf(w); e != "" {
			part = "(" + part + l.andNot + e + ")"
		}
		terms := []string{part}
		for j, o := range words {
			if j != i {
				terms = append(terms, anyOf(o))
			}
		}
		rest = append(rest, group(terms, l.and))
	}
	if len(exact) == len(words) {
		q.exact = group(exact, l.and)
	}
	q.rest = group(rest, l.or)
	q.ranked = group(ranked, l.or)
	q.exactRanked = group(exact, l.or)
	return q
}

// full is the query of every match.
func (q searchQuery) full(l queryLanguage) string {
	switch {
	case q.exact == "":
		return q.rest
	case q.rest == "":
		return q.exact
	}
	return "(" + q.exact + ")" + l.or + "(" + q.rest + ")"
}

// tiers are the groups of a search, in order: the words as typed, then the others.
func (q searchQuery) tiers() []string {
	var ts []string
	for _, t := range []string{q.exact, q.rest} {
		if t != "" {
			ts = append(ts, t)
		}
	}
	return ts
}

// searchWeights are ts_rank's weights of D, C (content), B (tags, author), A (title).
const searchWeights = "{0.1, 0.2, 0.4, 1.0}"

// findPG runs a search on PostgreSQL. Each group (the first: every word as typed; the
// second: the other matches) is ranked whole when the planner expects at most
// searchRankAll matches, else from its candidates.
func (s *Store) findPG(ctx context.Context, words []searchWord, limit, offset int, whole bool, out *[]Article) error {
	sq := tsqueryLanguage.write(words)
	tiers := sq.tiers()
	var sizes []float64
	var total float64
	if !whole {
		est, err := s.estimate(ctx, append(tiers, ""))
		if err != nil {
			return err
		}
		sizes, total = est[:len(tiers)], max(est[len(tiers)], 1)
	}
	// The heads read: of the words as typed for the first group, of all forms for the
	// second.
	var exactForms, forms []string
	for _, w := range words {
		exactForms = append(exactForms, w.exact...)
		forms = append(append(forms, w.exact...), w.alternatives()...)
	}
	// The groups in turn, each a statement: the second is looked for only when the first
	// does not fill the page (it would rank after every article of the first).
	var found []Article
	for i, q := range tiers {
		if len(found) >= offset+limit {
			break
		}
		rankBy, heads := sq.ranked, forms
		if q == sq.exact {
			rankBy, heads = sq.exactRanked, exactForms
		}
		args := []any{sql.Named("n", offset+limit-len(found)), sql.Named("heads", pgTextArray(heads))}
		cond := "search @@ " + tsLiteral(q)
		// Each match is ranked where it is read; only the page's articles are joined.
		ranked := "SELECT id, ts_rank('" + searchWeights + "', search, " + tsLiteral(rankBy) + ") AS score, created_at"
		var part string
		switch {
		case whole:
			part = ranked + " FROM articles WHERE " + cond
		case sizes[i] <= float64(searchRankAll[Postgres]):
			// Cut at twice the bound, should the estimate be wrong.
			part = fmt.Sprintf(`%s FROM articles WHERE %s LIMIT %d`, ranked, cond, 2*searchRankAll[Postgres])
		default:
			// The heads of the words (their best matches alone, see RefreshHeads), and
			// the newest articles, walking articles_created_idx a bounded way (which
			// finds the articles made since the heads were).
			window := int(min(searchWindow, max(searchBroad, searchBroad*total/sizes[i])))
			newest := ""
			// One word as typed, with a head: the head is its exact best, and only the
			// articles made since it was built need reading beside it.
			if since := s.vocab.heads(words[0].exact, searchRankAll[Postgres]); len(words) == 1 && q == sq.exact && !since.IsZero() {
				window = searchWindow
				newest = "WHERE created_at >= @since"
				args = append(args, sql.Named("since", since))
			}
			// No word of the group has heads: each is in at most searchRankAll articles
			// (by the vocabulary, which must know them all), and the planner expects more
			// matches than that of them together (or of one alone, wrongly). Rank them as
			// a group expected small is, cut at twice the bound, which holds such a group
			// whole up to there; the newest stay beside.
			var best string
			if s.vocab.noHeads(heads, searchRankAll[Postgres]) {
				best = fmt.Sprintf(`(%s FROM articles WHERE %s LIMIT %d)`, ranked, cond, 2*searchRankAll[Postgres])
			} else {
				best = fmt.Sprintf(`(%s FROM articles WHERE id IN (
					SELECT article_id FROM search_heads WHERE word = ANY(CAST(@heads AS text[])) ORDER BY rank DESC LIMIT %d) AND %s)`,
					ranked, searchHeadsRead, cond)
			}
			cands := []string{
				best,
				fmt.Sprintf(`(%s FROM (SELECT id, search, created_at FROM articles %s ORDER BY created_at DESC, id DESC LIMIT %d) w WHERE w.%s)`,
					ranked, newest, window, cond),
			}
			// Several words: also articles with all of them in the title, the strongest
			// matches of the words together, which no word's head need hold. For the
			// first group a match of the title vector implies one of the full vector;
			// the second says "not as typed", which the rest of an article may deny.
			if len(words) > 1 {
				title := "title_search @@ " + tsLiteral(q)
				if q != sq.exact {
					title += " AND " + cond
				}
				cands = append(cands, fmt.Sprintf(`(%s FROM articles WHERE %s LIMIT %d)`, ranked, title, searchTitleAll))
			}
			part = strings.Join(cands, " UNION ")
		}
		var page []Article
		err := s.reader(ctx).Raw(`SELECT `+selectArticle("a")+` FROM (
				SELECT id, score, created_at FROM (`+part+`) hit
				ORDER BY score DESC, created_at DESC, id DESC LIMIT @n) page
			JOIN articles a ON a.id = page.id `+withViews("a")+`
			ORDER BY page.score DESC, page.created_at DESC, page.id DESC`, args...).Scan(&page).Error
		if err != nil {
			return err
		}
		found = append(found, page...)
	}
	if offset < len(found) {
		*out = found[offset:min(len(found), offset+limit)]
	}
	return nil
}

// estimate returns the planner's estimates of the articles each tsquery matches ("": of
// all articles).
func (s *Store) estimate(ctx context.Context, qs []string) ([]float64, error) {
	selects := make([]string, len(qs))
	for i, q := range qs {
		if q == "" {
			selects[i] = "SELECT 1 FROM articles"
			continue
		}
		selects[i] = "SELECT 1 FROM articles WHERE search @@ " + tsLiteral(q)
	}
	var plan string
	if err := s.reader(ctx).Raw("EXPLAIN (FORMAT JSON) " + strings.Join(selects, " UNION ALL ")).Row().Scan(&plan); err != nil {
		return nil, err
	}
	type node struct {
		Rows float64 `json:"Plan Rows"`
	}
	var explained []struct {
		Plan struct {
			node
			Plans []node `json:"Plans"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &explained); err != nil || len(explained) != 1 {
		return nil, fmt.Errorf("read search plan: unexpected %.200s", plan)
	}
	if len(qs) == 1 {
		return []float64{explained[0].Plan.Rows}, nil
	}
	if len(explained[0].Plan.Plans) != len(qs) {
		return nil, fmt.Errorf("read search plan: unexpected %.200s", plan)
	}
	out := make([]float64, len(qs))
	for i, p := range explained[0].Plan.Plans {
		out[i] = p.Rows
	}
	return out, nil
}

// findSQLite is findPG on FTS5: bm25 with the same field weights ranks, a group's size
// is counted (up to searchRankAll + 1) rather than estimated, and the candidates of a
// larger group are its newest 2×searchBroad matches by id (FTS5 walks its index in rowid
// order, and computes bm25 in the same walk; bm25 of chosen rows costs a full match
// each). Each group is a statement of its own: in one compound statement FTS5 stopped
// using its index for the second.
func (s *Store) findSQLite(ctx context.Context, words []searchWord, limit, offset int, whole bool, out *[]Article) error {
	tiers := fts5Language.write(words).tiers()
	db := s.reader(ctx)
	counts := make([]int, len(tiers))
	if !whole {
		selects := make([]string, len(tiers))
		var args []any
		dest := make([]any, len(tiers))
		for i, q := range tiers {
			selects[i] = "(SELECT count(*) FROM (SELECT 1 FROM articles_fts WHERE articles_fts MATCH ? LIMIT ?))"
			args = append(args, q, searchRankAll[SQLite]+1)
			dest[i] = &counts[i]
		}
		if err := db.Raw("SELECT "+strings.Join(selects, ", "), args...).Row().Scan(dest...); err != nil {
			return err
		}
	}
	// The terms of the words as typed, for their heads: the first group's, when it is
	// the words as typed (every word has an exact form).
	var terms []string
	if !whole && len(tiers) > 0 && counts[0] > searchRankAll[SQLite] && tiers[0] == fts5Language.write(words).exact {
		var err error
		if terms, err = s.headTerms(ctx, words); err != nil {
			return err
		}
	}
	var found []Article
	for i, q := range tiers {
		if len(found) >= offset+limit {
			break
		}
		if !whole && counts[i] == 0 {
			continue
		}
		if i == 0 && len(words) > 1 && terms != nil {
			page, err := s.rankHeadsSQLite(ctx, q, terms, offset+limit)
			if err != nil {
				return err
			}
			if page != nil {
				found = append(found, page...)
				continue
			}
		}
		// Materialized, so that SQLite finds the hits first and then reads their
		// articles, rather than asking FTS5 about every article.
		hits := `SELECT rowid AS id, ` + ftsBM25 + ` AS score FROM articles_fts WHERE articles_fts MATCH @q`
		args := []any{sql.Named("q", q), sql.Named("limit", offset+limit-len(found))}
		if !whole && counts[i] > searchRankAll[SQLite] {
			hits += fmt.Sprintf(" ORDER BY rowid DESC LIMIT %d", searchBroad)
			// A single word as typed: its head too, ranked (by bm25 of the word alone,
			// which is this group's ranking) when the heads were built.
			if i == 0 && len(words) == 1 && terms != nil {
				hits = `SELECT id, min(score) AS score FROM (
					SELECT article_id AS id, rank AS score FROM search_heads WHERE word IN @heads
					UNION ALL SELECT * FROM (` + hits + `)) GROUP BY id`
				args = append(args, sql.Named("heads", terms))
			}
		}
		var page []Article
		err := db.Raw(`WITH hit AS MATERIALIZED (`+hits+`)
			SELECT `+selectArticle("a")+` FROM hit CROSS JOIN articles a ON a.id = hit.id `+withViews("a")+`
			ORDER BY hit.score, a.created_at DESC, a.id DESC LIMIT @limit`, args...).Scan(&page).Error
		if err != nil {
			return err
		}
		found = append(found, page...)
	}
	if offset < len(found) {
		*out = found[offset:min(len(found), offset+limit)]
	}
	return nil
}

// SearchMatches counts the articles a search for query matches, in every group: what the
// search-quality benchmark buckets queries by. Its cost is unbounded.
func (s *Store) SearchMatches(ctx context.Context, query string) (int64, error) {
	words, err := s.queryWords(ctx, query)
	if err != nil || len(words) == 0 {
		return 0, err
	}
	var n int64
	if s.dialect == Postgres {
		err = s.reader(ctx).Raw(`SELECT count(*) FROM articles WHERE search @@ CAST(? AS tsquery)`,
			tsqueryLanguage.write(words).full(tsqueryLanguage)).Row().Scan(&n)
	} else {
		err = s.reader(ctx).Raw(`SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?`,
			fts5Language.write(words).full(fts5Language)).Row().Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count search matches: %w", s.classify(err))
	}
	return n, nil
}

// Matching returns those of ids whose article holds every word of query as typed
// (stemmed; no correction, no prefix): how the search-quality benchmark tells whether a
// corrected or completed search found the articles of the word meant.
func (s *Store) Matching(ctx context.Context, query string, ids []int64) ([]int64, error) {
	words, err := s.queryWords(ctx, query)
	if err != nil || len(words) == 0 || len(ids) == 0 {
		return nil, err
	}
	out := []int64{}
	if s.dialect == Postgres {
		exact := tsqueryLanguage.write(words).exact
		if exact == "" {
			return out, nil
		}
		err = s.reader(ctx).Raw(`SELECT id FROM articles WHERE id IN ? AND search @@ CAST(? AS tsquery)`, ids, exact).Scan(&out).Error
	} else {
		exact := fts5Language.write(words).exact
		if exact == "" {
			return out, nil
		}
		err = s.reader(ctx).Raw(`SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? AND rowid IN ?`, exact, ids).Scan(&out).Error
	}
	if err != nil {
		return nil, fmt.Errorf("match search words: %w", s.classify(err))
	}
	return out, nil
}

// queryWords returns the words of query that a search searches.
func (s *Store) queryWords(ctx context.Context, query string) ([]searchWord, error) {
	terms, _ := SearchTerms(query)
	if len(terms) == 0 {
		return nil, nil
	}
	words, err := s.searchWords(ctx, terms)
	if err != nil {
		return nil, fmt.Errorf("search words: %w", s.classify(err))
	}
	return new(SearchResult).read(words), nil
}

// headTerms returns the FTS5 term of each word as typed, which its head is kept under;
// nil when a word is not one term (the heads cannot stand for it).
func (s *Store) headTerms(ctx context.Context, words []searchWord) ([]string, error) {
	typed := make([]string, len(words))
	for i, w := range words {
		typed[i] = w.typed
	}
	per, err := s.stems.terms(ctx, typed)
	if err != nil {
		return nil, fmt.Errorf("stem words: %w", err)
	}
	terms := make([]string, len(per))
	for i, ts := range per {
		if len(ts) != 1 {
			return nil, nil
		}
		terms[i] = ts[0]
	}
	return terms, nil
}

// searchHeadsChecked is how many candidates of a broad search of several words are
// checked at a time for holding every word.
const searchHeadsChecked = 64

// rankHeadsSQLite ranks a broad first group of several words (q: every word as typed) on
// the embedded database from the heads of their terms and the newest matches, and returns
// its first need articles; nil when a term has no head. bm25 is a sum over the query's
// words, and a head holds each of its articles' part for its word, so an article in
// every word's head has its whole score there. An article in some heads only counts
// nothing for its other words, unless the most it can have for them (the weakest score
// of each of their heads) could take it onto the page: then it is scored for them
// (termScores; the best searchHeadsRescored such). The others are checked for holding
// every word (a statement per searchHeadsChecked candidates, in order, until the page is
// full). The newest matches are ranked by FTS5, as for one word. docs/search.md says
// what this approximates.
func (s *Store) rankHeadsSQLite(ctx context.Context, q string, terms []string, need int) ([]Article, error) {
	db := s.reader(ctx)
	var heads []struct {
		Word      string
		ArticleID int64
		Rank      float64
		CreatedAt time.Time
	}
	if err := db.Raw(`SELECT word, article_id, rank, created_at FROM search_heads WHERE word IN ?`, terms).Scan(&heads).Error; err != nil {
		return nil, err
	}
	type candidate struct {
		id      int64
		score   float64
		created time.Time
		checked bool // known to hold every word
		// Not yet checked: the words whose heads it is not in, and the best score it
		// can have (score counts nothing for them).
		missing []string
		upper   float64
	}
	part := map[string]map[int64]float64{}
	weakest := map[string]float64{}
	byID := map[int64]*candidate{}
	for _, h := range heads {
		if part[h.Word] == nil {
			part[h.Word] = map[int64]float64{}
			weakest[h.Word] = h.Rank
		}
		part[h.Word][h.ArticleID] = h.Rank
		weakest[h.Word] = max(weakest[h.Word], h.Rank) // bm25 is negative: best first
		if byID[h.ArticleID] == nil {
			byID[h.ArticleID] = &candidate{id: h.ArticleID, created: h.CreatedAt}
		}
	}
	for _, t := range terms {
		if part[t] == nil {
			return nil, nil
		}
	}
	for _, c := range byID {
		c.checked = true
		for _, t := range terms {
			r, ok := part[t][c.id]
			if !ok {
				c.missing = append(c.missing, t)
				c.upper += weakest[t]
				r, c.checked = 0, false
			}
			c.score += r
		}
		c.upper += c.score
	}
	var newest []struct {
		ID        int64
		Score     float64
		CreatedAt time.Time
	}
	err := db.Raw(`WITH hit AS MATERIALIZED (
			SELECT rowid AS id, `+ftsBM25+` AS score FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rowid DESC LIMIT ?)
		SELECT hit.id, hit.score, a.created_at FROM hit CROSS JOIN articles a ON a.id = hit.id`, q, searchBroad).Scan(&newest).Error
	if err != nil {
		return nil, err
	}
	for _, n := range newest {
		byID[n.ID] = &candidate{id: n.ID, score: n.Score, created: n.CreatedAt, checked: true}
	}
	cands := make([]*candidate, 0, len(byID))
	for _, c := range byID {
		cands = append(cands, c)
	}
	rank := func(a, b *candidate) int {
		if a.score != b.score {
			return cmp.Compare(a.score, b.score)
		}
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	}
	slices.SortFunc(cands, rank)
	// The score of the need-th article known to hold every word: a candidate whose best
	// cannot beat it is left where its known part puts it. The others, best first, up to
	// searchHeadsRescored, are scored for their other words.
	threshold, held := 0.0, 0
	for _, c := range cands {
		if c.checked {
			if held++; held == need {
				threshold = c.score
				break
			}
		}
	}
	var rescore []*candidate
	for _, c := range cands {
		if !c.checked && c.upper < threshold {
			rescore = append(rescore, c)
		}
	}
	slices.SortFunc(rescore, func(a, b *candidate) int { return cmp.Compare(a.upper, b.upper) })
	rescore = rescore[:min(len(rescore), searchHeadsRescored)]
	byTerm := map[string][]int64{}
	for _, c := range rescore {
		for _, t := range c.missing {
			byTerm[t] = append(byTerm[t], c.id)
		}
	}
	scores := map[string]map[int64]float64{}
	for t, ids := range byTerm {
		var err error
		if scores[t], err = s.termScores(ctx, t, ids); err != nil {
			return nil, err
		}
	}
	dropped := map[int64]bool{}
	for _, c := range rescore {
		if slices.ContainsFunc(c.missing, func(t string) bool { return scores[t] == nil }) {
			continue // a word the vocabulary does not count yet: left unscored
		}
		for _, t := range c.missing {
			r, ok := scores[t][c.id]
			if !ok {
				dropped[c.id] = true // does not hold t
			}
			c.score += r
		}
		c.checked = true
	}
	cands = slices.DeleteFunc(cands, func(c *candidate) bool { return dropped[c.id] })
	slices.SortFunc(cands, rank)
	var ids []int64
	for len(cands) > 0 && len(ids) < need {
		batch := cands[:min(len(cands), searchHeadsChecked)]
		cands = cands[len(batch):]
		var ask []int64
		for _, c := range batch {
			if !c.checked {
				ask = append(ask, c.id)
			}
		}
		holds := map[int64]bool{}
		if len(ask) > 0 {
			var got []int64
			if err := db.Raw(`SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? AND rowid IN ?`, q, ask).Scan(&got).Error; err != nil {
				return nil, err
			}
			for _, id := range got {
				holds[id] = true
			}
		}
		for _, c := range batch {
			if (c.checked || holds[c.id]) && len(ids) < need {
				ids = append(ids, c.id)
			}
		}
	}
	if len(ids) == 0 {
		return []Article{}, nil
	}
	var page []Article
	if err := db.Raw(`SELECT `+selectArticle("a")+` FROM articles a `+withViews("a")+` WHERE a.id IN ?`, ids).Scan(&page).Error; err != nil {
		return nil, err
	}
	at := make(map[int64]int, len(ids))
	for i, id := range ids {
		at[id] = i
	}
	slices.SortFunc(page, func(a, b Article) int { return cmp.Compare(at[a.ID], at[b.ID]) })
	return page, nil
}

// searchHeadsRescored bounds the candidates of rankHeadsSQLite that are scored exactly
// for the words whose heads they are not in.
const searchHeadsRescored = 200

// bm25 of FTS5 (fts5_aux.c): k1 1.2, b 0.75, an inverse document frequency below zero
// taken as 1e-6.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// ftsWeights are the column weights of the search's bm25, in the columns' order (title,
// tags, author, content), and ftsBM25 the call that ranks by them.
var (
	ftsWeights = [4]float64{10, 4, 4, 1}
	ftsBM25    = fmt.Sprintf("bm25(articles_fts, %.1f, %.1f, %.1f, %.1f)", ftsWeights[0], ftsWeights[1], ftsWeights[2], ftsWeights[3])
)

// termScores returns FTS5's bm25 for term alone of each of ids that holds it (absent:
// the article does not hold it; nil: the vocabulary does not count the term yet),
// computed as FTS5 computes it, from the term's hits in each column (highlight marks
// each one), the article's length (articles_fts_docsize), the averages of the index and
// the articles holding the term (the vocabulary).
// Asking FTS5 for bm25 of a chosen article costs a walk of every article holding each
// word (for the inverse document frequency): milliseconds an article for a common one.
func (s *Store) termScores(ctx context.Context, term string, ids []int64) (map[int64]float64, error) {
	db := s.reader(ctx)
	var block []byte
	if err := db.Raw(`SELECT block FROM articles_fts_data WHERE id = 1`).Row().Scan(&block); err != nil {
		return nil, err
	}
	// The averages record: the number of rows, then the tokens of each column.
	rowsN, n := binaryUvarint(block)
	tokens := sumUvarints(block[n:])
	nHit := float64(s.vocab.count(term))
	if rowsN == 0 || nHit == 0 {
		return nil, nil // not counted yet: no score
	}
	nRow := float64(rowsN)
	avgdl := float64(tokens) / nRow
	idf := math.Log((nRow - nHit + 0.5) / (nHit + 0.5))
	if idf <= 0 {
		idf = 1e-6
	}
	// An article at a time (rowid = in a subquery): with rowid IN, FTS5 is not asked
	// the MATCH and refuses highlight.
	var rows []struct {
		ID   int64
		Hits string // of the term in title, tags, author and content
		Size []byte
	}
	list, _ := json.Marshal(ids)
	err := db.Raw(`SELECT c.value AS id, d.sz AS size, (SELECT
				(length(highlight(articles_fts, 0, char(1), '')) - length(title)) || ' ' ||
				(length(highlight(articles_fts, 1, char(1), '')) - length(tags)) || ' ' ||
				(length(highlight(articles_fts, 2, char(1), '')) - length(author)) || ' ' ||
				(length(highlight(articles_fts, 3, char(1), '')) - length(content))
			FROM articles_fts WHERE articles_fts MATCH ? AND rowid = c.value) AS hits
		FROM json_each(?) c JOIN articles_fts_docsize d ON d.id = c.value`, ftsQuote(term), string(list)).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make(map[int64]float64, len(rows))
	for _, r := range rows {
		var freq float64
		for i, f := range strings.Fields(r.Hits) {
			if n, err := strconv.Atoi(f); err == nil && i < len(ftsWeights) {
				freq += ftsWeights[i] * float64(n)
			}
		}
		if freq == 0 {
			continue // does not hold the term
		}
		dl := sumUvarints(r.Size) // the tokens of each column
		out[r.ID] = -idf * (freq * (bm25K1 + 1)) / (freq + bm25K1*(1-bm25B+bm25B*float64(dl)/avgdl))
	}
	return out, nil
}

// binaryUvarint reads one of SQLite's varints (big-endian, 7 bits a byte, the ninth byte
// whole) and its length, 0 when p ends first.
func binaryUvarint(p []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(p) && i < 9; i++ {
		if i == 8 {
			return v<<8 | uint64(p[i]), 9
		}
		v = v<<7 | uint64(p[i]&0x7f)
		if p[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// sumUvarints adds up the varints of p, up to the first that p cuts short.
func sumUvarints(p []byte) uint64 {
	var sum uint64
	for len(p) > 0 {
		v, n := binaryUvarint(p)
		if n == 0 {
			break
		}
		sum += v
		p = p[n:]
	}
	return sum
}
