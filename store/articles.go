package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Article is a stored article.
type Article struct {
	ID      int64   `gorm:"column:id;primaryKey"`
	Title   string  `gorm:"column:title"`
	Content string  `gorm:"column:content"`
	Author  string  `gorm:"column:author"`
	Tags    TagList `gorm:"column:tags"`
	// Views is read from article_views (see selectArticle), never written with the row.
	Views int64 `gorm:"column:views;->"`
	// Version counts the changes of the article: 1 when created, one more per update.
	Version int64 `gorm:"column:version"`
	// CreatedBy names who created it: an API token's name, DemoCreator, or "" (unknown).
	CreatedBy string `gorm:"column:created_by;->:false;<-:create"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName tells GORM the table.
func (Article) TableName() string { return "articles" }

// articleColumns are the columns of articles an Article is read from: never the search
// vectors, which are as large as the text and of no use outside the database.
var articleColumns = []string{"id", "title", "content", "author", "tags", "version", "created_at", "updated_at"}

// selectArticle is the select list of an Article: articleColumns of table alias t, then
// the views of article_views joined as v.
func selectArticle(t string) string {
	return t + "." + strings.Join(articleColumns, ", "+t+".") + ", v.views"
}

// withViews is the join that selectArticle needs, for table alias t.
func withViews(t string) string {
	return "JOIN article_views v ON v.article_id = " + t + ".id"
}

// getArticleSQL reads one article by id, in the order of selectArticle.
var getArticleSQL = "SELECT " + selectArticle("a") + " FROM articles a " + withViews("a") + " WHERE a.id = ?"

// finish prepares articles read from the database for callers: timestamps in UTC
// (drivers hand them over in the process's local zone) and views that this process has
// counted but not flushed yet added in.
func (s *Store) finish(as []Article) []Article {
	for i := range as {
		as[i].CreatedAt = as[i].CreatedAt.UTC()
		as[i].UpdatedAt = as[i].UpdatedAt.UTC()
		as[i].Views += s.views.waiting(as[i].ID)
	}
	return as
}

// articleTag is one row of the normalised tag table that serves tag filters.
type articleTag struct {
	ArticleID int64  `gorm:"column:article_id;primaryKey"`
	Tag       string `gorm:"column:tag;primaryKey"`
	// CreatedAt is the article's: tag filters list articles newest first from this table.
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (articleTag) TableName() string { return "article_tags" }

// TagList is an article's ordered tags, stored as a JSON array beside the article.
type TagList []string

// Value implements driver.Valuer.
func (t TagList) Value() (driver.Value, error) {
	if t == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(t))
	return string(b), err
}

// Scan implements sql.Scanner.
func (t *TagList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case nil:
		*t = TagList{}
		return nil
	default:
		return fmt.Errorf("scan tags: unexpected %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan tags: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	*t = out
	return nil
}

// NewArticle is what CreateArticle needs. Text fields are stored as given: callers
// validate and trim.
type NewArticle struct {
	Title   string
	Content string
	Author  string
	Tags    []string
	// CreatedAt is used by seeding; zero means now.
	CreatedAt time.Time
	// CreatedBy names who creates it (see Article.CreatedBy).
	CreatedBy string
}

// ArticlePatch lists the fields an update changes; nil means unchanged. A non-nil
// Tags pointing at an empty slice removes every tag.
type ArticlePatch struct {
	Title   *string
	Content *string
	Tags    *[]string
}

// ListFilter selects articles for ListTitles and Popular.
type ListFilter struct {
	Author string // exact match; empty means any
	Tag    string // articles carrying this tag; empty means any
	// Day, when not nil, selects the articles created on that UTC day.
	Day    *time.Time
	Limit  int
	Offset int
}

// CreateArticle stores a new article with its tags and returns it as stored.
func (s *Store) CreateArticle(ctx context.Context, in NewArticle) (Article, error) {
	a := newRow(in)
	var err error
	if s.dialect == Postgres {
		markPool(ctx, PoolPrimary)
		err = s.createArticlePG(ctx, &a)
	} else {
		err = s.writer(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&a).Error; err != nil {
				return err
			}
			return insertTags(tx, []Article{a})
		})
	}
	if err != nil {
		return Article{}, fmt.Errorf("create article: %w", s.classify(err))
	}
	s.log.DebugContext(ctx, "store: INSERT article", "id", a.ID, "tags", len(a.Tags))
	return a, nil
}

func newRow(in NewArticle) Article {
	created := in.CreatedAt.UTC().Truncate(time.Microsecond)
	if in.CreatedAt.IsZero() {
		created = now()
	}
	tags := TagList(in.Tags)
	if tags == nil {
		tags = TagList{}
	}
	return Article{Title: in.Title, Content: in.Content, Author: in.Author, Tags: tags, Version: 1, CreatedAt: created, UpdatedAt: created, CreatedBy: in.CreatedBy}
}

func insertTags(tx *gorm.DB, articles []Article) error {
	var rows []articleTag
	for _, a := range articles {
		for _, t := range a.Tags {
			rows = append(rows, articleTag{ArticleID: a.ID, Tag: t, CreatedAt: a.CreatedAt})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.CreateInBatches(rows, 1000).Error
}

// GetArticle returns one article without counting a view. An article the read
// replicas do not have (yet: replication lags) is looked for on the primary, so that a
// client always reads the article it was just told was created; so is one a replica
// could not be asked for.
func (s *Store) GetArticle(ctx context.Context, id int64) (Article, error) {
	if s.dialect == Postgres {
		markPool(ctx, s.readPool)
		reads := s.sqlDB
		if s.readSQL != nil {
			reads = s.readSQL
		}
		a, err := s.getArticlePG(ctx, reads, id)
		// A standby that does not answer (restarting, say, as a failed primary rejoins as
		// one) is no reason to fail a read the primary can serve.
		if (errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) && ctx.Err() == nil) && s.readPool == PoolReplica {
			markPool(ctx, PoolPrimary)
			a, err = s.getArticlePG(ctx, s.sqlDB, id)
		}
		return a, err
	}
	markPool(ctx, s.readPool)
	return s.getArticleSQLite(ctx, id)
}

// getArticleSQLite reads one article by id on the embedded database's read pool. The
// hottest query of all, prepared once per connection (the driver prepares every other
// statement each time it runs: 17% of a read's CPU) and scanned by hand (GORM's query
// building and reflective scanning cost a tenth).
func (s *Store) getArticleSQLite(ctx context.Context, id int64) (Article, error) {
	return s.readArticle(ctx, getArticleSQL, id, func(dest ...any) error {
		stmt, err := s.sqliteGetStmt(ctx)
		if err != nil {
			return err
		}
		return stmt.QueryRowContext(ctx, id).Scan(dest...)
	})
}

// readArticle reads one article by id, in a span of its own: query runs the statement
// text and scans its row into dest, in the order of selectArticle. No row is
// ErrNotFound (pgx's ErrNoRows is database/sql's too).
func (s *Store) readArticle(ctx context.Context, text string, id int64, query func(dest ...any) error) (Article, error) {
	end := s.traceStatement(ctx, "row", "articles", text)
	var a Article
	err := query(&a.ID, &a.Title, &a.Content, &a.Author, &a.Tags, &a.Version, &a.CreatedAt, &a.UpdatedAt, &a.Views)
	if errors.Is(err, sql.ErrNoRows) {
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

// ViewArticle counts one view of an article and returns it, this view included. The
// view is counted in memory and reaches the database with the next flush (within
// Options.ViewFlushInterval), so reading stays a read.
func (s *Store) ViewArticle(ctx context.Context, id int64) (Article, error) {
	a, err := s.GetArticle(ctx, id)
	if err != nil {
		return Article{}, err
	}
	s.views.add(id)
	a.Views++
	return a, nil
}

// sqliteGetStmt returns getArticleSQL prepared on the read pool, preparing it at the
// first call that can (one that fails, before the migrations, is tried again next time).
func (s *Store) sqliteGetStmt(ctx context.Context) (*sql.Stmt, error) {
	if st := s.getStmt.Load(); st != nil {
		return st, nil
	}
	s.prepareMu.Lock()
	defer s.prepareMu.Unlock()
	if st := s.getStmt.Load(); st != nil {
		return st, nil
	}
	st, err := s.readSQL.PrepareContext(ctx, getArticleSQL)
	if err != nil {
		return nil, err
	}
	s.getStmt.Store(st)
	return st, nil
}

// AnyVersion, as the expected version of UpdateArticle or DeleteArticle, skips the check.
const AnyVersion int64 = 0

// UpdateArticle changes the fields a patch names, advances updated_at and the version,
// and returns the article as stored. When expect is not AnyVersion the update happens
// only if the article is still at that version (else ErrVersionMismatch), in the same
// statement, so that of concurrent updates based on one version exactly one wins.
func (s *Store) UpdateArticle(ctx context.Context, id int64, p ArticlePatch, expect int64) (Article, error) {
	var out Article
	err := s.writer(ctx).Transaction(func(tx *gorm.DB) error {
		set := map[string]any{"updated_at": now(), "version": gorm.Expr("version + 1")}
		if p.Title != nil {
			set["title"] = *p.Title
		}
		if p.Content != nil {
			set["content"] = *p.Content
		}
		if p.Tags != nil {
			set["tags"] = TagList(*p.Tags)
		}
		var rows []Article
		q := tx.Model(&rows).Clauses(returningArticle()).Where("id = ?", id)
		if expect != AnyVersion {
			q = q.Where("version = ?", expect)
		}
		res := q.UpdateColumns(set)
		if res.Error != nil {
			return res.Error
		}
		if len(rows) == 0 {
			return missingOrChanged(tx, id)
		}
		if err := tx.Raw("SELECT views FROM article_views WHERE article_id = ?", id).Scan(&rows[0].Views).Error; err != nil {
			return err
		}
		out = s.finish(rows)[0]
		if p.Tags == nil {
			return nil
		}
		if err := tx.Where("article_id = ?", id).Delete(&articleTag{}).Error; err != nil {
			return err
		}
		return insertTags(tx, rows)
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrVersionMismatch) {
		return Article{}, err
	}
	if err != nil {
		return Article{}, fmt.Errorf("update article %d: %w", id, s.classify(err))
	}
	s.log.DebugContext(ctx, "store: UPDATE article", "id", id, "title", p.Title != nil, "content", p.Content != nil, "tags", p.Tags != nil)
	return out, nil
}

func returningArticle() clause.Returning {
	r := clause.Returning{}
	for _, c := range articleColumns {
		r.Columns = append(r.Columns, clause.Column{Name: c})
	}
	return r
}

// missingOrChanged tells why a conditional change touched no row.
func missingOrChanged(tx *gorm.DB, id int64) error {
	var n int64
	if err := tx.Model(&Article{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return ErrVersionMismatch
}

// DeleteArticle removes an article and its tags; when expect is not AnyVersion, only if
// the article is still at that version (else ErrVersionMismatch).
func (s *Store) DeleteArticle(ctx context.Context, id int64, expect int64) error {
	q := s.writer(ctx).Where("id = ?", id)
	if expect != AnyVersion {
		q = q.Where("version = ?", expect)
	}
	res := q.Delete(&Article{})
	if res.Error != nil {
		return fmt.Errorf("delete article %d: %w", id, s.classify(res.Error))
	}
	if res.RowsAffected == 0 {
		err := ErrNotFound
		if expect != AnyVersion {
			if err = missingOrChanged(s.writer(ctx), id); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrVersionMismatch) {
				return fmt.Errorf("delete article %d: %w", id, s.classify(err))
			}
		}
		s.log.DebugContext(ctx, "store: DELETE article: not deleted", "id", id, "reason", err.Error())
		return err
	}
	s.log.DebugContext(ctx, "store: DELETE article", "id", id)
	return nil
}

// filtered applies a ListFilter's selection (not its paging) to a query on articles.
// With a tag, the query walks article_tags, which holds each article's creation time.
func filtered(q *gorm.DB, f ListFilter) *gorm.DB {
	created := "articles.created_at"
	if f.Tag != "" {
		q = q.Joins("JOIN article_tags ON article_tags.article_id = articles.id AND article_tags.tag = ?", f.Tag)
		created = "article_tags.created_at"
	}
	if f.Author != "" {
		q = q.Where("articles.author = ?", f.Author)
	}
	if f.Day != nil {
		q = onDay(q, created, *f.Day)
	}
	return q
}

// onDay keeps the rows whose timestamp column falls on day's UTC day.
func onDay(q *gorm.DB, column string, day time.Time) *gorm.DB {
	start, end := dayRange(day)
	return q.Where(column+" >= ? AND "+column+" < ?", start, end)
}

// dayRange is the UTC day of t, as [start, end). The end of 9999-12-31 is its last
// instant rather than year 10000, which SQLite, comparing timestamps as text, would
// place before every other year.
func dayRange(t time.Time) (time.Time, time.Time) {
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 1)
	if end.Year() > 9999 {
		end = end.Add(-time.Nanosecond)
	}
	return start, end
}

// MaxExactCount bounds the counting of ListTitles: up to this many matches the count is
// exact; beyond, counting them all would cost more than listing a page, and the count
// says only that there are at least this many.
const MaxExactCount = 1000

// Count is how many articles a filter selects: N exactly, or at least N when !Exact.
type Count struct {
	N     int64
	Exact bool
}

// ListTitles returns the titles of the articles a filter selects, newest first, and how
// many articles it selects in all (exactly up to MaxExactCount).
func (s *Store) ListTitles(ctx context.Context, f ListFilter) ([]string, Count, error) {
	db := s.reader(ctx)
	var n int64
	matches := filtered(db.Model(&Article{}), f)
	if f.Tag != "" && f.Author == "" {
		// article_tags alone answers: every row of it has its article.
		matches = db.Model(&articleTag{}).Where("article_tags.tag = ?", f.Tag)
		if f.Day != nil {
			matches = onDay(matches, "article_tags.created_at", *f.Day)
		}
	}
	matches = matches.Select("1").Limit(MaxExactCount + 1)
	if err := db.Table("(?) AS m", matches).Count(&n).Error; err != nil {
		return nil, Count{}, fmt.Errorf("count articles: %w", s.classify(err))
	}
	total := Count{N: min(n, MaxExactCount), Exact: n <= MaxExactCount}
	order := "articles.created_at DESC, articles.id DESC"
	if f.Tag != "" {
		order = "article_tags.created_at DESC, article_tags.article_id DESC"
	}
	titles := []string{}
	if !total.Exact || total.N > int64(f.Offset) {
		err := filtered(db.Model(&Article{}), f).
			Order(order).
			Limit(f.Limit).Offset(f.Offset).
			Pluck("articles.title", &titles).Error
		if err != nil {
			return nil, Count{}, fmt.Errorf("list titles: %w", s.classify(err))
		}
	}
	return titles, total, nil
}

// popularOrder is the order of popular articles: most viewed first, ties to the newest,
// by the counts of the ranking (r).
const popularOrder = "r.views DESC, r.created_at DESC, r.article_id DESC"

// rankedColumns is what a ranked query selects of the ranking r.
const rankedColumns = "r.article_id, r.views, r.created_at"

// Popular returns the most viewed articles a filter selects (its tag and day; not its
// author); ties go to the newest. They are ordered by the view counts of the last
// rebuild of the ranking (see rankingEvery for how far behind it may be; an article made
// since is not in it yet), and show their current views.
//
// Its cost is bounded by what the filters match, never by the size of the table:
//   - no filter: the ranking's index is walked for offset+limit rows;
//   - a day: on PostgreSQL the ranking's per-day index is walked likewise; on SQLite
//     the day's articles are taken from the creation-time index and sorted;
//   - a tag (with or without a day): see popularWithTag.
//
// Each query picks the page from the ranking alone, and only then reads the page's
// articles and views (pageOf).
func (s *Store) Popular(ctx context.Context, f ListFilter) ([]Article, error) {
	var (
		out []Article
		err error
	)
	switch {
	case f.Tag != "":
		out, err = s.popularWithTag(ctx, f)
	case f.Day != nil:
		out, err = s.popularOnDay(ctx, *f.Day, f.Limit, f.Offset)
	default:
		// A row of an article deleted since the ranking was built is skipped, not
		// counted in the page.
		out = []Article{}
		err = s.reader(ctx).Raw(s.pageOf(`SELECT `+rankedColumns+` FROM popular_ranking r
			WHERE EXISTS (SELECT 1 FROM articles a WHERE a.id = r.article_id)
			ORDER BY `+popularOrder+` LIMIT ? OFFSET ?`), f.Limit, f.Offset).Scan(&out).Error
	}
	if err != nil {
		return nil, fmt.Errorf("popular articles: %w", s.classify(err))
	}
	return s.finish(out), nil
}

// pageOf is the query of the articles, with their current views, of the rows of the
// ranking that query ranked selects (rankedColumns, in popular order), in that order.
func (s *Store) pageOf(ranked string) string {
	join := "JOIN" // CROSS JOIN keeps SQLite from reordering the join
	if s.dialect == SQLite {
		join = "CROSS JOIN"
	}
	return `SELECT ` + selectArticle("a") + ` FROM (` + ranked + `) r
		` + join + ` articles a ON a.id = r.article_id
		` + join + ` article_views v ON v.article_id = r.article_id
		ORDER BY ` + popularOrder
}

func (s *Store) popularOnDay(ctx context.Context, day time.Time, limit, offset int) ([]Article, error) {
	var (
		ranked string
		args   []any
	)
	if s.dialect == Postgres {
		// The form of popular_ranking_day_idx, which walks one day by views.
		ranked = `SELECT ` + rankedColumns + ` FROM popular_ranking r
			WHERE (r.created_at AT TIME ZONE 'UTC')::date = ?::date
			AND EXISTS (SELECT 1 FROM articles a WHERE a.id = r.article_id)`
		args = append(args, day.Format(time.DateOnly))
	} else {
		// CROSS JOIN makes SQLite take the day's articles first (from the index on
		// created_at) and sort them, rather than walk the whole ranking by views.
		start, end := dayRange(day)
		ranked = `SELECT ` + rankedColumns + ` FROM articles a CROSS JOIN popular_ranking r ON r.article_id = a.id
			WHERE a.created_at >= ? AND a.created_at < ?`
		args = append(args, start, end)
	}
	out := []Article{}
	err := s.reader(ctx).Raw(s.pageOf(ranked+` ORDER BY `+popularOrder+` LIMIT ? OFFSET ?`), append(args, limit, offset)...).Scan(&out).Error
	return out, err
}

// popularWithTag returns the most viewed articles of a tag (on a day, when f.Day is set).
// Sorting every article of the tag costs what the tag has; walking the ranking's index
// and testing each article for the tag costs about k×N/n rows for k = offset+limit
// answers, N articles and n of them tagged. So:
//
//   - with a day, or when the tag has at most c = √(k×N) articles (counted up to c+1
//     from its index), the tag's articles are sorted: at most c rows, or the day's;
//   - else the ranking's index is walked for at most 4c rows (expected: under c); if
//     that walk found fewer than k, the tag's articles are sorted after all.
//
// Either way the work is bounded by c plus what the tag matches, never by the table.
// (An article's tags go with it, so the tag's rows are of articles that exist.)
func (s *Store) popularWithTag(ctx context.Context, f ListFilter) ([]Article, error) {
	db := s.reader(ctx)
	if f.Day == nil {
		k := f.Offset + f.Limit
		var maxID int64
		if err := db.Raw("SELECT coalesce(max(id), 0) FROM articles").Scan(&maxID).Error; err != nil {
			return nil, err
		}
		c := int(math.Ceil(math.Sqrt(float64(k) * float64(max(maxID, 1)))))
		var n int64
		tagged := db.Model(&articleTag{}).Select("1").Where("tag = ?", f.Tag).Limit(c + 1)
		if err := db.Table("(?) AS m", tagged).Count(&n).Error; err != nil {
			return nil, err
		}
		if n > int64(c) {
			walked := []Article{}
			err := db.Raw(s.pageOf(`SELECT `+rankedColumns+` FROM
				(SELECT article_id, views, created_at FROM popular_ranking ORDER BY views DESC, created_at DESC, article_id DESC LIMIT ?) r
				WHERE EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = r.article_id AND t.tag = ?)
				ORDER BY `+popularOrder+` LIMIT ?`), 4*c, f.Tag, k).Scan(&walked).Error
			if err != nil {
				return nil, err
			}
			if len(walked) == k {
				return walked[f.Offset:], nil
			}
		}
	}
	// The tag's articles first, then their ranking: OFFSET 0 keeps PostgreSQL from
	// flattening the subquery, CROSS JOIN keeps SQLite from reordering the join.
	tagged := "SELECT article_id FROM article_tags WHERE tag = @tag"
	if f.Day != nil {
		tagged += " AND created_at >= @start AND created_at < @end"
	}
	join := "JOIN"
	if s.dialect == Postgres {
		tagged += " OFFSET 0"
	} else {
		join = "CROSS JOIN"
	}
	var start, end time.Time
	if f.Day != nil {
		start, end = dayRange(*f.Day)
	}
	out := []Article{}
	err := db.Raw(s.pageOf(`SELECT `+rankedColumns+` FROM (`+tagged+`) t
		`+join+` popular_ranking r ON r.article_id = t.article_id
		ORDER BY `+popularOrder+` LIMIT @limit OFFSET @offset`),
		sql.Named("tag", f.Tag), sql.Named("start", start), sql.Named("end", end),
		sql.Named("limit", f.Limit), sql.Named("offset", f.Offset)).Scan(&out).Error
	return out, err
}

// CountArticles returns how many articles are stored.
func (s *Store) CountArticles(ctx context.Context) (int64, error) {
	var n int64
	if err := s.reader(ctx).Model(&Article{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count articles: %w", s.classify(err))
	}
	return n, nil
}
