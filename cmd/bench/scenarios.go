package bench

// This file holds the scenario table: what each scenario asks articlesd, over how
// many connections, and which ceiling it is measured against.

import (
	"encoding/json"
	"hash/fnv"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/articlesd/articlesd/store/synth"
)

// seedDays is how many days before now the synthetic articles were created over (the
// seeder's default); list-date and popular-date draw their days from that span.
const seedDays = 730

// A scenario is one kind of request loaded on articlesd.
type scenario struct {
	name string
	// manyConns: it runs --connections connections; otherwise one.
	manyConns bool
	// ceiling is what articlesd is compared with in the same run.
	ceiling ceiling
	// write: the requests are creates, sent with the bootstrap token; success is 201
	// Created rather than 200 OK.
	write bool
	// slowest: the slowest requests are printed after the row.
	slowest bool
	// quality: not a load but the search-quality measurement (quality.go).
	quality bool
	// request makes the next request of a connection.
	request func(d draw) request
}

// ceiling names the least a server could do for a scenario, measured beside it.
type ceiling int

const (
	noCeiling       ceiling = iota
	limitsrvCeiling         // limitsrv, in rounds alternating with articlesd
	pgbenchCeiling          // pgbench's create transaction, before articlesd
)

// scenarios are the scenarios of `articlesd bench`, in the order they run by default.
// create runs last: it is the only one that changes the data.
var scenarios = []scenario{
	{name: "get-by-id", manyConns: true, ceiling: limitsrvCeiling, request: func(d draw) request {
		return request{method: http.MethodGet, path: "/articles/" + strconv.Itoa(1+d.rand.IntN(d.count))}
	}},
	{name: "list-tag", request: func(d draw) request { return list("/articles", "tag", d.gen.Tag(), "limit", "100") }},
	{name: "list-author", request: func(d draw) request { return list("/articles", "author", d.gen.Author(), "limit", "100") }},
	{name: "list-date", request: func(d draw) request { return list("/articles", "date", d.day(), "limit", "100") }},
	{name: "search", slowest: true, request: func(d draw) request { return list("/articles/search", "query", d.gen.SearchQuery()) }},
	{name: "search-quality", quality: true},
	{name: "popular", request: func(draw) request { return request{method: http.MethodGet, path: "/articles/popular"} }},
	{name: "popular-tag", request: func(d draw) request { return list("/articles/popular", "tag", d.gen.Tag()) }},
	{name: "popular-date", request: func(d draw) request { return list("/articles/popular", "date", d.day()) }},
	{name: "create", manyConns: true, ceiling: pgbenchCeiling, write: true, request: func(d draw) request {
		a := d.gen.Next()
		if a.Tags == nil {
			a.Tags = []string{}
		}
		body, _ := json.Marshal(map[string]any{"title": a.Title, "content": a.Content, "author": a.Author, "tags": a.Tags})
		return request{method: http.MethodPost, path: "/articles", body: body}
	}},
}

// ScenarioNames lists the scenarios, in the order they run by default.
func ScenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// inRounds returns the first of the scenarios that runs in rounds against limitsrv.
func inRounds(picked []scenario) (scenario, bool) {
	i := slices.IndexFunc(picked, func(s scenario) bool { return s.ceiling == limitsrvCeiling })
	if i < 0 {
		return scenario{}, false
	}
	return picked[i], true
}

// conns is how many connections the scenario runs.
func (s scenario) conns(o Options) int {
	if s.manyConns {
		return o.Connections
	}
	return 1
}

// want is the status of a success.
func (s scenario) want() int {
	if s.write {
		return http.StatusCreated
	}
	return http.StatusOK
}

// spec returns the measured run of the scenario against the server at base; the
// connections of every target draw the same requests.
func (s scenario) spec(o Options, target, base, token string, today time.Time) loadSpec {
	spec := loadSpec{scenario: s.name, target: target, base: base, conns: s.conns(o), want: s.want(),
		next: func(worker int) func() request {
			d := newDraw(o.Seed, s.name, worker, o.Count, today)
			return func() request { return s.request(d) }
		}}
	if s.write {
		spec.token = token
	}
	return spec
}

// list is a GET of path with the query of the pairs kv; the first value labels it in
// the slowest list.
func list(path string, kv ...string) request {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return request{method: http.MethodGet, path: path + "?" + v.Encode(), label: kv[1]}
}

// draw is what one connection of a scenario draws its requests from.
type draw struct {
	gen   *synth.Generator
	rand  *mrand.Rand
	count int       // the ids of the data set are 1..count
	today time.Time // the days of list-date and popular-date are before it
}

// newDraw returns the generators of one connection of a scenario: the same seed,
// scenario and connection always draw the same requests.
func newDraw(seed uint64, scenario string, worker, count int, today time.Time) draw {
	h := fnv.New64a()
	_, _ = io.WriteString(h, scenario)
	s := seed ^ h.Sum64() ^ uint64(worker+1)<<40
	return draw{
		gen:   synth.NewGenerator(s, seedDays, time.Now()),
		rand:  mrand.New(mrand.NewPCG(s, s>>1|1)), //nolint:gosec // seeded on purpose: runs must be reproducible
		count: count,
		today: today,
	}
}

// day is a day of the data set's span, as the API writes dates.
func (d draw) day() string {
	return d.today.AddDate(0, 0, -d.rand.IntN(seedDays)).Format(time.DateOnly)
}
