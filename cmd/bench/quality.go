package bench

// This file holds the search-quality scenario: how closely the served search answer
// follows the ranking evaluated over every match, by how many articles match, and how
// often a misspelt word or a prefix still finds the articles of the word meant.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/synth"
)

// Serve runs one search as users get it and returns the ids of the answer, best first.
type Serve func(ctx context.Context, query string, limit int) ([]int64, error)

// QualityOptions are the sizes of a search-quality run.
type QualityOptions struct {
	Seed     uint64
	Queries  int // of the Zipf query mix
	Typos    int // misspelt words
	Prefixes int // prefixes of words
}

// bucket is a range of match counts.
type bucket struct {
	name     string
	below    int64 // matches < below
	queries  int
	over10   float64 // sums, divided by queries when printed
	over20   float64
	worst10  float64
	latency  []time.Duration
	examples []string // queries whose overlap@10 was below 0.9
}

// QualityReport is what a search-quality run measured.
type QualityReport struct {
	Buckets         []bucket
	Typos, Prefixes tally
	Missed          []string // typos and prefixes that found nothing of their word
}

// tally counts the searches of a kind that found the word meant.
type tally struct {
	Hits, Tried int
	Latency     []time.Duration
}

func newBuckets() []bucket {
	return []bucket{
		{name: "< 100", below: 100}, {name: "100–1k", below: 1000}, {name: "1k–10k", below: 10000},
		{name: "10k–100k", below: 100000}, {name: "> 100k", below: 1 << 62},
	}
}

