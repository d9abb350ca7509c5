package app_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/store/storetest"
)

// TestTrustedProxies: from a trusted proxy, X-Forwarded-For (or else Forwarded) names
// the client, the nearest untrusted address from the right; from any other peer both
// are ignored. The address is the one the middleware (the log line) and the rate limit
// see.
func TestTrustedProxies(t *testing.T) {
	s := storetest.Open(t, store.SQLite)
	var seen string
	h := hostileNewHandler(t, app.Options{
		Store:          s,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
		Middleware:     []gin.HandlerFunc{func(c *gin.Context) { seen = c.ClientIP() }},
	})
	for _, tc := range []struct {
		name, peer string
		header     []string
		want       string
	}{
		{"untrusted peer, X-Forwarded-For ignored", "192.0.2.10:4000", []string{"X-Forwarded-For", "203.0.113.7"}, "192.0.2.10"},
		{"untrusted peer, Forwarded ignored", "192.0.2.10:4000", []string{"Forwarded", "for=203.0.113.7"}, "192.0.2.10"},
		{"trusted peer without a header", "10.0.0.5:4000", nil, "10.0.0.5"},
		{"trusted peer names the client", "10.0.0.5:4000", []string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
		{"the nearest untrusted hop wins over what the client wrote", "10.0.0.5:4000",
			[]string{"X-Forwarded-For", "198.51.100.1, 203.0.113.7, 10.0.0.9"}, "203.0.113.7"},
		{"a chain of trusted hops only: the farthest", "10.0.0.5:4000", []string{"X-Forwarded-For", "10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"a hop that is no address stops the walk", "10.0.0.5:4000", []string{"X-Forwarded-For", "203.0.113.7, unknown"}, "10.0.0.5"},
		{"IPv6 peer and client", "[fd00::1]:4000", []string{"X-Forwarded-For", "2001:db8::7"}, "2001:db8::7"},
		{"Forwarded with port and brackets", "10.0.0.5:4000", []string{"Forwarded", `for="[2001:db8::1]:4711";proto=http`}, "2001:db8::1"},
		{"Forwarded, several elements", "10.0.0.5:4000", []string{"Forwarded", "for=198.51.100.1, for=203.0.113.8;proto=https"}, "203.0.113.8"},
		{"X-Forwarded-For before Forwarded", "10.0.0.5:4000",
			[]string{"X-Forwarded-For", "203.0.113.7", "Forwarded", "for=203.0.113.8"}, "203.0.113.7"},
		{"IPv4-mapped peer is trusted as IPv4", "[::ffff:10.0.0.5]:4000", []string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/healthz", nil)
			req.RemoteAddr = tc.peer
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			seen = ""
			if rec := hostileSend(t, h, req); rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			if seen != tc.want {
				t.Errorf("client %q, want %q", seen, tc.want)
			}
		})
	}

	// The rate limit counts per client behind the proxy.
	h = hostileNewHandler(t, app.Options{Store: s, RateLimit: 1, RateBurst: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}})
	get := func(peer, client string) int {
		req := httptest.NewRequest("GET", "/articles", nil)
		req.RemoteAddr = peer
		req.Header.Set("X-Forwarded-For", client)
		return hostileSend(t, h, req).Code
	}
	for _, step := range []struct {
		peer, client string
		want         int
	}{
		{"10.0.0.5:1", "203.0.113.1", 200},
		{"10.0.0.5:2", "203.0.113.1", 429}, // the same client through the proxy
		{"10.0.0.5:3", "203.0.113.2", 200}, // another client through the same proxy
		{"192.0.2.10:1", "203.0.113.3", 200},
		{"192.0.2.10:2", "203.0.113.4", 429}, // an untrusted peer cannot name itself anew
	} {
		if got := get(step.peer, step.client); got != step.want {
			t.Errorf("from %s for %s: %d, want %d", step.peer, step.client, got, step.want)
		}
	}
}
