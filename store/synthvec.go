package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

// Computing search vectors in Go for synthetic articles spares the seed path the cost of
// to_tsvector in the insert trigger (about 60 µs of CPU per article). It is exact only
// because synth.Generator writes from a closed vocabulary: every token it can produce is
// sent to PostgreSQL once, and what PostgreSQL's parser and dictionaries make of it is
// kept. No stemming or stopword rule lives here, and anything the lexicon does not know
// is refused rather than guessed.

// Lexicon maps every token a generator of articles (synth.Generator) can produce to the lexemes PostgreSQL's
// 'english' configuration makes of it, learned from the database once.
//
// A Lexicon is safe for concurrent use.
type Lexicon struct {
	// words maps each word, in the case forms the Generator writes it, to the lexemes
	// and positions the parser and dictionaries make of it. Case matters: lowercasing is
	// the database's business, by its locale's rules, so every form is learned.
	words wordTable
	parts []lexPart
	// lexText holds every lexeme followed by a NUL, as tsvector's binary form wants it,
	// the most frequent first so that they share cache lines; lexeme id i starts at
	// lexAt[i]>>8 and is lexAt[i]&0xff bytes long, its NUL included. Ids follow
	// PostgreSQL's own lexeme order (bytewise), so listing ids in order lists lexemes in
	// order.
	lexText []byte // followed by 16 spare bytes: see appendLexeme
	lexAt   []uint32
	scratch sync.Pool // of *vecScratch
}

// lexPart is one lexeme of a word, at position offset (from 0) within the word.
type lexPart struct {
	offset uint8
	lex    int32
}

// maxVectorPos bounds the positions SearchVectors writes. PostgreSQL keeps at most 255
// positions per lexeme in to_tsvector (256 after ||) and clamps positions to 16383;
// below 256 neither limit can bite, so the cheapest exact rule is to give up beyond it.
// Generator articles stay under 160 positions.
const maxVectorPos = 255

// functionWords are learned besides the Generator's words so that text written by hand
// (edge cases in tests, fixtures) can hold common English words, stopwords among them.
// Whether each is a stopword is PostgreSQL's answer, not ours.
var functionWords = strings.Fields(`a an the of and or in on at to is it its by for with
	from as but not no this that these be are was were has have had into over`)

// lexiconQuery is ts_debug('english', w) cut down to what positions depend on: for each
// word, its tokens in order with the lexemes of the first dictionary that recognises
// them. Tokens no dictionary handles (blanks) are left out, as to_tsvector skips them
// without using a position; a stopword gives a row with a NULL lexeme, because it does
// use one. ts_debug itself answers the same but is about five times slower.
const lexiconQuery = `
SELECT u.i, p.ord, l.lexeme
FROM unnest($1::text[]) WITH ORDINALITY AS u(w, i)
CROSS JOIN LATERAL ts_parse(
	(SELECT cfgparser FROM pg_ts_config WHERE oid = 'english'::regconfig), u.w
) WITH ORDINALITY AS p(tokid, token, ord)
CROSS JOIN LATERAL (
	SELECT ts_lexize(m.mapdict, p.token) AS lexemes
	FROM pg_ts_config_map AS m
	WHERE m.mapcfg = 'english'::regconfig AND m.maptokentype = p.tokid
	ORDER BY ts_lexize(m.mapdict, p.token) IS NULL, m.mapseqno
	LIMIT 1
) AS d
LEFT JOIN LATERAL unnest(d.lexemes) AS l(lexeme) ON true
WHERE d.lexemes IS NOT NULL
ORDER BY u.i, p.ord`

