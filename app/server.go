package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/articlesd/articlesd/store"
)

// ArticleStore is what the API needs from storage; *store.Store provides it.
type ArticleStore interface {
	CreateArticle(ctx context.Context, in store.NewArticle) (store.Article, error)
	CreateArticleOnce(ctx context.Context, in store.NewArticle, key store.IdempotencyKey) (store.Article, bool, error)
	GetArticle(ctx context.Context, id int64) (store.Article, error)
	ViewArticle(ctx context.Context, id int64) (store.Article, error)
	UpdateArticle(ctx context.Context, id int64, p store.ArticlePatch, expectVersion int64) (store.Article, error)
	DeleteArticle(ctx context.Context, id int64, expectVersion int64) error
	ListTitles(ctx context.Context, f store.ListFilter) ([]string, store.Count, error)
	Find(ctx context.Context, query string, limit, offset int) (store.SearchResult, error)
	Popular(ctx context.Context, f store.ListFilter) ([]store.Article, error)
	// Ready tells whether the store can serve requests (see store.Store.Ready).
	Ready(ctx context.Context) error
}

var _ StrictServerInterface = (*Server)(nil)

// Server implements the operations of embedded/openapi.yaml. Requests reach it only
// after they have been validated against that document. Every failure is returned as
// an error, which answerError turns into the client's problem document.
type Server struct {
	store          ArticleStore
	created        func(tags []string)
	requireIfMatch bool
	limits         limits  // the document's default limits
	answers        writing // how answers with articles are written (answer.go)
}

// limits are the default page sizes of the listings, as embedded/openapi.yaml gives them.
type limits struct{ list, search, popular int }

// documentLimits reads the default of each listing's limit parameter from the document.
func documentLimits(r *Routes) (limits, error) {
	var l limits
	for _, p := range []struct {
		op   string
		into *int
	}{{"getArticleNames", &l.list}, {"searchArticles", &l.search}, {"getPopularArticles", &l.popular}} {
		d, err := r.paramDefault(p.op, "limit")
		if err != nil {
			return l, err
		}
		*p.into = d
	}
	return l, nil
}

func orDefault(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// requestContext is the one way handlers reach the request's context: the request's
// own (c.Request.Context()), which middleware and handlerSpan extend by replacing
// c.Request. The generated code hands handlers the *gin.Context itself, which Gin
// recycles once the request ends, while database/sql may still watch the context.
func requestContext(ctx context.Context) context.Context {
	if gc, ok := ctx.(*gin.Context); ok && gc.Request != nil {
		return gc.Request.Context()
	}
	return ctx
}

// articleID reads an article id: a positive decimal integer without sign or leading
// zeros. Anything else names no article.
func articleID(raw string) (int64, error) {
	if raw != "" && raw[0] >= '1' && raw[0] <= '9' {
		if id, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return id, nil
		}
	}
	return 0, articleErr(raw, store.ErrNotFound)
}

// dayFilter reads the date parameter of a listing as a day filter (nil: any day). The
// document's format admits years from 0000; year 0 (1 BC) is no day an article was
// created on, and PostgreSQL cannot compare it (SQLSTATE 22008), so it is refused.
func dayFilter(d *openapi_types.Date) (*time.Time, error) {
	if d == nil {
		return nil, nil
	}
	if d.Year() < 1 {
		return nil, newProblem(http.StatusBadRequest, "the request does not match the API description",
			FieldError{Field: "date", In: fieldIn(Query), Message: "must be a date from 0001-01-01 to 9999-12-31"})
	}
	day := d.Time
	return &day, nil
}

