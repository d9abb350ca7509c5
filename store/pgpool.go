package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// openPostgres opens one PostgreSQL pool: a pgx pool of at most opts.MaxOpenConns
// connections, and GORM's handle over it (database/sql borrowing the pool's connections
// one statement or transaction at a time). The hottest read, an article by id, goes to
// the pgx pool directly: database/sql's and GORM's layers were a tenth of its CPU.
func openPostgres(dsn string, loc Location, opts Options) (*gorm.DB, *sql.DB, *pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, nil, nil, connectError(loc, err)
	}
	cfg.MaxConns = int32(opts.MaxOpenConns)
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, nil, nil, connectError(loc, err)
	}
	// OpenDBFromPool keeps no idle connection of its own, so that database/sql never
	// holds connections the direct reads wait for.
	sqlDB := stdlib.OpenDBFromPool(pool)
	sqlDB.SetMaxOpenConns(opts.MaxOpenConns)
	db, _, err := openPool(postgres.New(postgres.Config{Conn: sqlDB}), loc, opts)
	if err != nil {
		_ = sqlDB.Close()
		pool.Close()
		return nil, nil, nil, err
	}
	return db, sqlDB, pool, nil
}

// getArticlePGSQL is getArticleSQL with PostgreSQL's placeholder.
var getArticlePGSQL = "SELECT " + selectArticle("a") + " FROM articles a " + withViews("a") + " WHERE a.id = $1"

// getArticlePG reads one article by id through a pgx pool: the statement is prepared
// once per connection (pgx's statement cache) and scanned without reflection.
func (s *Store) getArticlePG(ctx context.Context, pool *pgxpool.Pool, id int64) (Article, error) {
	end := s.traceStatement(ctx, "row", "articles", getArticlePGSQL)
	var a Article
	err := pool.QueryRow(ctx, getArticlePGSQL, id).
		Scan(&a.ID, &a.Title, &a.Content, &a.Author, &a.Tags, &a.Version, &a.CreatedAt, &a.UpdatedAt, &a.Views)
	if errors.Is(err, pgx.ErrNoRows) {
		end(nil, 0)
		return Article{}, ErrNotFound
	}
	if err != nil {
		end(err, 0)
		return Article{}, fmt.Errorf("get article %d: %w", id, s.classify(err))
	}
	end(nil, 1)
	return s.finish([]Article{a})[0], nil
}

// createArticleSQL stores an article and its tags in one statement, so one round trip
// and its own transaction: they are stored together or not at all.
const createArticleSQL = `WITH a AS (
		INSERT INTO articles (title, content, author, tags, version, created_at, updated_at, created_by)
		VALUES ($1, $2, $3, $4, 1, $5, $5, NULLIF($6, '')) RETURNING id),
	t AS (INSERT INTO article_tags (article_id, tag, created_at)
		SELECT a.id, tag, $5 FROM a, jsonb_array_elements_text(CAST($4 AS jsonb)) AS tag)
	SELECT id FROM a`

// createArticlePG runs createArticleSQL on the primary's pgx pool and sets a.ID.
func (s *Store) createArticlePG(ctx context.Context, a *Article) error {
	tags, err := a.Tags.Value()
	if err != nil {
		return err
	}
	end := s.traceStatement(ctx, "insert", "articles", createArticleSQL)
	err = s.pg.QueryRow(ctx, createArticleSQL, a.Title, a.Content, a.Author, tags, a.CreatedAt, a.CreatedBy).Scan(&a.ID)
	end(err, 1)
	return err
}