// LoadLexicon asks PostgreSQL for the lexemes of every word a generator of articles can
// write (synth.Words), and of the functionWords, each in the case forms given.
func (s *Store) LoadLexicon(ctx context.Context, vocabulary []string) (*Lexicon, error) {
	if s.dialect != Postgres {
		return nil, fmt.Errorf("load lexicon: %s has no text search configuration", s.dialect)
	}
	words := slices.Clone(vocabulary)
	for _, w := range functionWords {
		for _, form := range []string{w, strings.ToUpper(w[:1]) + w[1:]} {
			if !slices.Contains(words, form) {
				words = append(words, form)
			}
		}
	}
	// database/sql directly (GORM would spell the array out as a list), traced likewise.
	end := s.traceStatement(ctx, "query", "pg_ts_config", lexiconQuery)
	rows, err := s.sqlDB.QueryContext(ctx, lexiconQuery, words)
	if err != nil {
		end(err, 0)
		return nil, fmt.Errorf("load lexicon: %w", err)
	}
	defer rows.Close()
	defer func() { end(rows.Err(), int64(len(words))) }()

	tokens := make([][]lexToken, len(words))
	refused := make([]bool, len(words))
	for rows.Next() {
		var (
			i, ord int64
			lexeme *string
		)
		if err := rows.Scan(&i, &ord, &lexeme); err != nil {
			return nil, fmt.Errorf("load lexicon: %w", err)
		}
		if i < 1 || i > int64(len(words)) {
			return nil, fmt.Errorf("load lexicon: word number %d out of range", i)
		}
		t := lexToken{ord: ord}
		if lexeme != nil {
			t.lexeme = *lexeme
		}
		ts := tokens[i-1]
		if n := len(ts); n > 0 && ts[n-1].ord == ord {
			// Several lexemes for one token: to_tsvector may or may not give them
			// their own positions (TSL_ADDPOS); refuse the word rather than guess.
			refused[i-1] = true
			continue
		}
		tokens[i-1] = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load lexicon: %w", err)
	}
	for i, w := range words {
		refused[i] = refused[i] || len(w) > maxWordLen || len(tokens[i]) > maxVectorPos ||
			slices.ContainsFunc(tokens[i], func(t lexToken) bool { return len(t.lexeme) > maxLexemeLen })
	}
	return newLexicon(words, tokens, refused), nil
}

// lexToken is a token of a word that uses a position, and its lexeme ("" for a stopword).
type lexToken struct {
	ord    int64 // rank among all the word's tokens, blanks included
	lexeme string
}

// maxLexemeLen keeps a quoted lexeme and its colon within 255 bytes (see Lexicon.lexAt).
// Stems of words of maxWordLen bytes are far shorter.
const maxLexemeLen = 100