// normalizeTags trims every tag (see trimBlank) and drops repeats, keeping the first
// occurrence's place. A tag that is blank is an error of its own, tags.N.
func normalizeTags(in []string) ([]string, []FieldError) {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	var bad []FieldError
	for i, t := range in {
		t = trimBlank(t)
		if t == "" {
			bad = append(bad, bodyError("tags."+strconv.Itoa(i), "must not be blank"))
			continue
		}
		if seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out, bad
}

// blankFields reports the required text fields that are empty after trimming (see
// trimBlank).
func blankFields(values map[string]string) []FieldError {
	var out []FieldError
	for _, name := range []string{"title", "content", "author"} {
		if v, ok := values[name]; ok && v == "" {
			out = append(out, FieldError{Field: name, In: fieldIn(Body), Message: "must not be blank"})
		}
	}
	return out
}

func toAPI(a store.Article) Article {
	tags := []string(a.Tags)
	if tags == nil {
		tags = []string{}
	}
	return Article{
		Id:        strconv.FormatInt(a.ID, 10),
		Title:     a.Title,
		Content:   a.Content,
		Author:    a.Author,
		Tags:      tags,
		Views:     a.Views,
		CreatedAt: a.CreatedAt.UTC(),
		UpdatedAt: a.UpdatedAt.UTC(),
	}
}

func toAPIList(as []store.Article) []Article {
	out := make([]Article, len(as))
	for i, a := range as {
		out[i] = toAPI(a)
	}
	return out
}

// GetArticleNames lists titles (GET /articles).
func (s *Server) GetArticleNames(ctx context.Context, req GetArticleNamesRequestObject) (GetArticleNamesResponseObject, error) {
	p := req.Params
	f := store.ListFilter{
		Author: deref(p.Author),
		Tag:    deref(p.Tag),
		Limit:  orDefault(p.Limit, s.limits.list),
		Offset: orDefault(p.Offset, 0),
	}
	var err error
	if f.Day, err = dayFilter(p.Date); err != nil {
		return nil, err
	}
	titles, total, err := s.store.ListTitles(requestContext(ctx), f)
	if err != nil {
		return nil, err
	}
	relation := "eq"
	if !total.Exact {
		relation = "gte"
	}
	return GetArticleNames200JSONResponse{Body: titles, Headers: GetArticleNames200ResponseHeaders{XTotalCount: total.N, XTotalCountRelation: relation}}, nil
}

// CreateArticle stores a new article (POST /articles), created by the token that
// authenticated the request.
func (s *Server) CreateArticle(ctx context.Context, req CreateArticleRequestObject) (CreateArticleResponseObject, error) {
	ctx = requestContext(ctx)
	b := req.Body
	in := store.NewArticle{
		Title:     trimBlank(b.Title),
		Content:   trimBlank(b.Content),
		Author:    trimBlank(b.Author),
		CreatedBy: principal(ctx),
	}
	fields := blankFields(map[string]string{"title": in.Title, "content": in.Content, "author": in.Author})
	if b.Tags != nil {
		var bad []FieldError
		in.Tags, bad = normalizeTags(*b.Tags)
		fields = append(fields, bad...)
	}
	if len(fields) > 0 {
		return nil, newProblem(http.StatusBadRequest, "the article is not valid", fields...)
	}
	var (
		a        store.Article
		replayed bool
		err      error
	)
	if key := req.Params.IdempotencyKey; key != nil {
		a, replayed, err = s.store.CreateArticleOnce(ctx, in, store.IdempotencyKey{Principal: in.CreatedBy, Key: *key})
		if errors.Is(err, store.ErrIdempotencyMismatch) {
			return nil, newProblem(http.StatusUnprocessableEntity, fmt.Sprintf(
				"the Idempotency-Key %s was used before with another article: send a new key for a new article", strconv.Quote(*key)))
		}
	} else {
		a, err = s.store.CreateArticle(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	if !replayed {
		s.created(a.Tags)
	}
	out := toAPI(a)
	return articleAnswer{status: http.StatusCreated, etag: etag(a.Version), location: "/articles/" + out.Id, replayed: replayed, body: out, how: s.answers}, nil
}

// GetArticleById returns one article and counts the view (GET /articles/{id}).
func (s *Server) GetArticleById(ctx context.Context, req GetArticleByIdRequestObject) (GetArticleByIdResponseObject, error) {
	id, err := articleID(req.Id)
	if err != nil {
		return nil, err
	}
	a, err := s.store.ViewArticle(requestContext(ctx), id)
	if err != nil {
		return nil, articleErr(req.Id, err)
	}
	return articleAnswer{status: http.StatusOK, etag: etag(a.Version), body: toAPI(a), how: s.answers}, nil
}

// UpdateArticle changes the fields present in the body (PUT /articles/{id}).
func (s *Server) UpdateArticle(ctx context.Context, req UpdateArticleRequestObject) (UpdateArticleResponseObject, error) {
	ctx = requestContext(ctx)
	id, err := articleID(req.Id)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var p store.ArticlePatch
	check := map[string]string{}
	if b.Title != nil {
		t := trimBlank(*b.Title)
		p.Title, check["title"] = &t, t
	}
	if b.Content != nil {
		c := trimBlank(*b.Content)
		p.Content, check["content"] = &c, c
	}
	fields := blankFields(check)
	if b.Tags != nil {
		tags, bad := normalizeTags(*b.Tags)
		p.Tags = &tags
		fields = append(fields, bad...)
	}
	if p == (store.ArticlePatch{}) {
		fields = append(fields, bodyError("", "must name at least one field to change"))
	}
	readOnly, err := s.checkReadOnly(ctx, id, req.Id, b)
	if err != nil {
		return nil, articleErr(req.Id, err)
	}
	if fields = append(fields, readOnly...); len(fields) > 0 {
		return nil, newProblem(http.StatusBadRequest, "the update is not valid", fields...)
	}
	expect, err := s.precondition(ctx, id, req.Id, req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	a, err := s.store.UpdateArticle(ctx, id, p, expect)
	if err != nil {
		return nil, articleErr(req.Id, err)
	}
	return articleAnswer{status: http.StatusOK, etag: etag(a.Version), body: toAPI(a), how: s.answers}, nil
}

// checkReadOnly checks the read-only fields an update may carry back from a GET: id must
// be the path's, author and createdAt the article's own (read only when they are sent;
// neither ever changes, so no later update can make the check stale); views and
// updatedAt, which the server keeps, are ignored.
func (s *Server) checkReadOnly(ctx context.Context, id int64, rawID string, b *UpdateArticleJSONRequestBody) ([]FieldError, error) {
	var bad []FieldError
	if b.Id != nil && *b.Id != rawID {
		bad = append(bad, bodyError("id", "must be "+strconv.Quote(rawID)+", the id of the path"))
	}
	if b.Author == nil && b.CreatedAt == nil {
		return bad, nil
	}
	cur, err := s.store.GetArticle(ctx, id)
	if err != nil {
		return nil, err
	}
	if b.Author != nil && trimBlank(*b.Author) != cur.Author {
		bad = append(bad, bodyError("author", "cannot be changed"))
	}
	if b.CreatedAt != nil && !b.CreatedAt.Equal(cur.CreatedAt) {
		bad = append(bad, bodyError("createdAt", "cannot be changed"))
	}
	return bad, nil
}

// DeleteArticle removes an article and its tags (DELETE /articles/{id}).
func (s *Server) DeleteArticle(ctx context.Context, req DeleteArticleRequestObject) (DeleteArticleResponseObject, error) {
	ctx = requestContext(ctx)
	id, err := articleID(req.Id)
	if err != nil {
		return nil, err
	}
	expect, err := s.precondition(ctx, id, req.Id, req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteArticle(ctx, id, expect); err != nil {
		return nil, articleErr(req.Id, err)
	}
	return DeleteArticle200JSONResponse{Id: req.Id, Message: fmt.Sprintf("article %s deleted", req.Id)}, nil
}

// SearchArticles runs a full-text search (GET /articles/search).
func (s *Server) SearchArticles(ctx context.Context, req SearchArticlesRequestObject) (SearchArticlesResponseObject, error) {
	p := req.Params
	q := trimBlank(p.Query)
	if q == "" {
		return nil, newProblem(http.StatusBadRequest, "the request does not match the API description",
			FieldError{Field: "query", In: fieldIn(Query), Message: "must not be blank"})
	}
	limit, offset := orDefault(p.Limit, s.limits.search), orDefault(p.Offset, 0)
	if offset+limit > store.SearchDeepest {
		return nil, newProblem(http.StatusBadRequest, "the request does not match the API description",
			FieldError{Field: "offset", In: fieldIn(Query),
				Message: fmt.Sprintf("offset + limit must be at most %d for a search: its results are ranked that deep", store.SearchDeepest)})
	}
	found, err := s.store.Find(requestContext(ctx), q, limit, offset)
	if err != nil {
		return nil, err
	}
	resp := articleList{body: toAPIList(found.Articles), how: s.answers,
		ignored: strings.Join(found.Ignored, ", "), unknown: strings.Join(found.Unknown, ", ")}
	fixes := make([]string, len(found.Corrected))
	for i, c := range found.Corrected {
		fixes[i] = c.Word + "=" + strings.Join(c.As, "|")
	}
	resp.corrected = strings.Join(fixes, ", ")
	return resp, nil
}

// GetPopularArticles lists the most viewed articles (GET /articles/popular).
func (s *Server) GetPopularArticles(ctx context.Context, req GetPopularArticlesRequestObject) (GetPopularArticlesResponseObject, error) {
	p := req.Params
	f := store.ListFilter{
		Tag:    deref(p.Tag),
		Limit:  orDefault(p.Limit, s.limits.popular),
		Offset: orDefault(p.Offset, 0),
	}
	var err error
	if f.Day, err = dayFilter(p.Date); err != nil {
		return nil, err
	}
	found, err := s.store.Popular(requestContext(ctx), f)
	if err != nil {
		return nil, err
	}
	return articleList{body: toAPIList(found), how: s.answers}, nil
}
