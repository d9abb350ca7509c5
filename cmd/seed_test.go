package cmd

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/synth"
)

func TestSeedDemo(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		// seed applies pending migrations itself: the database is empty here.
		if got, want := mustRun(t, "seed", "--database-url", dbURL), "added 12 demo articles (0 were already there)\n"; got != want {
			t.Fatalf("first seed printed %q, want %q", got, want)
		}
		if n := countArticles(t, dbURL); n != 12 {
			t.Fatalf("after the first seed there are %d articles, want 12", n)
		}
		if got, want := mustRun(t, "seed", "--database-url", dbURL), "added 0 demo articles (12 were already there)\n"; got != want {
			t.Fatalf("second seed printed %q, want %q", got, want)
		}
		if n := countArticles(t, dbURL); n != 12 {
			t.Fatalf("after the second seed there are %d articles, want 12", n)
		}
		checkStatus(t, mustRun(t, "migrate", "status", "--database-url", dbURL), len(migrationNames(t)))
	})
}

// TestSeedDemoKnowsItsOwn: an article a user wrote under a demo article's title and
// author is not taken for the demo article.
func TestSeedDemoKnowsItsOwn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		mustRun(t, "migrate", "--database-url", dbURL)
		st, err := store.Open(context.Background(), dbURL, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		demo := synth.Demo()[0]
		if _, err := st.CreateArticle(context.Background(), store.NewArticle{Title: demo.Title, Content: "mine", Author: demo.Author, CreatedBy: "me"}); err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		if got, want := mustRun(t, "seed", "--database-url", dbURL), "added 12 demo articles (0 were already there)\n"; got != want {
			t.Fatalf("seed printed %q, want %q", got, want)
		}
		if n := countArticles(t, dbURL); n != 13 {
			t.Fatalf("after the seed there are %d articles, want 13", n)
		}
		checkStatus(t, mustRun(t, "migrate", "status", "--database-url", dbURL), len(migrationNames(t)))
	})
}

var insertedLine = regexp.MustCompile(`^inserted (\d+) synthetic articles in \S+ \(\d+ articles/s\)$`)

func TestSeedSynthetic(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dbURL string) {
		seed := func(args ...string) string {
			t.Helper()
			out := mustRun(t, append([]string{"seed", "--database-url", dbURL}, args...)...)
			ls := lines(out)
			if len(ls) != 1 {
				t.Fatalf("seed %v printed %d lines, want 1: %q", args, len(ls), out)
			}
			m := insertedLine.FindStringSubmatch(ls[0])
			if m == nil {
				t.Fatalf("seed %v printed %q, want %q", args, ls[0], insertedLine)
			}
			return m[1]
		}

		if n := seed("--count", "250", "--batch-size", "100"); n != "250" {
			t.Fatalf("seed --count 250 reported %s articles", n)
		}
		if n := countArticles(t, dbURL); n != 250 {
			t.Fatalf("after seed --count 250 there are %d articles, want 250", n)
		}
		// A count that is not a multiple of the batch size, with more writers than batches.
		if n := seed("--count", "7", "--batch-size", "3", "--workers", "4"); n != "7" {
			t.Fatalf("seed --count 7 reported %s articles", n)
		}
		if n := countArticles(t, dbURL); n != 257 {
			t.Fatalf("after seed --count 7 there are %d articles, want 257", n)
		}
		// One writer, and a batch larger than the count.
		if n := seed("--count", "5", "--batch-size", "1000", "--workers", "1"); n != "5" {
			t.Fatalf("seed --count 5 reported %s articles", n)
		}
		if n := countArticles(t, dbURL); n != 262 {
			t.Fatalf("after seed --count 5 there are %d articles, want 262", n)
		}
		if n := seed("--count", "0"); n != "0" {
			t.Fatalf("seed --count 0 reported %s articles", n)
		}
		if n := countArticles(t, dbURL); n != 262 {
			t.Fatalf("after seed --count 0 there are %d articles, want 262", n)
		}

		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--batch-size", "0"}, "--batch-size must be between 1 and 10000, not 0"},
			{[]string{"--count", "10", "--batch-size", "0"}, "--batch-size must be between 1 and 10000, not 0"},
			{[]string{"--count", "10", "--batch-size", "10001"}, "--batch-size must be between 1 and 10000, not 10001"},
			{[]string{"--count", "-1"}, "--count must not be negative, not -1"},
			{[]string{"--count", "10", "--workers", "0"}, "--workers must be between 1 and 64, not 0"},
			{[]string{"--count", "10", "--workers", "65"}, "--workers must be between 1 and 64, not 65"},
			{[]string{"--count", "ten"}, `invalid argument "ten" for "--count"`},
		} {
			stdout, _, err := runWithin(t, 30*time.Second, append([]string{"seed", "--database-url", dbURL}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("seed %v: error %v, want it to contain %q", tt.args, err, tt.want)
			}
			if stdout != "" {
				t.Errorf("seed %v printed %q on failure", tt.args, stdout)
			}
		}
		if n := countArticles(t, dbURL); n != 262 {
			t.Fatalf("after the rejected seeds there are %d articles, want 262", n)
		}
	})
}
