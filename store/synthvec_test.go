package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
	"github.com/articlesd/articlesd/store/synth"
)

var synthUntil = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// compareQuery computes, for each article, what the insert trigger computes
// (migrations/postgres/0003_title_search.up.sql) and reports where the given vectors
// differ from it, as values and as text.
const compareQuery = `
SELECT t.i, a.title::text, f.vec::text,
	t.given_title::tsvector IS DISTINCT FROM a.title OR t.given_title IS DISTINCT FROM a.title::text,
	t.given_full::tsvector IS DISTINCT FROM f.vec OR t.given_full IS DISTINCT FROM f.vec::text
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
	WITH ORDINALITY AS t(title, tags, author, content, given_title, given_full, i)
CROSS JOIN LATERAL (SELECT setweight(to_tsvector('english', t.title), 'A') AS title) AS a
CROSS JOIN LATERAL (SELECT
	a.title ||
	setweight(to_tsvector('english', t.tags), 'B') ||
	setweight(to_tsvector('english', t.author), 'B') ||
	setweight(to_tsvector('english', t.content), 'C') AS vec) AS f
ORDER BY t.i`

type vectors struct{ title, full string }

// mismatch is an article whose vectors differ from PostgreSQL's.
type mismatch struct {
	article  store.NewArticle
	got      vectors
	want     vectors
	badTitle bool
	badFull  bool
}

// compareWithPostgres checks the vectors of a batch of articles in one round trip and
// returns the articles whose vectors differ from the trigger's.
func compareWithPostgres(t *testing.T, conn *pgx.Conn, as []store.NewArticle, vs []vectors) []mismatch {
	t.Helper()
	cols := make([][]string, 6)
	for i, a := range as {
		tags, err := store.TagList(a.Tags).Value()
		if err != nil {
			t.Fatalf("tags of %+v: %v", a, err)
		}
		for c, v := range []string{a.Title, tags.(string), a.Author, a.Content, vs[i].title, vs[i].full} {
			cols[c] = append(cols[c], v)
		}
	}
	rows, err := conn.Query(context.Background(), compareQuery, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5])
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	defer rows.Close()
	var out []mismatch
	n := 0
	for rows.Next() {
		var (
			i                 int64
			want              vectors
			badTitle, badFull bool
		)
		if err := rows.Scan(&i, &want.title, &want.full, &badTitle, &badFull); err != nil {
			t.Fatalf("compare: %v", err)
		}
		n++
		if badTitle || badFull {
			out = append(out, mismatch{as[i-1], vs[i-1], want, badTitle, badFull})
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("compare: %v", err)
	}
	if n != len(as) {
		t.Fatalf("compare: PostgreSQL answered for %d articles of %d", n, len(as))
	}
	return out
}

func reportMismatches(t *testing.T, what string, ms []mismatch) {
	t.Helper()
	if len(ms) == 0 {
		return
	}
	m := ms[0]
	t.Errorf("%s: %d articles whose vectors differ from PostgreSQL's; first one (title differs: %v, search differs: %v):\n"+
		"article: %#v\ntitle ours:      %s\ntitle postgres:  %s\nsearch ours:     %s\nsearch postgres: %s",
		what, len(ms), m.badTitle, m.badFull, m.article, m.got.title, m.want.title, m.got.full, m.want.full)
}

// openLexicon returns the lexicon of a fresh PostgreSQL database and a connection to it.
func openLexicon(t *testing.T) (*store.Lexicon, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	url := storetest.URL(t, store.Postgres)
	s, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	start := time.Now()
	lex, err := s.LoadLexicon(ctx, synth.Words())
	if err != nil {
		t.Fatalf("LoadLexicon: %v", err)
	}
	t.Logf("lexicon loaded in %v", time.Since(start).Round(time.Millisecond))
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return lex, conn
}