// SearchQuality runs the search-quality scenario: the served answers (serve) against
// st.FindExhaustive, and typos and prefixes drawn from the generator's vocabulary.
func SearchQuality(ctx context.Context, st *store.Store, serve Serve, o QualityOptions) (QualityReport, error) {
	rep := QualityReport{Buckets: newBuckets()}
	gen := synth.NewGenerator(o.Seed, seedDays, time.Now())
	for range o.Queries {
		q := gen.SearchQuery()
		start := time.Now()
		served, err := serve(ctx, q, 20)
		took := time.Since(start)
		if err != nil {
			return rep, fmt.Errorf("search %q: %w", q, err)
		}
		ref, err := st.FindExhaustive(ctx, q, 20, 0)
		if err != nil {
			return rep, err
		}
		n, err := st.SearchMatches(ctx, q)
		if err != nil {
			return rep, err
		}
		want := make([]int64, len(ref.Articles))
		for i, a := range ref.Articles {
			want[i] = a.ID
		}
		b := &rep.Buckets[slices.IndexFunc(rep.Buckets, func(b bucket) bool { return n < b.below })]
		o10, o20 := overlap(served, want, 10), overlap(served, want, 20)
		if b.queries == 0 || o10 < b.worst10 {
			b.worst10 = o10
		}
		b.queries++
		b.over10 += o10
		b.over20 += o20
		b.latency = append(b.latency, took)
		if o10 < 0.9 && len(b.examples) < 3 {
			b.examples = append(b.examples, fmt.Sprintf("%q (%d matches): %.1f", q, n, o10))
		}
	}
	r := mrand.New(mrand.NewPCG(o.Seed, 7))
	words := vocabularyWords()
	// A word drawn as the articles draw theirs, of at least minLen letters.
	draw := func(minLen int) string {
		for {
			w := gen.SearchQuery()
			if i := slices.IndexFunc(words, func(v string) bool { return v == firstWord(w) }); i >= 0 && utf8.RuneCountInString(words[i]) >= minLen {
				return words[i]
			}
		}
	}
	// try searches for typed, meant as word, and counts it in t.
	try := func(t *tally, kind, typed, word string) error {
		hit, took, err := foundWord(ctx, st, serve, typed, word)
		if err != nil {
			return err
		}
		t.Tried++
		t.Latency = append(t.Latency, took)
		if hit {
			t.Hits++
		} else if len(rep.Missed) < 20 {
			rep.Missed = append(rep.Missed, fmt.Sprintf("%s %q for %q", kind, typed, word))
		}
		return nil
	}
	for rep.Typos.Tried < o.Typos {
		w := draw(5)
		edits := 1
		if utf8.RuneCountInString(w) >= 9 {
			edits = 2
		}
		typo := misspell(r, w, edits)
		if slices.Contains(words, typo) {
			continue // not a misspelling: another word
		}
		if err := try(&rep.Typos, "typo", typo, w); err != nil {
			return rep, err
		}
	}
	for rep.Prefixes.Tried < o.Prefixes {
		w := draw(6)
		p := string([]rune(w)[:3+r.IntN(utf8.RuneCountInString(w)-3)])
		if err := try(&rep.Prefixes, "prefix", p, w); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// foundWord searches for typed and says whether its first ten results include an article
// that holds word.
func foundWord(ctx context.Context, st *store.Store, serve Serve, typed, word string) (bool, time.Duration, error) {
	start := time.Now()
	ids, err := serve(ctx, typed, 10)
	took := time.Since(start)
	if err != nil {
		return false, took, fmt.Errorf("search %q: %w", typed, err)
	}
	holding, err := st.Matching(ctx, word, ids)
	return len(holding) > 0, took, err
}

// overlap is the share of the reference's first k that the served first k hold (1 when
// the reference is empty and so is the answer).
func overlap(served, ref []int64, k int) float64 {
	served, ref = served[:min(k, len(served))], ref[:min(k, len(ref))]
	if len(ref) == 0 {
		if len(served) == 0 {
			return 1
		}
		return 0
	}
	n := 0
	for _, id := range ref {
		if slices.Contains(served, id) {
			n++
		}
	}
	return float64(n) / float64(len(ref))
}

// vocabularyWords are the generator's words in lower case, most frequent first.
func vocabularyWords() []string {
	var out []string
	for _, w := range synth.Words() {
		if r, _ := utf8.DecodeRuneInString(w); r >= 'a' && r <= 'z' {
			out = append(out, w)
		}
	}
	return out
}

func firstWord(q string) string {
	for i, r := range q {
		if r == ' ' {
			return q[:i]
		}
	}
	return q
}

// misspell applies edits random edits to w: a letter replaced, dropped, added, or two
// neighbours swapped.
func misspell(r *mrand.Rand, w string, edits int) string {
	rs := []rune(w)
	for range edits {
		i := r.IntN(len(rs))
		letter := rune('a' + r.IntN(26))
		switch r.IntN(4) {
		case 0:
			rs[i] = letter
		case 1:
			if len(rs) > 1 {
				rs = slices.Delete(rs, i, i+1)
			}
		case 2:
			rs = slices.Insert(rs, i, letter)
		default:
			if i+1 < len(rs) {
				rs[i], rs[i+1] = rs[i+1], rs[i]
			}
		}
	}
	return string(rs)
}

// print writes the report as Markdown tables.
func (rep QualityReport) print(w io.Writer) {
	fmt.Fprintln(w, "| matches | queries | overlap@10 | worst@10 | overlap@20 | p50 | p95 | max |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, b := range rep.Buckets {
		if b.queries == 0 {
			fmt.Fprintf(w, "| %s | 0 | - | - | - | - | - | - |\n", b.name)
			continue
		}
		lat := result{latencies: slices.Clone(b.latency)}
		slices.Sort(lat.latencies)
		fmt.Fprintf(w, "| %s | %d | %.3f | %.1f | %.3f | %s | %s | %s |\n", b.name, b.queries,
			b.over10/float64(b.queries), b.worst10, b.over20/float64(b.queries),
			fmtDuration(lat.percentile(0.5)), fmtDuration(lat.percentile(0.95)), fmtDuration(lat.percentile(1)))
	}
	fmt.Fprintln(w)
	for _, k := range []struct {
		name string
		t    tally
	}{{"typos", rep.Typos}, {"prefixes", rep.Prefixes}} {
		if k.t.Tried == 0 {
			continue
		}
		lat := result{latencies: slices.Clone(k.t.Latency)}
		slices.Sort(lat.latencies)
		fmt.Fprintf(w, "- %s: %d of %d found the word meant in their first 10 results (%.0f%%), p95 %s\n",
			k.name, k.t.Hits, k.t.Tried, 100*float64(k.t.Hits)/float64(k.t.Tried), fmtDuration(lat.percentile(0.95)))
	}
	for _, b := range rep.Buckets {
		for _, e := range b.examples {
			fmt.Fprintf(w, "- below 0.9 (%s): %s\n", b.name, e)
		}
	}
	for _, m := range rep.Missed {
		fmt.Fprintf(w, "- missed: %s\n", m)
	}
}

// PrintQuality writes the report as Markdown.
func PrintQuality(w io.Writer, rep QualityReport) { rep.print(w) }

// Sizes of the bench's search-quality scenario.
const (
	qualityQueries  = 150
	qualityTypos    = 40
	qualityPrefixes = 40
)

// searchQuality runs the search-quality scenario against the child articlesd, the
// reference read from the database directly.
func (sr *scenarioRun) searchQuality(ctx context.Context) error {
	st, err := store.Open(ctx, sr.o.DatabaseURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RefreshVocabulary(ctx); err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	serve := func(ctx context.Context, query string, limit int) ([]int64, error) {
		return searchHTTP(ctx, client, sr.base, query, limit)
	}
	start := time.Now()
	rep, err := SearchQuality(ctx, st, serve, QualityOptions{Seed: sr.o.Seed, Queries: qualityQueries, Typos: qualityTypos, Prefixes: qualityPrefixes})
	if err != nil {
		return fmt.Errorf("search-quality: %w", err)
	}
	fmt.Fprintf(sr.out, "search-quality: %d queries, %d typos, %d prefixes in %s\n", qualityQueries, qualityTypos, qualityPrefixes, time.Since(start).Round(time.Second))
	rep.print(sr.out)
	sr.quality = &rep
	return nil
}

// searchHTTP asks the server at base for a search and returns the ids of the answer.
func searchHTTP(ctx context.Context, client *http.Client, base, query string, limit int) ([]int64, error) {
	u := base + "/articles/search?" + url.Values{"query": {query}, "limit": {strconv.Itoa(limit)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	var found []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &found); err != nil {
		return nil, err
	}
	ids := make([]int64, len(found))
	for i, a := range found {
		if ids[i], err = strconv.ParseInt(a.ID, 10, 64); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