// newLexicon builds the lexicon of words (the most frequent first) from their tokens,
// leaving out the words refused.
func newLexicon(words []string, tokens [][]lexToken, refused []bool) *Lexicon {
	var all []string
	for i, ts := range tokens {
		for _, t := range ts {
			if !refused[i] && t.lexeme != "" {
				all = append(all, t.lexeme)
			}
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	lexemeID := func(lexeme string) int32 {
		id, _ := slices.BinarySearch(all, lexeme)
		return int32(id)
	}

	l := &Lexicon{lexAt: make([]uint32, len(all))}
	var text strings.Builder
	for i, ts := range tokens {
		for _, t := range ts {
			if refused[i] || t.lexeme == "" {
				continue
			}
			if id := lexemeID(t.lexeme); l.lexAt[id] == 0 { // not written yet
				start := text.Len()
				text.WriteString(t.lexeme)
				text.WriteByte(0)
				l.lexAt[id] = uint32(start)<<8 | uint32(text.Len()-start)
			}
		}
	}
	l.lexText = append([]byte(text.String()), make([]byte, 16)...)

	// A word and its capitalised form share a slot when the database makes the same
	// lexemes of both (it lowercases by its own locale's rules, so this is checked, not
	// assumed); halving the table keeps more of it in cache.
	type entry struct {
		key   string
		form  int // index in words of the form whose tokens the slot holds
		cases uint8
	}
	var entries []entry
	at := make(map[string]int, len(words))
	sameLexemes := func(a, b lexToken) bool { return a.lexeme == b.lexeme }
	for i, w := range words {
		if refused[i] {
			continue // the trigger will handle articles holding this word
		}
		key, c := foldWord(w)
		if j, ok := at[key]; ok {
			if slices.EqualFunc(tokens[entries[j].form], tokens[i], sameLexemes) {
				entries[j].cases |= c
			}
			// Otherwise this form stays unknown, left to the trigger.
			continue
		}
		at[key] = len(entries)
		entries = append(entries, entry{key: key, form: i, cases: c})
	}
	l.words = newWordTable(len(entries))
	for _, e := range entries {
		ts := tokens[e.form]
		slot := wordSlot{len: uint8(len(e.key)), cases: e.cases, width: uint8(len(ts)), rest: uint32(len(l.parts))}
		copy(slot.word[:], e.key)
		for off, t := range ts {
			if t.lexeme == "" {
				continue // stopword: uses its position, leaves no lexeme
			}
			if slot.nparts == 0 {
				slot.lex, slot.off = lexemeID(t.lexeme), uint8(off)
			} else {
				l.parts = append(l.parts, lexPart{offset: uint8(off), lex: lexemeID(t.lexeme)})
			}
			slot.nparts++
		}
		l.words.insert(e.key, slot)
	}
	n := len(all)
	l.scratch.New = func() any {
		words := (n + 63) / 64
		return &vecScratch{slots: make([]vecSlot, n), met: make([]uint64, words), metWords: make([]uint64, (words+63)/64)}
	}
	return l
}

// wordTable is an open-addressing hash table of words. A lookup runs for every word of
// every seeded article, and most of its cost is cache misses: so a slot holds the word
// itself and its first lexeme (all a word has, unless hyphenated) in 32 bytes, half a
// cache line, and the hash is the one addText computes while it scans the word.
type wordTable struct {
	slots []wordSlot // a power of two long, at most three quarters full
	mask  uint32
}

// maxWordLen is the longest word a wordSlot holds; the Generator's longest is 17 bytes.
const maxWordLen = 19

// A slot holds a word with its first letter lowercased; cases tells which forms of it
// are known: as stored, or with that letter capitalised.
const (
	lowerCase   = 1 << iota // "film"
	capitalised             // "Film"
)

type wordSlot struct {
	lex    int32  // the word's first lexeme, at position offset off within the word
	rest   uint32 // parts[rest:rest+nparts-1] are its other lexemes (hyphenated words)
	len    uint8  // of word; 0 marks a free slot
	cases  uint8
	width  uint8 // positions the word uses
	nparts uint8 // lexemes it leaves: 0 for a stopword
	off    uint8
	word   [maxWordLen]byte
}

// foldWord returns w with its first letter lowercased, and which case w is in.
func foldWord(w string) (string, uint8) {
	if w != "" && isUpper(w[0]) {
		return string(w[0]+'a'-'A') + w[1:], capitalised
	}
	return w, lowerCase
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// hashWord is the FNV-1a hash of w with its first letter lowercased, as addText
// computes it byte by byte while it scans the word.
func hashWord(w string) uint32 {
	h := uint32(fnvOffset)
	for i := 0; i < len(w); i++ {
		c := w[i]
		if i == 0 && isUpper(c) {
			c += 'a' - 'A'
		}
		h = (h ^ uint32(c)) * fnvPrime
	}
	return h
}

// newWordTable returns a table sized for n words.
func newWordTable(n int) wordTable {
	size := 1
	for size*3 < n*4 {
		size *= 2
	}
	return wordTable{slots: make([]wordSlot, size), mask: uint32(size - 1)}
}

// insert adds key (a folded word, distinct from those already in, of 1 to maxWordLen
// bytes).
func (t *wordTable) insert(key string, s wordSlot) {
	i := hashWord(key) & t.mask
	for t.slots[i].len != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = s
}

// lookup finds word w of hash h (hashWord(w)).
func (t *wordTable) lookup(w string, h uint32) (*wordSlot, bool) {
	if w == "" {
		return nil, false
	}
	first, c := w[0], uint8(lowerCase)
	if isUpper(first) {
		first, c = first+'a'-'A', capitalised
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.len == 0 {
			return nil, false
		}
		if int(s.len) == len(w) && s.word[0] == first && string(s.word[1:len(w)]) == w[1:] {
			return s, s.cases&c != 0
		}
	}
}

// vecScratch is the working memory of one SearchVectors call, pooled across calls.
// Positions run from 1 to maxVectorPos and each holds at most one lexeme (a token with
// several is refused), so occurrences are kept by position in fixed arrays.
type vecScratch struct {
	// slots, indexed by lexeme id, chain the lexeme's positions; a slot is live only
	// when its gen is the scratch's current one, which spares clearing the array
	// between calls.
	slots []vecSlot
	gen   uint32
	// met is the bit set of the lexeme ids met: walking it lists them in order. Bit i
	// of metWords says whether met[i] may be non-zero, so that the walk (and clearing)
	// skips the empty stretches of a bit set much larger than an article.
	met      []uint64
	metWords []uint64
	nids     int
	ids      [maxVectorPos + 1]int32 // lexeme ids met so far, each once
	next     [maxVectorPos + 1]uint8
	weight   [maxVectorPos + 1]byte
	maxPos   int // the highest position holding a lexeme so far
}

// vecSlot chains the positions of one lexeme: first, then next[first], and so on up to
// last; next[last] is 0.
type vecSlot struct {
	gen         uint32
	first, last uint8
}

func (sc *vecScratch) reset() {
	sc.gen++
	if sc.gen == 0 {
		clear(sc.slots)
		sc.gen = 1
	}
	sc.walkMet(func(int32) {}) // clears it, after a call that gave up half way
	sc.nids = 0
	sc.maxPos = 0
}

// add records lexeme lex at pos (1 to maxVectorPos). Positions only grow within a call,
// so chains stay sorted.
func (sc *vecScratch) add(lex int32, pos uint8, weight byte) {
	sc.next[pos], sc.weight[pos] = 0, weight
	s := &sc.slots[lex]
	if s.gen != sc.gen {
		*s = vecSlot{gen: sc.gen, first: pos, last: pos}
		sc.ids[uint8(sc.nids)] = lex
		sc.nids++
		sc.met[lex>>6] |= 1 << (lex & 63)
		sc.metWords[lex>>12] |= 1 << (lex >> 6 & 63)
	} else {
		sc.next[s.last] = pos
		s.last = pos
	}
	sc.maxPos = int(pos)
}

// walkMet calls fn with the lexeme ids met, in increasing order, and clears them.
func (sc *vecScratch) walkMet(fn func(id int32)) {
	for i, summary := range sc.metWords {
		for summary != 0 {
			w := i<<6 + bits.TrailingZeros64(summary)
			summary &= summary - 1
			for word := sc.met[w]; word != 0; word &= word - 1 {
				fn(int32(w<<6 + bits.TrailingZeros64(word)))
			}
			sc.met[w] = 0
		}
		sc.metWords[i] = 0
	}
}

// AppendSearchVectors appends to b the title_search and search vectors the trigger
// would compute for an article, as two fields of a row of binary COPY: each its length,
// then tsvector's binary form (the number of lexemes; each lexeme NUL-terminated, in
// PostgreSQL's order, then its number of positions and each position, its weight in the
// top two bits). ok is false, and b returned as given, when the article holds a token
// the lexicon does not know (it was not made by Generator): the caller then leaves the
// vectors to the trigger.
//
// PostgreSQL reads that form without parsing: the text form's tokenising cost a tenth
// of the seed's CPU.
func (l *Lexicon) AppendSearchVectors(b []byte, a NewArticle) (_ []byte, ok bool) {
	sc := l.scratch.Get().(*vecScratch)
	defer l.scratch.Put(sc)
	sc.reset()

	// The trigger computes setweight(to_tsvector(title), 'A') || tags 'B' || author 'B'
	// || content 'C'. Each || shifts its right side by the highest position present on
	// its left, which is not the left's token count when it ends in stopwords.
	given := len(b)
	if !l.addText(sc, a.Title, 'A') {
		return b, false
	}
	// The title has a few lexemes: sorting them beats walking the bit set.
	titleIDs := sc.ids[:sc.nids]
	slices.Sort(titleIDs)
	field := len(b)
	b = append(b, make([]byte, 8)...) // the field's length and the number of lexemes
	for _, id := range titleIDs {
		b = l.appendLexeme(b, sc, id)
	}
	endVector(b[field:], len(titleIDs))
	if !l.addTags(sc, a.Tags) || !l.addText(sc, a.Author, 'B') || !l.addText(sc, a.Content, 'C') {
		return b[:given], false
	}
	field = len(b)
	b = append(b, make([]byte, 8)...)
	n := 0
	sc.walkMet(func(id int32) {
		b = l.appendLexeme(b, sc, id)
		n++
	})
	endVector(b[field:], n)
	return b, true
}

// endVector fills in the length and the number of lexemes of the vector field f.
func endVector(f []byte, lexemes int) {
	binary.BigEndian.PutUint32(f, uint32(len(f)-4))
	binary.BigEndian.PutUint32(f[4:], uint32(lexemes))
}

// addText adds the lexemes of to_tsvector('english', s) with the given weight after
// those already met. It accepts only what it can parse exactly as PostgreSQL does:
// words of ASCII letters (hyphenated words included), spaces, and full stops followed
// by a space or the end of s (a full stop between letters would make a host name).
func (l *Lexicon) addText(sc *vecScratch, s string, weight byte) bool {
	base, cursor := sc.maxPos, 1
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case wordByte[c]:
			start := i
			if isUpper(c) {
				c += 'a' - 'A' // words are hashed as stored: see foldWord
			}
			h := (fnvOffset ^ uint32(c)) * fnvPrime
			for i++; i < len(s) && wordByte[s[i]]; i++ {
				h = (h ^ uint32(s[i])) * fnvPrime
			}
			var ok bool
			if cursor, ok = l.addWord(sc, s[start:i], h, base, cursor, weight); !ok {
				return false
			}
			continue
		case c == ' ':
		case c == '.':
			if i+1 < len(s) && s[i+1] != ' ' {
				return false
			}
		default:
			return false
		}
		i++
	}
	return true
}

// wordByte tells the bytes words are made of: ASCII letters and hyphens.
var wordByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	t['-'] = true
	return t
}()

