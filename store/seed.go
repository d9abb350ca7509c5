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
			for _, c := range []struct {
				table, statement string
				data             *bytes.Buffer
			}{
				{"articles", `COPY articles (id, title, content, author, tags, version, created_at, updated_at, title_search, search) FROM STDIN`, &articles.buf},
				{"article_tags", `COPY article_tags (article_id, tag, created_at) FROM STDIN`, &tags.buf},
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
