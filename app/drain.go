package app

import (
	"net/http"
	"sync/atomic"
)

// Handler is the HTTP handler of the API (see NewHandler). Drain begins a graceful stop.
type Handler struct {
	next     http.Handler
	draining atomic.Bool
}

// Drain marks the server as going away: /readyz answers 503 (balancers stop sending),
// and every answer written from now on says Connection: close, so that clients stop
// reusing their connections before the server closes them.
func (h *Handler) Drain() { h.draining.Store(true) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		w.Header().Set("Connection", "close")
	} else {
		// Begun before the drain, it may be answered during it: whether its answer says
		// Connection: close is decided when its header is written.
		w = &drainingWriter{ResponseWriter: w, draining: &h.draining}
	}
	h.next.ServeHTTP(w, r)
}

// drainingWriter adds Connection: close to an answer whose header is written once the
// drain has begun.
type drainingWriter struct {
	http.ResponseWriter
	draining *atomic.Bool
	decided  bool
}

func (w *drainingWriter) decide() {
	if !w.decided {
		w.decided = true
		if w.draining.Load() {
			w.Header().Set("Connection", "close")
		}
	}
}

func (w *drainingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.decide()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *drainingWriter) Write(b []byte) (int, error) {
	w.decide()
	return w.ResponseWriter.Write(b)
}

func (w *drainingWriter) Flush() {
	w.decide()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *drainingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