// addTags adds the lexemes of to_tsvector('english', tags) where tags is the JSON text
// the tags are stored as (TagList.Value). Every word the lexicon knows is made of ASCII
// letters and hyphens, which JSON writes unescaped, and the JSON punctuation between
// them is blank to the parser: so known tags are all that needs checking.
func (l *Lexicon) addTags(sc *vecScratch, tags []string) bool {
	base, cursor := sc.maxPos, 1
	for _, t := range tags {
		var ok bool
		if cursor, ok = l.addWord(sc, t, hashWord(t), base, cursor, 'B'); !ok {
			return false
		}
	}
	return true
}

// addWord adds word w of hash h, whose first token takes position base+cursor, and
// returns the cursor after it.
func (l *Lexicon) addWord(sc *vecScratch, w string, h uint32, base, cursor int, weight byte) (int, bool) {
	s, ok := l.words.lookup(w, h)
	if !ok {
		return 0, false
	}
	if s.nparts > 0 {
		pos := base + cursor + int(s.off)
		if pos > maxVectorPos {
			return 0, false
		}
		sc.add(s.lex, uint8(pos), weight)
		for _, p := range l.parts[s.rest : s.rest+uint32(s.nparts-1)] {
			pos := base + cursor + int(p.offset)
			if pos > maxVectorPos {
				return 0, false
			}
			sc.add(p.lex, uint8(pos), weight)
		}
	}
	return cursor + int(s.width), true
}

