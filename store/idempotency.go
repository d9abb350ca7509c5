package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// A create may carry an idempotency key (the Idempotency-Key header: the IETF httpapi
// draft, with Stripe's semantics): the first create of a key stores the article and the
// key together, in one transaction; another with the same key and the same article
// finds the key and is given the first create's article, as it was answered then; the
// same key with another article is ErrIdempotencyMismatch. Keys live in the database, so
// every replica sees them, and a failover keeps them with the rest.

// ErrIdempotencyMismatch says that an idempotency key was used before with another article.
var ErrIdempotencyMismatch = errors.New("store: the idempotency key was used with another request")

// IdempotencyKeyTTL is how long a key is kept: retries of one create come within it.
const IdempotencyKeyTTL = 24 * time.Hour

// IdempotencyKey is the key of a create: who sent it, and the key itself.
type IdempotencyKey struct {
	Principal string // the name of the token that sent it; keys of different clients never meet
	Key       string
}

// requestHash identifies the article of a create: two creates with the same fields (as
// stored: trimmed, tags normalised) are the same request.
func requestHash(in NewArticle) string {
	b, _ := json.Marshal([]any{in.Title, in.Content, in.Author, TagList(in.Tags)})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CreateArticleOnce is CreateArticle for a create with an idempotency key. It returns the
// article the key's first create made and replayed=true when the key is known with the
// same article; ErrIdempotencyMismatch when it is known with another. Of concurrent
// creates with one key, one stores the article and the others wait for it and replay.
func (s *Store) CreateArticleOnce(ctx context.Context, in NewArticle, key IdempotencyKey) (a Article, replayed bool, err error) {
	a = newRow(in)
	hash := requestHash(in)
	var inserted bool
	if s.dialect == Postgres {
		// One statement: the id drawn, the key stored with it, and the article and its
		// tags only if the key was new. A key being inserted by another transaction
		// makes ON CONFLICT wait for it.
		var ids []int64
		err = s.writer(ctx).Raw(`WITH id AS (SELECT nextval(pg_get_serial_sequence('articles', 'id')) AS id),
			k AS (INSERT INTO idempotency_keys (principal, key, request_hash, article_id, created_at)
				SELECT @principal, @key, @hash, id, @at FROM id
				ON CONFLICT DO NOTHING RETURNING article_id),
			a AS (INSERT INTO articles (id, title, content, author, tags, version, created_at, updated_at, created_by)
				SELECT article_id, @title, @content, @author, @tags, 1, @at, @at, NULLIF(@by, '') FROM k RETURNING id),
			t AS (INSERT INTO article_tags (article_id, tag, created_at)
				SELECT a.id, tag, @at FROM a, jsonb_array_elements_text(CAST(@tags AS jsonb)) AS tag)
			SELECT id FROM a`,
			sql.Named("principal", key.Principal), sql.Named("key", key.Key), sql.Named("hash", hash),
			sql.Named("title", a.Title), sql.Named("content", a.Content), sql.Named("author", a.Author),
			sql.Named("tags", a.Tags), sql.Named("at", a.CreatedAt), sql.Named("by", a.CreatedBy)).
			Scan(&ids).Error
		if err == nil && len(ids) == 1 {
			a.ID, inserted = ids[0], true
		}
	} else {
		err = s.writer(ctx).Transaction(func(tx *gorm.DB) error {
			var n int64
			if err := tx.Table("idempotency_keys").Where("principal = ? AND key = ?", key.Principal, key.Key).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := tx.Create(&a).Error; err != nil {
				return err
			}
			if err := insertTags(tx, []Article{a}); err != nil {
				return err
			}
			inserted = true
			return tx.Exec(`INSERT INTO idempotency_keys (principal, key, request_hash, article_id, created_at) VALUES (?, ?, ?, ?, ?)`,
				key.Principal, key.Key, hash, a.ID, a.CreatedAt).Error
		})
	}
	if err != nil {
		return Article{}, false, fmt.Errorf("create article: %w", s.classify(err))
	}
	if inserted {
		s.log.DebugContext(ctx, "store: INSERT article", "id", a.ID, "tags", len(a.Tags), "idempotency_key", true)
		return a, false, nil
	}
	// The key is known: its first create's article, as it was answered then (the same
	// fields as this request's, since the hash matches, and the first id and time).
	var first struct {
		RequestHash string    `gorm:"column:request_hash"`
		ArticleID   int64     `gorm:"column:article_id"`
		CreatedAt   time.Time `gorm:"column:created_at"`
	}
	err = s.writer(ctx).Table("idempotency_keys").Select("request_hash, article_id, created_at").
		Where("principal = ? AND key = ?", key.Principal, key.Key).Take(&first).Error
	if err != nil {
		return Article{}, false, fmt.Errorf("create article: read idempotency key: %w", s.classify(err))
	}
	if first.RequestHash != hash {
		return Article{}, false, ErrIdempotencyMismatch
	}
	a.ID = first.ArticleID
	a.CreatedAt = first.CreatedAt.UTC()
	a.UpdatedAt = a.CreatedAt
	return a, true, nil
}

// purgeIdempotencyKeys deletes the keys older than IdempotencyKeyTTL.
func (s *Store) purgeIdempotencyKeys(ctx context.Context) error {
	err := s.db.WithContext(ctx).Exec("DELETE FROM idempotency_keys WHERE created_at < ?", now().Add(-IdempotencyKeyTTL)).Error
	if err != nil && !schemaMissing(err) {
		return fmt.Errorf("purge idempotency keys: %w", s.classify(err))
	}
	return nil
}
