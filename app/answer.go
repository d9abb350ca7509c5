package app

import (
	"net/http"
	"time"
	"unicode/utf8"
)

// Answers that carry articles are written here, not by the generated code: it renders
// each into a buffer with encoding/json, which then re-reads and compacts what
// Article.MarshalJSON wrote (four tenths of the server's CPU when slow clients pipelined
// GETs of large articles), and holds the whole answer until the client has read it.
// Here the JSON is appended by hand and written in chunks of answerChunk bytes, each
// write with its own deadline: a client that stops reading is dropped after the stall
// timeout, once the kernel's buffers are full, rather than after the server's whole
// write timeout with the answer held all along; one that reads, however slowly, gets it.
// The bytes are those the generated code would write (a test compares them).

// DefaultStallTimeout is Options.StallTimeout when zero.
const DefaultStallTimeout = 10 * time.Second

// answerChunk is how much of an answer is rendered before it is written.
const answerChunk = 32 << 10

// writing says how answers are written: the stall timeout of each write, and the
// server's write timeout, past which no write deadline reaches.
type writing struct {
	stall        time.Duration
	writeTimeout time.Duration
}

// articleAnswer is a 200 or 201 answer of one article.
type articleAnswer struct {
	status   int
	etag     string
	location string // 201 only
	replayed bool   // the answer of an earlier create with the same Idempotency-Key
	body     Article
	how      writing
}

func (a articleAnswer) VisitGetArticleByIdResponse(w http.ResponseWriter) error { return a.write(w) }
func (a articleAnswer) VisitCreateArticleResponse(w http.ResponseWriter) error  { return a.write(w) }
func (a articleAnswer) VisitUpdateArticleResponse(w http.ResponseWriter) error  { return a.write(w) }

func (a articleAnswer) write(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("ETag", a.etag)
	if a.location != "" {
		h.Set("Location", a.location)
	}
	if a.replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	out := a.how.start(w, a.status)
	out.article(a.body)
	out.buf = append(out.buf, '\n')
	return out.flush()
}

// articleList is a 200 answer of a list of articles (search, popular).
type articleList struct {
	body []Article
	// The search headers, each set when not empty: X-Search-Ignored (stop words),
	// X-Search-Unknown (words found nowhere), X-Search-Corrected (misspelt=searched as).
	ignored, unknown, corrected string
	how                         writing
}

func (l articleList) VisitSearchArticlesResponse(w http.ResponseWriter) error { return l.write(w) }
func (l articleList) VisitGetPopularArticlesResponse(w http.ResponseWriter) error {
	return l.write(w)
}

func (l articleList) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	for _, h := range [...]struct{ name, value string }{
		{"X-Search-Ignored", l.ignored}, {"X-Search-Unknown", l.unknown}, {"X-Search-Corrected", l.corrected},
	} {
		if h.value != "" {
			w.Header().Set(h.name, h.value)
		}
	}
	out := l.how.start(w, http.StatusOK)
	out.buf = append(out.buf, '[')
	for i, a := range l.body {
		if i > 0 {
			out.buf = append(out.buf, ',')
		}
		out.article(a)
		if out.err != nil {
			return out.err
		}
	}
	out.buf = append(out.buf, ']', '\n')
	return out.flush()
}

// chunked renders an answer into a buffer written out whenever it holds answerChunk.
type chunked struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	how writing
	end time.Time // the server's write timeout, as a time; zero: none known
	buf []byte
	err error
}

func (how writing) start(w http.ResponseWriter, status int) *chunked {
	c := &chunked{w: w, rc: http.NewResponseController(w), how: how, buf: make([]byte, 0, 1024)}
	if how.writeTimeout > 0 {
		c.end = time.Now().Add(how.writeTimeout)
	}
	w.WriteHeader(status)
	return c
}

// article appends one article; its content, which may be 100,000 characters, a chunk
// at a time.
func (c *chunked) article(a Article) {
	content := a.Content
	if len(content) <= answerChunk {
		c.buf = a.appendJSON(c.buf)
		c.maybeFlush()
		return
	}
	a.Content = ""
	b := a.appendJSON(nil)
	// Every quote inside a JSON string is escaped: this is the content field.
	i := indexOf(b, `,"content":""`) + len(`,"content":"`)
	c.buf = append(c.buf, b[:i]...)
	for len(content) > 0 && c.err == nil {
		n := min(len(content), answerChunk)
		for n < len(content) && !utf8.RuneStart(content[n]) {
			n++
		}
		s := appendJSONString(nil, content[:n])
		c.buf = append(c.buf, s[1:len(s)-1]...)
		c.maybeFlush()
		content = content[n:]
	}
	c.buf = append(c.buf, b[i:]...)
	c.maybeFlush()
}

func (c *chunked) maybeFlush() {
	if len(c.buf) >= answerChunk {
		_ = c.flush()
	}
}

// flush writes what is rendered, within the stall timeout (never past the write
// timeout). Not every writer takes deadlines (a test's recorder): the server's timeout
// holds there.
func (c *chunked) flush() error {
	if c.err != nil || len(c.buf) == 0 {
		return c.err
	}
	if c.how.stall > 0 {
		d := time.Now().Add(c.how.stall)
		if !c.end.IsZero() && c.end.Before(d) {
			d = c.end
		}
		_ = c.rc.SetWriteDeadline(d)
	}
	_, c.err = c.w.Write(c.buf)
	c.buf = c.buf[:0]
	return c.err
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}