// appendLexeme writes lexeme id and its positions in tsvector's binary form. A copy of
// a fixed 16 bytes, then cut to length, spares the calls to memmove that most of the
// work would otherwise be.
func (l *Lexicon) appendLexeme(b []byte, sc *vecScratch, id int32) []byte {
	at := l.lexAt[id]
	off, n := at>>8, int(at&0xff)
	b = slices.Grow(b, 18)
	if k := len(b); n <= 16 {
		b = b[:k+16]
		*(*[16]byte)(b[k:]) = [16]byte(l.lexText[off:])
		b = b[:k+n]
	} else {
		b = append(b, l.lexText[off:off+uint32(n)]...)
	}
	count := len(b)
	b = append(b, 0, 0)
	npos := uint16(0)
	for p := sc.slots[id].first; p != 0; p = sc.next[p] {
		b = binary.BigEndian.AppendUint16(b, weightBits[sc.weight[p]&3]|uint16(p))
		npos++
	}
	binary.BigEndian.PutUint16(b[count:], npos)
	return b
}

// weightBits are the top bits of a position of weight 'A', 'B' or 'C' (indexed by the
// letter's two low bits: 1, 2, 3), as PostgreSQL stores them: A is 3, D (none) 0.
var weightBits = [4]uint16{3: 1 << 14, 2: 2 << 14, 1: 3 << 14}
