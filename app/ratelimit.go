package app

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// clientLimiter limits each client (by address) to a steady rate with bursts, answering
// 429 with Retry-After beyond it. Limiters of clients idle for a while are forgotten, so
// the table does not grow with the number of addresses ever seen.
type clientLimiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*clientEntry
	swept   time.Time
}

type clientEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

const limiterIdle = 10 * time.Minute

func newClientLimiter(perSecond float64, burst int) *clientLimiter {
	if burst < 1 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &clientLimiter{rate: rate.Limit(perSecond), burst: burst, clients: map[string]*clientEntry{}, swept: time.Now()}
}

func (l *clientLimiter) limiter(client string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > limiterIdle {
		for k, e := range l.clients {
			if now.Sub(e.seen) > limiterIdle {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	e, ok := l.clients[client]
	if !ok {
		e = &clientEntry{lim: rate.NewLimiter(l.rate, l.burst)}
		l.clients[client] = e
	}
	e.seen = now
	return e.lim
}

func (l *clientLimiter) middleware(c *gin.Context) {
	now := time.Now()
	r := l.limiter(c.ClientIP(), now).ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(delay.Seconds()))))
		writeProblem(c, newProblem(http.StatusTooManyRequests, "too many requests from this client; retry after the time in Retry-After"))
		return
	}
	c.Next()
}
