package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// withPGConn runs f on a pgx connection of a database/sql pool. database/sql keeps the
// pooling (a connection is dialled under the request's context and given up with it,
// which TestDatabaseCutOff relies on); f talks to PostgreSQL in pgx's own terms: the
// statement prepared once per connection (pgx's statement cache), the row scanned
// without database/sql's conversions or GORM's reflection. The read of an article by id
// and the create, the hottest statements, run this way.
func withPGConn(ctx context.Context, db *sql.DB, f func(*pgx.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("the PostgreSQL driver's connection is a %T", dc)
		}
		return f(c.Conn())
	})
}

// getArticlePGSQL is getArticleSQL with PostgreSQL's placeholder.
var getArticlePGSQL = "SELECT " + selectArticle("a") + " FROM articles a " + withViews("a") + " WHERE a.id = $1"

// getArticlePG reads one article by id through withPGConn.
func (s *Store) getArticlePG(ctx context.Context, db *sql.DB, id int64) (Article, error) {
	return s.readArticle(ctx, getArticlePGSQL, id, func(dest ...any) error {
		return withPGConn(ctx, db, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, getArticlePGSQL, id).Scan(dest...)
		})
	})
}

// createArticleSQL stores an article and its tags in one statement, so one round trip
// and its own transaction: they are stored together or not at all.
const createArticleSQL = `WITH a AS (
		INSERT INTO articles (title, content, author, tags, version, created_at, updated_at, created_by)
		VALUES ($1, $2, $3, $4, 1, $5, $5, NULLIF($6, '')) RETURNING id),
	t AS (INSERT INTO article_tags (article_id, tag, created_at)
		SELECT a.id, tag, $5 FROM a, jsonb_array_elements_text(CAST($4 AS jsonb)) AS tag)
	SELECT id FROM a`

// createArticlePG runs createArticleSQL on the primary, through withPGConn, and sets a.ID.
func (s *Store) createArticlePG(ctx context.Context, a *Article) error {
	tags, err := a.Tags.Value()
	if err != nil {
		return err
	}
	end := s.traceStatement(ctx, "insert", "articles", createArticleSQL)
	err = withPGConn(ctx, s.sqlDB, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, createArticleSQL, a.Title, a.Content, a.Author, tags, a.CreatedAt, a.CreatedBy).Scan(&a.ID)
	})
	end(err, 1)
	return err
}
