package app

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestTimestampsSixDigits: the sixth fractional digit is written when it is 0, and a
// time with no fraction at all still has six.
func TestTimestampsSixDigits(t *testing.T) {
	for in, want := range map[time.Time]string{
		time.Date(2026, 12, 1, 20, 12, 37, 365190000, time.UTC):             "2026-12-01T20:12:37.365190Z",
		time.Date(2026, 12, 1, 20, 12, 37, 0, time.UTC):                     "2026-12-01T20:12:37.000000Z",
		time.Date(2026, 12, 1, 21, 12, 37, 5000, time.FixedZone("x", 3600)): "2026-12-01T20:12:37.000005Z",
	} {
		b, err := json.Marshal(Article{Id: "1", Tags: []string{}, CreatedAt: in, UpdatedAt: in})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"createdAt":"`+want+`","updatedAt":"`+want+`"`) {
			t.Errorf("%v is written %s, want %s", in, b, want)
		}
	}
}

// TestArticleJSONAsEncodingJSON: the hand-written encoding escapes every string as
// encoding/json does, and the document it writes decodes to the same article.
func TestArticleJSONAsEncodingJSON(t *testing.T) {
	samples := []string{"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>", "\x00\x01\x1f\x7f",
		"\b\f\n\r\t", "\u2028\u2029", "\xff\xfe", "a\xc3", "😀 e\u0301", "\ufeff\u200b", strings.Repeat("ü", 50)}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if r.IntN(3) > 0 {
				b[i] = " \"\\<>&\n\x01aé\xe2\x80\xa8"[r.IntN(14)]
			}
		}
		samples = append(samples, string(b))
	}
	for _, s := range samples {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json writes %s", s, got, want)
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	a := Article{Id: "12", Title: samples[3], Content: samples[4], Author: samples[9], Tags: []string{samples[2], samples[6]}, Views: 42, CreatedAt: at, UpdatedAt: at.Add(time.Hour)}
	b, err := json.Marshal(a)
	if err != nil || !json.Valid(b) {
		t.Fatalf("Marshal: %v: %s", err, b)
	}
	var back Article
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Id != a.Id || back.Title != a.Title || back.Content != strings.ToValidUTF8(a.Content, "\ufffd") ||
		back.Author != a.Author || strings.Join(back.Tags, "|") != strings.Join(a.Tags, "|") || back.Views != 42 ||
		!back.CreatedAt.Equal(a.CreatedAt) || !back.UpdatedAt.Equal(a.UpdatedAt) || !utf8.Valid(b) {
		t.Errorf("decoded %+v, want %+v", back, a)
	}
}
