package store

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// tracingPlugin gives every SQL statement GORM runs a client span, a child of the
// request's span, named after the operation and carrying the statement text with its
// placeholders: bound values (article text, tokens) never reach a trace.
//
// gorm.io/plugin/opentelemetry does the same but imports the MySQL and ClickHouse
// drivers; these forty lines do not.
type tracingPlugin struct {
	tracer  trace.Tracer
	dialect Dialect
}

func (tracingPlugin) Name() string { return "articlesd:tracing" }

const spanKey = "articlesd:span"

func (p tracingPlugin) Initialize(db *gorm.DB) error {
	cb := db.Callback()
	hooks := []struct {
		name   string
		before func(string, func(*gorm.DB)) error
		after  func(string, func(*gorm.DB)) error
	}{
		{"create", cb.Create().Before("gorm:create").Register, cb.Create().After("gorm:create").Register},
		{"query", cb.Query().Before("gorm:query").Register, cb.Query().After("gorm:query").Register},
		{"update", cb.Update().Before("gorm:update").Register, cb.Update().After("gorm:update").Register},
		{"delete", cb.Delete().Before("gorm:delete").Register, cb.Delete().After("gorm:delete").Register},
		{"row", cb.Row().Before("gorm:row").Register, cb.Row().After("gorm:row").Register},
		{"raw", cb.Raw().Before("gorm:raw").Register, cb.Raw().After("gorm:raw").Register},
	}
	for _, h := range hooks {
		op := h.name
		if err := h.before("articlesd:before_"+op, func(tx *gorm.DB) { p.start(tx, op) }); err != nil {
			return err
		}
		if err := h.after("articlesd:after_"+op, p.end); err != nil {
			return err
		}
	}
	return nil
}

func (p tracingPlugin) start(tx *gorm.DB, op string) {
	ctx := tx.Statement.Context
	if ctx == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	name := op
	if t := tx.Statement.Table; t != "" {
		name += " " + t
	}
	_, span := p.tracer.Start(ctx, "db "+name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", dbSystem(p.dialect)), attribute.String("db.operation.name", op)))
	tx.InstanceSet(spanKey, span)
}

func (p tracingPlugin) end(tx *gorm.DB) {
	v, ok := tx.InstanceGet(spanKey)
	if !ok {
		return
	}
	span := v.(trace.Span)
	span.SetAttributes(attribute.String("db.query.text", redactLiterals(tx.Statement.SQL.String())),
		attribute.Int64("db.response.returned_rows", tx.Statement.RowsAffected))
	if err := tx.Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}

// traceStatement starts the span of a statement the store runs outside GORM (COPY, the
// lexicon's query with its array parameter), as tracingPlugin does for GORM's, and
// returns what ends it.
func (s *Store) traceStatement(ctx context.Context, op, table, text string) func(err error, rows int64) {
	if s.tracer == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return func(error, int64) {}
	}
	_, span := s.tracer.Start(ctx, "db "+op+" "+table, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", dbSystem(s.dialect)), attribute.String("db.operation.name", op),
			attribute.String("db.query.text", text)))
	return func(err error, rows int64) {
		span.SetAttributes(attribute.Int64("db.response.returned_rows", rows))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
	}
}

func dbSystem(d Dialect) string {
	if d == Postgres {
		return "postgresql"
	}
	return "sqlite"
}

// sqlLiteral is a single-quoted SQL string constant (” inside it is a quote).
var sqlLiteral = regexp.MustCompile(`'(?:[^']|'')*'`)

// redactLiterals replaces the string constants of a statement with '?': a search writes
// its tsquery, made of the user's words, into the statement (see tsLiteral), and a span
// carries no value a user sent.
func redactLiterals(text string) string {
	if !strings.Contains(text, "'") {
		return text
	}
	return sqlLiteral.ReplaceAllString(text, "'?'")
}
