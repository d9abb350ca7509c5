package store_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestEveryStatementTraced: each statement a request's store call runs is a span with
// its text (never its values), the statements of a PostgreSQL search included (two of
// its three once went to database/sql directly, untraced).
func TestEveryStatementTraced(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			s, err := store.Open(context.Background(), storetest.URL(t, d), store.Options{TracerProvider: tp})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			if _, err := s.MigrateUp(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateArticle(context.Background(), store.NewArticle{Title: "Secret film", Content: "c", Author: "a"}); err != nil {
				t.Fatal(err)
			}
			ctx, root := tp.Tracer("test").Start(context.Background(), "request")
			if _, err := s.Search(ctx, "secret film", 10, 0); err != nil {
				t.Fatal(err)
			}
			root.End()
			var texts []string
			for _, sp := range rec.Ended() {
				if sp.Parent().SpanID() != root.SpanContext().SpanID() {
					continue
				}
				for _, kv := range sp.Attributes() {
					if kv.Key == "db.query.text" {
						texts = append(texts, kv.Value.AsString())
					}
				}
			}
			want := map[store.Dialect][]string{
				// The words' lexemes, whether the index holds them (the vocabulary is
				// empty here), the size of each group, the ranked page.
				store.Postgres: {"to_tsvector", "EXISTS", "EXPLAIN", "ts_rank"},
				store.SQLite:   {"EXISTS", "count(*)", "bm25"},
			}[d]
			if len(texts) != len(want) {
				t.Fatalf("%d statements traced under the request, want %d: %q", len(texts), len(want), texts)
			}
			for i, w := range want {
				if !strings.Contains(texts[i], w) {
					t.Errorf("statement %d: %q, want one with %q", i, texts[i], w)
				}
				if strings.Contains(texts[i], "secret") {
					t.Errorf("statement %d carries a value: %q", i, texts[i])
				}
			}
		})
	}
}

// TestBulkLoadTraced: the bulk load's statements outside GORM (the ids drawn, the two
// COPY streams) are spans too, beside GORM's marking the search heads stale.
func TestBulkLoadTraced(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s, err := store.Open(context.Background(), storetest.URL(t, store.Postgres), store.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, root := tp.Tracer("test").Start(context.Background(), "seed")
	if err := s.BulkInsert(ctx, []store.NewArticle{{Title: "t", Content: "c", Author: "a", Tags: []string{"x"}}}, nil); err != nil {
		t.Fatal(err)
	}
	root.End()
	var names []string
	for _, sp := range rec.Ended() {
		if sp.Parent().SpanID() == root.SpanContext().SpanID() {
			names = append(names, sp.Name())
		}
	}
	want := []string{"db query articles", "db copy articles", "db copy article_tags", "db raw"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("spans under the bulk load: %q, want %q", names, want)
	}
}
