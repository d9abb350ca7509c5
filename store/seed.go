package store

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// demoArticles is the hand-written demo set that `articlesd seed` loads.
var demoArticles = []NewArticle{
	{Title: "The Art of Storytelling in 'Inception'", Author: "Christopher Nolan", Tags: []string{"blockbuster", "sci-fi", "storytelling"},
		Content:   "Inception folds a heist film into a dream within a dream. Each layer runs on its own clock, and the editing keeps four timelines legible at once.",
		CreatedAt: time.Date(2024, 1, 1, 9, 30, 0, 0, time.UTC)},
	{Title: "Directing Masterpieces: The Nolan Method", Author: "Christopher Nolan", Tags: []string{"directing", "blockbuster"},
		Content:   "Practical effects, large-format cameras and a fondness for non-linear structure: a look at how Nolan plans a production from the script to the IMAX print.",
		CreatedAt: time.Date(2024, 1, 1, 14, 0, 0, 0, time.UTC)},
	{Title: "Revolutionizing Cinema: The Impact of 'Interstellar'", Author: "Christopher Nolan", Tags: []string{"sci-fi", "blockbuster", "science"},
		Content:   "Interstellar worked with physicists to render a black hole that was later cited in research papers. Its score, built around a church organ, is as memorable as its visuals.",
		CreatedAt: time.Date(2024, 1, 2, 10, 15, 0, 0, time.UTC)},
	{Title: "The Evolution of Special Effects in Sci-Fi", Author: "Ridley Scott", Tags: []string{"special effects", "sci-fi"},
		Content:   "Special effects have transformed the way we experience movies, with advancements bringing unimaginable worlds to life, from miniatures and matte paintings to digital doubles.",
		CreatedAt: time.Date(2024, 1, 3, 8, 0, 0, 0, time.UTC)},
	{Title: "Cinematography in Blade Runner", Author: "Ridley Scott", Tags: []string{"cinematography", "sci-fi", "neo-noir"},
		Content:   "Smoke, neon and shafts of light through rotating fans: Jordan Cronenweth's cinematography gave Blade Runner a rain-soaked Los Angeles that still defines the look of the future.",
		CreatedAt: time.Date(2024, 1, 3, 16, 45, 0, 0, time.UTC)},
	{Title: "Building Tension in 'Alien'", Author: "Ridley Scott", Tags: []string{"horror", "sci-fi"},
		Content:   "Alien shows its creature for barely four minutes. Sound design, tight corridors and a patient edit do the rest of the work.",
		CreatedAt: time.Date(2024, 1, 4, 11, 0, 0, 0, time.UTC)},
	{Title: "Practical Worlds: Designing Dune's Arrakis", Author: "Denis Villeneuve", Tags: []string{"production design", "sci-fi", "blockbuster"},
		Content:   "The desert scenes of Dune were shot in Jordan and Abu Dhabi, with sand-coloured screens instead of green ones so that the light on the actors stayed true.",
		CreatedAt: time.Date(2024, 1, 5, 9, 0, 0, 0, time.UTC)},
	{Title: "Silence and Language in 'Arrival'", Author: "Denis Villeneuve", Tags: []string{"sci-fi", "drama"},
		Content:   "Arrival is a first-contact film about translation. Its circular logograms were designed with linguists and drive both the plot and the editing.",
		CreatedAt: time.Date(2024, 1, 6, 13, 20, 0, 0, time.UTC)},
	{Title: "The Long Take in 'Children of Men'", Author: "Alfonso Cuarón", Tags: []string{"cinematography", "long take", "dystopia"},
		Content:   "The car ambush and the battle in Bexhill are single continuous shots. Rigs built for the film let the camera move through a car with the actors inside.",
		CreatedAt: time.Date(2024, 1, 7, 18, 0, 0, 0, time.UTC)},
	{Title: "Gravity and the Light Box", Author: "Alfonso Cuarón", Tags: []string{"special effects", "cinematography"},
		Content:   "To light faces as if in orbit, Gravity surrounded its actors with LED panels playing the Earth and the Sun, a technique later used by many productions.",
		CreatedAt: time.Date(2024, 1, 8, 7, 30, 0, 0, time.UTC)},
	{Title: "Framing Symmetry: Wes Anderson's Grand Budapest Hotel", Author: "Wes Anderson", Tags: []string{"production design", "comedy"},
		Content:   "Three aspect ratios mark three eras of the hotel. Centred compositions, pastel palettes and miniature models give the film its storybook feel.",
		CreatedAt: time.Date(2024, 1, 9, 12, 0, 0, 0, time.UTC)},
	{Title: "Sound as Story in 'Oppenheimer'", Author: "Christopher Nolan", Tags: []string{"sound design", "drama", "blockbuster"},
		Content:   "The Trinity test is shown in silence before the blast arrives. Oppenheimer uses sound, and its absence, to put the audience inside the physicist's head.",
		CreatedAt: time.Date(2024, 1, 10, 20, 0, 0, 0, time.UTC)},
}

// DemoArticles returns the hand-written demo set (a copy: callers may change it).
func DemoArticles() []NewArticle {
	out := make([]NewArticle, len(demoArticles))
	for i, a := range demoArticles {
		a.Tags = append([]string(nil), a.Tags...)
		out[i] = a
	}
	return out
}

