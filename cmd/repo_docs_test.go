package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// markdownLink is a link of a Markdown file, [text](target).
var markdownLink = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)

// TestDocsLinks: every relative link of the README and of docs/ leads to a file of the
// repository.
func TestDocsLinks(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	files = append(files, filepath.Join("..", "README.md"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markdownLink.FindAllStringSubmatch(string(b), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
				t.Errorf("%s links to %s, which is not there", f, m[1])
			}
		}
	}
}

// TestDocsSettings: the configuration reference and the README's short table name each
// setting with the default the code has (cmd/settings.go is the source).
func TestDocsSettings(t *testing.T) {
	for _, doc := range []struct {
		file string
		all  bool // every setting must be in it
	}{{filepath.Join("..", "docs", "configuration.md"), true}, {filepath.Join("..", "README.md"), false}} {
		b, err := os.ReadFile(doc.file)
		if err != nil {
			t.Fatal(err)
		}
		documented := map[string]string{} // flag → the default the table says
		for _, line := range strings.Split(string(b), "\n") {
			cells := strings.Split(line, "|")
			if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`--") {
				continue
			}
			flags := strings.Split(cells[1], ",")
			def := cells[len(cells)-3] // the default is the column before the meaning
			if doc.all {
				def = cells[3]
			}
			defs := strings.Split(def, ",")
			for i, f := range flags {
				d := defs[min(i, len(defs)-1)]
				documented[strings.Trim(strings.TrimSpace(f), "`-")] = strings.TrimSpace(d)
			}
		}
		for _, s := range settings {
			d, ok := documented[s.key]
			if !ok {
				if doc.all {
					t.Errorf("%s does not document --%s", doc.file, s.key)
				}
				continue
			}
			if !sameDefault(d, s.def) {
				t.Errorf("%s gives --%s the default %s; the code has %v", doc.file, s.key, d, s.def)
			}
		}
		for f := range documented {
			if _, ok := defaults[f]; !ok {
				t.Errorf("%s documents --%s, which is no setting", doc.file, f)
			}
		}
	}
}

// sameDefault tells whether a default as a table writes it is the code's.
func sameDefault(doc string, def any) bool {
	doc = strings.Trim(strings.Fields(doc + " ")[0], "`")
	switch d := def.(type) {
	case string:
		return (d == "" && (doc == "empty" || doc == "none")) || doc == d
	case bool:
		return doc == strconv.FormatBool(d)
	case time.Duration:
		got, err := time.ParseDuration(doc)
		return err == nil && got == d
	case float64:
		got, err := strconv.ParseFloat(doc, 64)
		return err == nil && got == d
	default:
		return doc == fmt.Sprint(d)
	}
}
