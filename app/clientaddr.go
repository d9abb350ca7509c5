package app

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
)

// clientAddress makes the client's address the request's (what the log line, the span
// and the rate limit use) when the peer is one of the trusted proxies: the nearest
// address, walking X-Forwarded-For (or, without it, the for= of Forwarded, RFC 7239)
// from the right, that is not a trusted proxy itself. From any other peer both headers
// are ignored, so that no client chooses the address it is logged and limited under.
func clientAddress(trusted []netip.Prefix) gin.HandlerFunc {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return func(c *gin.Context) {
		host, _, err := net.SplitHostPort(c.Request.RemoteAddr)
		peer, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !isTrusted(peer) {
			c.Next()
			return
		}
		chain := forwardedFor(c.Request.Header.Values("X-Forwarded-For"))
		if len(chain) == 0 {
			chain = forwardedRFC7239(c.Request.Header.Values("Forwarded"))
		}
		for i := len(chain) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(chain[i])
			if err != nil {
				break // a hop that is no address: trust nothing beyond it
			}
			if !isTrusted(a) || i == 0 {
				c.Request.RemoteAddr = net.JoinHostPort(a.Unmap().String(), "0")
				break
			}
		}
		c.Next()
	}
}

// forwardedFor lists the addresses of X-Forwarded-For headers, nearest last.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// forwardedRFC7239 lists the for= addresses of Forwarded headers, nearest last, without
// quotes, brackets or ports ("[2001:db8::1]:4711" is 2001:db8::1).
func forwardedRFC7239(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				val = strings.Trim(val, `"`)
				if strings.HasPrefix(val, "[") {
					if end := strings.Index(val, "]"); end > 0 {
						val = val[1:end]
					}
				} else if h, _, err := net.SplitHostPort(val); err == nil {
					val = h
				}
				out = append(out, val)
			}
		}
	}
	return out
}
