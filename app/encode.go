package app

import (
	"strconv"
	"unicode/utf8"
)

// timestampLayout writes times as RFC 3339 in UTC with exactly six fractional digits:
// the precision both databases keep, at a width that does not change with the value
// (time.RFC3339Nano drops trailing zeros: .36519Z for .365190Z).
const timestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON writes an article by hand, in the order a reader expects (id, title,
// content, author, tags, views, createdAt, updatedAt), with fixed-width timestamps, and
// without reflection: it is the body of the hottest answer. Strings are escaped as
// encoding/json escapes them (a test compares the two).
func (a Article) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 128+len(a.Title)+len(a.Content)+len(a.Author)+16*len(a.Tags))
	return a.appendJSON(b), nil
}

func (a Article) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.Id)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, a.Title)
	b = append(b, `,"content":`...)
	b = appendJSONString(b, a.Content)
	b = append(b, `,"author":`...)
	b = appendJSONString(b, a.Author)
	b = append(b, `,"tags":[`...)
	for i, t := range a.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t)
	}
	b = append(b, `],"views":`...)
	b = strconv.AppendInt(b, a.Views, 10)
	b = append(b, `,"createdAt":"`...)
	b = a.CreatedAt.UTC().AppendFormat(b, timestampLayout)
	b = append(b, `","updatedAt":"`...)
	b = a.UpdatedAt.UTC().AppendFormat(b, timestampLayout)
	return append(b, `"}`...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json does with HTML
// escaping on (its default): ", \ and control characters, <, > and &, U+2028 and U+2029;
// invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
