package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"
)

// DemoCreator is the creator of the demo articles: it holds a ':', which no token name
// may, so an article a user wrote under a demo title is never taken for a demo article.
const DemoCreator = "articlesd:demo"

// SeedDemo stores the demo articles it is given that are not stored yet, as
// DemoCreator's, and returns how many it added, so running it again adds nothing. A demo
// article is known by its title and author among the articles DemoCreator made.
func (s *Store) SeedDemo(ctx context.Context, demo []NewArticle) (int, error) {
	added := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var fresh []Article
		for _, in := range demo {
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
	if added > 0 {
		if err := s.RefreshVocabulary(ctx); err != nil {
			return added, err
		}
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
//
// The articles of a bulk load are dated in the past, where a search's newest window does
// not reach: the search heads are marked stale (a serving articlesd rebuilds them within
// VocabularyEvery).
func (s *Store) BulkInsert(ctx context.Context, in []NewArticle, lex *Lexicon) error {
	if err := s.bulkInsert(ctx, in, lex); err != nil || len(in) == 0 {
		return err
	}
	return s.staleHeads(ctx)
}

func (s *Store) bulkInsert(ctx context.Context, in []NewArticle, lex *Lexicon) error {
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
			const draw = `SELECT nextval(pg_get_serial_sequence('articles', 'id')) FROM generate_series(1, $1)`
			end := s.traceStatement(ctx, "query", "articles", draw)
			rows, err := tx.Query(ctx, draw, len(in))
			if err != nil {
				end(err, 0)
				return err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					end(err, 0)
					return err
				}
				ids = append(ids, id)
			}
			end(rows.Err(), int64(len(ids)))
			if err := rows.Err(); err != nil {
				return err
			}
			// Binary COPY, written here: PostgreSQL reads it without parsing (the text
			// form's search vectors cost a tenth of a seed's CPU to tokenise), and pgx's
			// own would want the vectors as values of a type it does not have.
			articles, tags := newCopyBinary(), newCopyBinary()
			for i, a := range in {
				r := newRow(a)
				tagJSON, _ := r.Tags.Value()
				articles.row(10)
				articles.int8(ids[i])
				articles.text(r.Title)
				articles.text(r.Content)
				articles.text(r.Author)
				articles.text(tagJSON.(string))
				articles.int8(1)
				articles.timestamptz(r.CreatedAt)
				articles.timestamptz(r.CreatedAt)
				// Empty vectors leave the article to the trigger.
				ok := false
				if lex != nil {
					articles.b, ok = lex.AppendSearchVectors(articles.b, a)
				}
				if !ok {
					articles.emptyVector()
					articles.emptyVector()
				}
				for _, t := range r.Tags {
					tags.row(3)
					tags.int8(ids[i])
					tags.text(t)
					tags.timestamptz(r.CreatedAt)
				}
			}
			pg := tx.Conn().PgConn()
			for _, c := range []struct {
				table, statement string
				data             *bytes.Buffer
			}{
				{"articles", `COPY articles (id, title, content, author, tags, version, created_at, updated_at, title_search, search) FROM STDIN (FORMAT binary)`, articles.end()},
				{"article_tags", `COPY article_tags (article_id, tag, created_at) FROM STDIN (FORMAT binary)`, tags.end()},
			} {
				end := s.traceStatement(ctx, "copy", c.table, c.statement)
				n, err := pg.CopyFrom(ctx, c.data, c.statement)
				end(err, n.RowsAffected())
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("bulk insert: %w", s.classify(err))
	}
	return nil
}

// Analyze refreshes the planner's statistics and, on PostgreSQL, the visibility map
// (VACUUM), so that queries are planned for the data just loaded and index-only scans
// need not visit the table, and rebuilds the search vocabulary and the popular ranking.
// It is what a bulk load should end with.
//
// On PostgreSQL the vocabulary (ts_stat over every search vector: 7.5 s of one core at a
// million articles) is rebuilt on a connection of its own while the statistics and the
// ranking are, so that a load's last seconds use both cores.
func (s *Store) Analyze(ctx context.Context) error {
	stats := func(ctx context.Context) error {
		stmt := "ANALYZE"
		if s.dialect == Postgres {
			stmt = "VACUUM (ANALYZE) articles, article_tags, article_views"
		}
		if err := s.db.WithContext(ctx).Exec(stmt).Error; err != nil {
			return fmt.Errorf("analyze: %w", s.classify(err))
		}
		_, err := s.rebuildRanking(ctx, true)
		return err
	}
	if s.dialect != Postgres {
		if err := stats(ctx); err != nil {
			return err
		}
		return s.RefreshVocabulary(ctx)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return stats(gctx) })
	g.Go(func() error { return s.RefreshVocabulary(gctx) })
	return g.Wait()
}

// copyBinary builds the input of COPY … FROM STDIN (FORMAT binary): a header, then for
// each row its number of fields and each field's length and value in the type's binary
// form (what its receive function reads), then a trailer. Unlike the text form, it must
// match each column's type exactly (bigint, text, timestamptz, tsvector): a migration
// that changes one fails every bulk load at once (TestBulkInsertWithLexicon).
type copyBinary struct{ b []byte }

func newCopyBinary() *copyBinary {
	// The signature, then no flags and no header extension.
	return &copyBinary{b: append([]byte("PGCOPY\n\xff\r\n\x00"), 0, 0, 0, 0, 0, 0, 0, 0)}
}

// end appends the trailer and returns the whole input.
func (c *copyBinary) end() *bytes.Buffer {
	return bytes.NewBuffer(binary.BigEndian.AppendUint16(c.b, 0xffff))
}

func (c *copyBinary) row(fields int) { c.b = binary.BigEndian.AppendUint16(c.b, uint16(fields)) }

func (c *copyBinary) int8(v int64) {
	c.b = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(c.b, 8), uint64(v))
}

func (c *copyBinary) text(s string) {
	c.b = append(binary.BigEndian.AppendUint32(c.b, uint32(len(s))), s...)
}

// pgEpochMicros is where PostgreSQL counts timestamps from, 2000-01-01 UTC, in Unix
// microseconds.
const pgEpochMicros = 946_684_800_000_000

// timestamptz is microseconds since PostgreSQL's epoch; t has no finer part (newRow
// truncates).
func (c *copyBinary) timestamptz(t time.Time) { c.int8(t.UnixMicro() - pgEpochMicros) }

// emptyVector is a tsvector of no lexemes.
func (c *copyBinary) emptyVector() { c.b = append(binary.BigEndian.AppendUint32(c.b, 4), 0, 0, 0, 0) }
