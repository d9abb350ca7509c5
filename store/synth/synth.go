// Package synth makes articles for demos and load tests: the hand-written demo set that
// `articlesd seed` loads, and a generator of synthetic articles (Zipf-distributed words,
// authors, tags and days) for `seed --count` and the benchmarks. It is test data, not
// storage: the store only loads what it is given.
package synth

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/articlesd/articlesd/store"
)

// Generator makes synthetic articles for `articlesd seed --count`: varied authors, tags,
// creation days and text. Words follow a Zipf law over a large vocabulary, as in real
// text, so that searches meet both very common and rare words.
type Generator struct {
	r       *rand.Rand
	words   *rand.Zipf
	tags    *rand.Zipf
	authors *rand.Zipf
	until   time.Time
	days    int
}

var commonWords = strings.Fields(`film movie story scene camera light director actor actress
	screen sound music score editing frame shot color colour night city future space time war
	love family dream memory world history hero villain journey ship planet star earth ocean
	desert forest mountain river road house war machine robot alien monster ghost detective
	crime police murder mystery heist escape chase battle army king queen empire rebellion
	island winter summer storm fire water stone glass mirror shadow silence voice letter
	photograph painting theatre stage festival premiere audience critic review budget studio
	producer writer script dialogue character performance costume makeup design set location
	lens format print digital practical effect model miniature animation documentary comedy
	drama horror thriller western musical romance fantasy science fiction noir epic sequel
	trilogy franchise remake adaptation novel play opera soundtrack composer orchestra theme
	rhythm tension suspense pace montage cut transition close wide angle tracking crane drone
	handheld steadicam lighting contrast texture grain palette symmetry composition framing`)

var syllables = strings.Fields(`ka lo mi ne ra tu sa ve di po ri la mo ze ta ni ko be su
	ga fi ro le du mar ten vis cor lan tri sol nor bel fen dra qui hal zor pem lux`)

var firstNames = strings.Fields(`Ada Alan Amara Ben Carla Chen Dana Diego Elif Emil Farah Felix
	Greta Hana Ivan Jonas Kira Lars Lena Malik Mei Nadia Omar Paula Quinn Rosa Sami Tariq Uma
	Vera Wim Xenia Yara Zoe`)

var lastNames = strings.Fields(`Abbott Berg Costa Duval Eriksen Ferreira Garcia Haddad Ito
	Jensen Kowalski Laurent Moreau Novak Okafor Petrov Quintero Rossi Sato Tanaka Ueda Varga
	Weber Xu Yilmaz Zhang`)

var tagWords = strings.Fields(`sci-fi drama comedy horror thriller documentary animation
	western noir romance fantasy musical blockbuster indie classic cinematography directing
	editing sound-design production-design special-effects screenwriting acting festival
	review interview history box-office streaming restoration criticism`)

const vocabularySize = 20000

// vocabulary is the word list behind the Zipf draws: common film words first, then
// made-up words built from syllables for the long tail.
var vocabulary = func() []string {
	words := append([]string(nil), commonWords...)
	seen := map[string]bool{}
	for _, w := range words {
		seen[w] = true
	}
	n := len(syllables)
	for i := 0; len(words) < vocabularySize; i++ {
		w := syllables[i%n] + syllables[(i/n)%n]
		if i >= n*n {
			w += syllables[(i/(n*n))%n]
		}
		if !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
}()

// NewGenerator returns a generator whose output depends only on seed: articles are
// created on days spread over the `days` days before until.
func NewGenerator(seed uint64, days int, until time.Time) *Generator {
	if days < 1 {
		days = 1
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &Generator{
		r:       r,
		words:   rand.NewZipf(r, 1.07, 2, uint64(len(vocabulary)-1)),
		tags:    rand.NewZipf(r, 1.2, 1, uint64(len(tagWords)-1)),
		authors: rand.NewZipf(r, 1.1, 1, uint64(len(firstNames)*len(lastNames)-1)),
		until:   until.UTC(),
		days:    days,
	}
}

func (g *Generator) word() string { return vocabulary[g.words.Uint64()] }

func (g *Generator) sentence(minWords, maxWords int) string {
	n := minWords + g.r.IntN(maxWords-minWords+1)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.word()
	}
	return capitalize(strings.Join(parts, " "))
}

// Next returns the next synthetic article.
func (g *Generator) Next() store.NewArticle {
	var body strings.Builder
	for i, n := 0, 3+g.r.IntN(6); i < n; i++ {
		if i > 0 {
			body.WriteByte(' ')
		}
		body.WriteString(g.sentence(6, 16))
		body.WriteByte('.')
	}
	author := g.Author()
	tags := make([]string, 0, 4)
	for i, n := 0, g.r.IntN(5); i < n; i++ {
		t := g.Tag()
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	offset := time.Duration(g.r.Int64N(int64(g.days) * int64(24*time.Hour)))
	return store.NewArticle{
		Title:     g.sentence(3, 8),
		Content:   body.String(),
		Author:    author,
		Tags:      tags,
		CreatedAt: g.until.Add(-offset),
	}
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// SearchQuery returns one to three words drawn with the data's own (Zipf) frequencies:
// the query mix of the search benchmark. Common words match most articles, rare ones a
// handful.
func (g *Generator) SearchQuery() string {
	n := 1 + g.r.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.word()
	}
	return strings.Join(parts, " ")
}

// Tag returns a tag drawn as the generator draws the tags of its articles.
func (g *Generator) Tag() string { return tagWords[g.tags.Uint64()] }

// Author returns an author drawn as the generator draws the authors of its articles.
func (g *Generator) Author() string {
	a := g.authors.Uint64()
	return firstNames[a%uint64(len(firstNames))] + " " + lastNames[a/uint64(len(firstNames))]
}

// Words lists every word, as written, that Generator output can contain, the most
// frequent first (the vocabulary is in Zipf rank order): what store.LoadLexicon learns.
func Words() []string {
	n := 2 * (len(vocabulary) + len(tagWords) + len(firstNames) + len(lastNames))
	words := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for _, list := range [][]string{vocabulary, tagWords, firstNames, lastNames} {
		for _, w := range list {
			for _, form := range []string{w, capitalize(w)} { // sentences start with a capital
				if !seen[form] {
					seen[form] = true
					words = append(words, form)
				}
			}
		}
	}
	return words
}