// DemoCreator is the creator of the demo articles: it holds a ':', which no token name
// may, so an article a user wrote under a demo title is never taken for a demo article.
const DemoCreator = "articlesd:demo"

// SeedDemo stores the demo articles that are not stored yet and returns how many it
// added, so running it again adds nothing. A demo article is known by its title and
// author among the articles DemoCreator made.
func (s *Store) SeedDemo(ctx context.Context) (int, error) {
	added := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var fresh []Article
		for _, in := range DemoArticles() {
			var n int64
			err := tx.Model(&Article{}).Where("title = ? AND author = ? AND created_by = ?", in.Title, in.Author, DemoCreator).Count(&n).Error
			if err != nil {
				return err
			}
			if n == 0 {
				in.CreatedBy = DemoCreator
				fresh = append(fresh, newRow(in))
			}
		}
		if err := insertArticles(tx, fresh); err != nil {
			return err
		}
		added = len(fresh)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seed demo articles: %w", err)
	}
	return added, nil
}

// InsertArticles stores a batch of articles in one transaction, with multi-row inserts.
func (s *Store) InsertArticles(ctx context.Context, in []NewArticle) error {
	rows := make([]Article, len(in))
	for i, a := range in {
		rows[i] = newRow(a)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return insertArticles(tx, rows)
	})
	if err != nil {
		return fmt.Errorf("insert articles: %w", err)
	}
	return nil
}

func insertArticles(tx *gorm.DB, rows []Article) error {
	if len(rows) == 0 {
		return nil
	}
	if err := tx.CreateInBatches(rows, 1000).Error; err != nil {
		return err
	}
	return insertTags(tx, rows)
}

// BulkInsert stores a large batch of articles in one transaction, the fastest way the
// database offers: on PostgreSQL the ids are drawn from the table's sequence ahead and
// the rows are streamed with COPY; on the embedded database it is InsertArticles. It is
// what `articlesd seed --count` uses.
//
// With a lexicon (PostgreSQL only; nil otherwise), the search vectors of the articles it
// knows every word of are computed here and kept by the insert trigger, which otherwise
// spends most of a bulk load's time parsing text.
func (s *Store) BulkInsert(ctx context.Context, in []NewArticle, lex *Lexicon) error {
	if s.dialect != Postgres || len(in) == 0 {
		return s.InsertArticles(ctx, in)
	}
	conn, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("bulk insert: %w", s.classify(err))
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		return pgx.BeginFunc(ctx, pc, func(tx pgx.Tx) error {
			// New entries of the full-text indexes go to their pending lists and are merged
			// in large sorted runs, much cheaper than one index insertion per word.
			settings := `SET LOCAL gin_pending_list_limit = '64MB'; SET LOCAL work_mem = '64MB'`
			if lex != nil {
				settings += `; SET LOCAL articlesd.search_vectors_given = 'on'`
			}
			if _, err := tx.Exec(ctx, settings); err != nil {
				return err
			}
			ids := make([]int64, 0, len(in))
			rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('articles', 'id')) FROM generate_series(1, $1)`, len(in))
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				ids = append(ids, id)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			// COPY in text form, written here: pgx's binary COPY would parse every search
			// vector from text only to encode it again, which cost more than the rest of
			// the load on the Go side.
			var articles, tags copyText
			for i, a := range in {
				r := newRow(a)
				tagJSON, _ := r.Tags.Value()
				// An empty vector leaves the article to the trigger.
				var title, full string
				if lex != nil {
					title, full, _ = lex.SearchVectors(a)
				}
				id := strconv.FormatInt(ids[i], 10)
				created := r.CreatedAt.Format(time.RFC3339Nano)
				articles.row(id, r.Title, r.Content, r.Author, tagJSON.(string), "1", created, created, title, full)
				for _, t := range r.Tags {
					tags.row(id, t, created)
				}
			}
			pg := tx.Conn().PgConn()
			if _, err := pg.CopyFrom(ctx, &articles.buf, `COPY articles (id, title, content, author, tags, version, created_at, updated_at, title_search, search) FROM STDIN`); err != nil {
				return err
			}
			_, err = pg.CopyFrom(ctx, &tags.buf, `COPY article_tags (article_id, tag, created_at) FROM STDIN`)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("bulk insert: %w", s.classify(err))
	}
	return nil
}

// Analyze refreshes the planner's statistics and, on PostgreSQL, the visibility map
// (VACUUM), so that queries are planned for the data just loaded and index-only scans
// need not visit the table. It is what a bulk load should end with.
func (s *Store) Analyze(ctx context.Context) error {
	stmt := "ANALYZE"
	if s.dialect == Postgres {
		stmt = "VACUUM (ANALYZE) articles, article_tags, article_views"
	}
	if err := s.db.WithContext(ctx).Exec(stmt).Error; err != nil {
		return fmt.Errorf("analyze: %w", s.classify(err))
	}
	return nil
}

// copyText builds the input of COPY … FROM STDIN in PostgreSQL's text format.
type copyText struct{ buf bytes.Buffer }

// copyEscaper escapes what the text format gives a meaning to.
var copyEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func (c *copyText) row(fields ...string) {
	for i, f := range fields {
		if i > 0 {
			c.buf.WriteByte('\t')
		}
		_, _ = copyEscaper.WriteString(&c.buf, f)
	}
	c.buf.WriteByte('\n')
}