func TestSearchVectors(t *testing.T) {
	lex, conn := openLexicon(t)

	t.Run("generator", func(t *testing.T) {
		const perSeed = 1000
		var (
			as []store.NewArticle
			vs []vectors
		)
		for seed := uint64(1); seed <= 4; seed++ {
			g := synth.NewGenerator(seed, 730, synthUntil)
			for range perSeed {
				a := g.Next()
				title, full, ok := lex.SearchVectors(a)
				if !ok {
					t.Fatalf("SearchVectors refused a Generator article (seed %d): %#v", seed, a)
				}
				as, vs = append(as, a), append(vs, vectors{title, full})
			}
		}
		var ms []mismatch
		for i := 0; i < len(as); i += perSeed {
			ms = append(ms, compareWithPostgres(t, conn, as[i:i+perSeed], vs[i:i+perSeed])...)
		}
		reportMismatches(t, "generator articles", ms)
		t.Logf("%d Generator articles, all accepted, %d differ from PostgreSQL", len(as), len(ms))
	})

	t.Run("edge cases", func(t *testing.T) {
		as := []store.NewArticle{
			{Title: "Film of the", Tags: []string{"sci-fi"}, Author: "Ada Abbott", Content: "Camera light."},
			{Title: "The of a", Tags: []string{"drama"}, Author: "Ada Abbott", Content: "Film."},
			{Title: "", Tags: nil, Author: "", Content: ""},
			{Title: "Film", Tags: []string{}, Author: "Zoe Zhang", Content: "Film film."},
			{Title: "Story", Tags: []string{"sci-fi", "drama", "box-office"}, Author: "Mei Xu", Content: "Story."},
			{Title: "Story", Tags: []string{"special-effects"}, Author: "Mei Xu", Content: "The story. A film of the future."},
			{Title: "The film", Tags: []string{"drama", "sound-design"}, Author: "Uma Ueda", Content: "The. The film is the story of a sci-fi film. Film the"},
			{Title: "Film film film", Tags: []string{"film", "noir"}, Author: "Omar Okafor", Content: "Film noir. Noir film."},
			{Title: "Kalo mine", Tags: []string{"production-design", "the"}, Author: "Ivan Ito", Content: "  Kalo   mine .  Film.  "},
			{Title: "The", Tags: []string{"the"}, Author: "Ada Abbott", Content: "The"},
			{Title: "Film", Tags: []string{"box-office"}, Author: "Ada Abbott", Content: strings.Repeat("film ", 200)},
			{Title: "Box-office film", Tags: []string{"Sci-fi", "Drama"}, Author: "Lena Laurent", Content: "Sci-fi. Noir sci-fi."},
		}
		vs := make([]vectors, len(as))
		for i, a := range as {
			title, full, ok := lex.SearchVectors(a)
			if !ok {
				t.Fatalf("SearchVectors refused %#v", a)
			}
			vs[i] = vectors{title, full}
		}
		reportMismatches(t, "edge cases", compareWithPostgres(t, conn, as, vs))

		// The first case spelt out: the title's highest position is 1, not 3, so the
		// tags start at 2, and the hyphenated tag gives the compound then its parts.
		want := vectors{
			title: "'film':1A",
			full:  "'abbott':6B 'ada':5B 'camera':7C 'fi':4B 'film':1A 'light':8C 'sci':3B 'sci-fi':2B",
		}
		if vs[0] != want {
			t.Errorf("vectors of %#v:\ngot  %+v\nwant %+v", as[0], vs[0], want)
		}
	})

	t.Run("refused", func(t *testing.T) {
		base := store.NewArticle{Title: "Film", Tags: []string{"drama"}, Author: "Ada Abbott", Content: "Film."}
		cases := map[string]func(a *store.NewArticle){
			"unknown word":           func(a *store.NewArticle) { a.Content = "Film xylophone." },
			"unknown tag":            func(a *store.NewArticle) { a.Tags = []string{"drama", "Sci-Fi"} },
			"empty tag":              func(a *store.NewArticle) { a.Tags = []string{""} },
			"tag with quote":         func(a *store.NewArticle) { a.Tags = []string{`dra"ma`} },
			"non-ASCII":              func(a *store.NewArticle) { a.Title = "Café film" },
			"non-ASCII tag":          func(a *store.NewArticle) { a.Tags = []string{"dräma"} },
			"upper case":             func(a *store.NewArticle) { a.Title = "FILM" },
			"digit":                  func(a *store.NewArticle) { a.Content = "Film 2049." },
			"full stop inside word":  func(a *store.NewArticle) { a.Content = "Film.noir" },
			"tab":                    func(a *store.NewArticle) { a.Content = "Film\tnoir." },
			"lowercase author":       func(a *store.NewArticle) { a.Author = "ada abbott" },
			"dangling hyphen":        func(a *store.NewArticle) { a.Content = "Film- noir." },
			"more than 255 position": func(a *store.NewArticle) { a.Content = strings.Repeat("film ", 300) },
		}
		for name, change := range cases {
			a := base
			change(&a)
			if title, full, ok := lex.SearchVectors(a); ok {
				t.Errorf("%s: SearchVectors accepted %#v: %q %q", name, a, title, full)
			}
		}
		if _, _, ok := lex.SearchVectors(base); !ok {
			t.Errorf("SearchVectors refused the unchanged base article %#v", base)
		}
	})

	t.Run("comparison detects errors", func(t *testing.T) {
		// A test that cannot fail is worse than none: a vector shifted by one must show.
		a := store.NewArticle{Title: "Film", Tags: []string{"drama"}, Author: "Ada Abbott", Content: "Film."}
		if ms := compareWithPostgres(t, conn, []store.NewArticle{a}, []vectors{{"'film':2A", "'abbott':4B 'ada':3B 'drama':2B 'film':1A,6C"}}); len(ms) != 1 || !ms[0].badTitle || !ms[0].badFull {
			t.Errorf("comparison missed wrong vectors: %+v", ms)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		g := synth.NewGenerator(9, 730, synthUntil)
		as := make([]store.NewArticle, 500)
		want := make([]vectors, len(as))
		for i := range as {
			as[i] = g.Next()
			want[i].title, want[i].full, _ = lex.SearchVectors(as[i])
		}
		var wg sync.WaitGroup
		errs := make(chan string, 4)
		for w := range 4 {
			wg.Go(func() {
				for i := range as {
					j := (i + w*97) % len(as)
					title, full, ok := lex.SearchVectors(as[j])
					if !ok || (vectors{title, full}) != want[j] {
						errs <- as[j].Title
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for title := range errs {
			t.Errorf("concurrent SearchVectors differs for article %q", title)
		}
	})
}

func BenchmarkSearchVectors(b *testing.B) {
	s := storetest.Open(b, store.Postgres)
	lex, err := s.LoadLexicon(context.Background(), synth.Words())
	if err != nil {
		b.Fatalf("LoadLexicon: %v", err)
	}
	g := synth.NewGenerator(1, 730, synthUntil)
	as := make([]store.NewArticle, 4096)
	for i := range as {
		as[i] = g.Next()
	}
	b.ReportAllocs()
	var buf []byte
	for i := 0; b.Loop(); i++ {
		var ok bool
		if buf, ok = lex.AppendSearchVectors(buf[:0], as[i%len(as)]); !ok {
			b.Fatal("article refused")
		}
	}
}
