package synth

import (
	"reflect"
	"testing"
	"time"
)

// TestGeneratorRepeatable: the same seed makes the same articles, another seed others;
// every article has the fields the store requires, a day within the span, and words of
// the vocabulary only.
func TestGeneratorRepeatable(t *testing.T) {
	until := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b, c := NewGenerator(5, 30, until), NewGenerator(5, 30, until), NewGenerator(6, 30, until)
	same, differ := true, false
	words := map[string]bool{}
	for _, w := range Words() {
		words[w] = true
	}
	for range 200 {
		x, y, z := a.Next(), b.Next(), c.Next()
		same = same && reflect.DeepEqual(x, y)
		differ = differ || !reflect.DeepEqual(x, z)
		if x.Title == "" || x.Content == "" || x.Author == "" {
			t.Fatalf("article with an empty field: %+v", x)
		}
		if x.CreatedAt.After(until) || x.CreatedAt.Before(until.AddDate(0, 0, -30)) {
			t.Errorf("created %v, outside the 30 days before %v", x.CreatedAt, until)
		}
		for _, tag := range x.Tags {
			if !words[tag] {
				t.Errorf("tag %q is none of Words()", tag)
			}
		}
	}
	if !same || !differ {
		t.Errorf("same seed gave the same articles: %v; another seed other articles: %v", same, differ)
	}
}

func TestDemoIsACopy(t *testing.T) {
	d := Demo()
	if len(d) != 12 {
		t.Fatalf("%d demo articles, want 12", len(d))
	}
	d[0].Tags[0] = "changed"
	if Demo()[0].Tags[0] == "changed" {
		t.Error("Demo hands out the package's own slices")
	}
}
