package app

import (
	"strings"
	"unicode"
)

// One rule says what "blank" means for every text field and the search query, on both
// databases: a text is blank when nothing is left after trimming blank characters from
// its ends. Blank characters are what shows as nothing:
//   - Unicode white space (U+00A0 no-break space, U+3000 ideographic space, and the rest
//     of the White_Space property; ECMA-262 counts these as white space too);
//   - format characters (category Cf: U+200B zero-width space, U+FEFF byte order mark,
//     U+200D zero-width joiner, bidirectional marks…);
//   - control characters (category Cc);
//   - the fillers that render as nothing: Hangul fillers U+115F, U+1160, U+3164, U+FFA0 and
//     the blank Braille pattern U+2800.
//
// The document's pattern \S refuses ASCII white space alone (its regular expressions
// are ASCII-only here); this rule is the one that decides.

// isBlankRune reports whether r shows as nothing.
func isBlankRune(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', '\u2800':
		return true
	}
	return unicode.Is(unicode.White_Space, r) || unicode.In(r, unicode.Cf, unicode.Cc)
}

// trimBlank removes blank characters from both ends of s.
func trimBlank(s string) string { return strings.TrimFunc(s, isBlankRune) }
