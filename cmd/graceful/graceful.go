// Package graceful stops HTTP servers without losing an answer: it gives them listeners
// whose connections close the way RFC 9112 §9.6 asks, and stops them in an order that
// leaves no accepted request unanswered (see Group.Shutdown).
package graceful

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// How a graceful stop ends connections without losing an answer:
//
//   - Every connection is closed the way RFC 9112 §9.6 asks: FIN after the last response,
//     then what the client still sends is read and thrown away until it closes its side
//     (or lingerFor passes). A plain close() with unread bytes (a pipelined request after
//     a Connection: close answer) makes the kernel send an RST, which discards the part
//     of the answer not yet sent.
//   - At the end of the drain the listener stops taking new connections (on Linux new
//     SYNs are dropped, so such a client retries and meets a refused port), the
//     connections the kernel had already completed are still accepted and served, and
//     only then is the socket closed: closing a listener resets the connections in its
//     accept queue, after their clients may have sent a request.
//   - Before http.Server.Shutdown, which discards any request it reads once it has
//     begun, the new connections get their first request read (and answered, with
//     Connection: close) and the idle ones are ended by the server only when nothing has
//     arrived on them.
const (
	lingerFor       = 2 * time.Second        // longest a closed connection is read and discarded
	acceptQuiet     = 10 * time.Millisecond  // the accept queue is empty once nothing came for this long
	acceptDrainMax  = 500 * time.Millisecond // bound on accepting after the stop began
	firstRequestFor = time.Second            // how long a new connection may take to send its request
)

// Listener hands out connections closed with a lingering close, and tracks them (through
// http.Server.ConnState, which Group sets).
type Listener struct {
	*net.TCPListener
	// sendBuffer, when above 0, is the SO_SNDBUF of each connection accepted. The kernel
	// grows a connection's buffer up to net.ipv4.tcp_wmem's maximum (4 MiB): a client
	// that pipelines requests and never reads then had ten 400 KB articles read,
	// rendered and copied for it on each connection before its first write blocked;
	// with 256 KiB, one. (One connection then carries at most about twice the buffer per
	// round trip: 5 MB/s at 100 ms.)
	sendBuffer int
	stopping   atomic.Bool
	stopBy     time.Time // set before stopping
	closeOnce  sync.Once
	closed     chan struct{}
	lingering  sync.WaitGroup

	mu    sync.Mutex
	conns map[*lingerConn]struct{}
}

// Listen listens on a TCP address. sendBuffer, when above 0, is the SO_SNDBUF of each
// connection accepted (see Listener.sendBuffer).
func Listen(addr string, sendBuffer int) (*Listener, error) {
	// Plain TCP, not Go's default Multipath TCP: an MPTCP socket takes no socket filter
	// (see dropNewConnections), and clients speak plain TCP anyway.
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{TCPListener: ln.(*net.TCPListener), sendBuffer: sendBuffer, closed: make(chan struct{}), conns: map[*lingerConn]struct{}{}}, nil
}

func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.TCPListener.AcceptTCP()
		if err == nil {
			if l.sendBuffer > 0 {
				_ = c.SetWriteBuffer(l.sendBuffer)
			}
			if l.stopping.Load() {
				next := time.Now().Add(acceptQuiet)
				if next.After(l.stopBy) {
					next = time.Now()
				}
				_ = l.TCPListener.SetDeadline(next)
			}
			lc := &lingerConn{TCPConn: c, l: l}
			l.mu.Lock()
			l.conns[lc] = struct{}{}
			l.mu.Unlock()
			return lc, nil
		}
		if !l.stopping.Load() {
			return nil, err
		}
		// Nothing came for acceptQuiet; but a goroutine kept off the CPU that long may see
		// the deadline pass with connections still queued: close only an empty queue.
		if errors.Is(err, os.ErrDeadlineExceeded) && acceptQueueLen(l.TCPListener) > 0 && time.Now().Before(l.stopBy) {
			_ = l.TCPListener.SetDeadline(time.Now().Add(acceptQuiet))
			continue
		}
		l.closeSocket()
		return nil, net.ErrClosed
	}
}

func (l *Listener) closeSocket() {
	l.closeOnce.Do(func() {
		_ = l.TCPListener.Close()
		close(l.closed)
	})
}

// Close is what http.Server.Shutdown and Close call.
func (l *Listener) Close() error {
	l.closeSocket()
	return nil
}

// stopAccepting makes the kernel take no new connection, accepts (for the server to
// serve) those it had already completed, then closes the socket. It returns once the
// socket is closed, or ctx ends.
func (l *Listener) stopAccepting(ctx context.Context) {
	dropNewConnections(l.TCPListener) // best effort; Linux only
	l.stopBy = time.Now().Add(acceptDrainMax)
	l.stopping.Store(true)
	_ = l.TCPListener.SetDeadline(time.Now().Add(acceptQuiet)) // wakes the Accept in progress
	select {
	case <-l.closed:
	case <-ctx.Done():
		l.closeSocket()
	}
}

// trackState is the http.Server's ConnState hook.
func (l *Listener) trackState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*lingerConn)
	if !ok {
		return
	}
	c.mu.Lock()
	c.state = s
	if s == http.StateIdle {
		c.readWhileIdle = false
	}
	c.mu.Unlock()
	if s == http.StateClosed || s == http.StateHijacked {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	}
}

// endIdle waits, until firstRequestFor has passed, for each new connection to send its
// first request, and ends each idle connection on which nothing has arrived; a
// connection whose request has arrived is left to be answered. It returns when only
// connections with a request being answered remain.
func (l *Listener) endIdle(ctx context.Context) {
	giveUp := time.Now().Add(firstRequestFor)
	for {
		waiting := 0
		late := time.Now().After(giveUp)
		l.mu.Lock()
		for c := range l.conns {
			if !c.endIfIdle(late) && c.awaited() {
				waiting++
			}
		}
		l.mu.Unlock()
		if waiting == 0 || late {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitLingering waits for the lingering closes to end.
func (l *Listener) waitLingering(ctx context.Context) {
	done := make(chan struct{})
	go func() { l.lingering.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// lingerConn is a server connection closed with a lingering close.
type lingerConn struct {
	*net.TCPConn
	l         *Listener
	closeOnce sync.Once

	mu            sync.Mutex
	state         http.ConnState
	readWhileIdle bool // bytes arrived since it went idle (a request is coming)
	refused       bool // the server ends it: what arrives now is not read
}

// awaited reports whether the connection is new or idle and not being ended: a request
// is expected on it.
func (c *lingerConn) awaited() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.refused && (c.state == http.StateNew || c.state == http.StateIdle)
}

func (c *lingerConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	refused := c.refused
	c.mu.Unlock()
	if refused {
		return 0, net.ErrClosed
	}
	n, err := c.TCPConn.Read(p)
	if n > 0 {
		c.mu.Lock()
		refused = c.refused
		if c.state == http.StateIdle || c.state == http.StateNew {
			c.readWhileIdle = true
		}
		c.mu.Unlock()
		if refused {
			// Arrived after the server decided to end the connection: never served.
			return 0, net.ErrClosed
		}
	}
	return n, err
}

// endIfIdle ends the connection when it is idle (or, when late, new) and nothing has
// arrived on it: its reader is woken up and told the connection is closed, and the
// server closes it. It reports whether it did.
func (c *lingerConn) endIfIdle(late bool) bool {
	c.mu.Lock()
	ok := !c.readWhileIdle && !c.refused && (c.state == http.StateIdle || (late && c.state == http.StateNew))
	if ok {
		c.refused = true
	}
	c.mu.Unlock()
	if ok {
		_ = c.TCPConn.SetReadDeadline(time.Now())
	}
	return ok
}

// Close sends a FIN (after what was written) and reads and discards whatever the client
// still sends until it closes its side or lingerFor passes; only then is the socket
// closed, so the kernel has no unread data to answer with an RST.
func (c *lingerConn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.refused = true
		c.mu.Unlock()
		if err := c.TCPConn.CloseWrite(); err != nil {
			_ = c.TCPConn.Close()
			return
		}
		c.l.lingering.Add(1)
		go func() {
			defer c.l.lingering.Done()
			// A reader of the server may still be blocked on this connection (Shutdown
			// closes idle connections from another goroutine): wake it, and read only
			// once it is done.
			_ = c.TCPConn.SetReadDeadline(time.Now())
			var buf [512]byte
			if _, err := c.TCPConn.Read(buf[:]); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				_ = c.TCPConn.SetReadDeadline(time.Now().Add(lingerFor))
				for {
					if _, err := c.TCPConn.Read(buf[:]); err != nil {
						break
					}
				}
			}
			_ = c.TCPConn.Close()
		}()
	})
	return nil
}

// Group is servers each on its listener, started and stopped together.
type Group struct {
	servers   []*http.Server
	listeners []*Listener
}

// Add puts a server and its listener in the group.
func (g *Group) Add(srv *http.Server, ln *Listener) {
	srv.ConnState = ln.trackState
	g.servers = append(g.servers, srv)
	g.listeners = append(g.listeners, ln)
}

// Serve serves every server of the group in the background; the channel gets the error
// of the first that stops on its own.
func (g *Group) Serve() <-chan error {
	served := make(chan error, len(g.servers))
	for i, srv := range g.servers {
		ln := g.listeners[i]
		go func() { served <- srv.Serve(ln) }()
	}
	return served
}

// Shutdown stops the group without losing an answer, within ctx: no new connection, but
// those the kernel had already completed are accepted and served; as http.Server.Shutdown
// throws away any request it reads, each new connection first gets its first request
// answered, and the idle ones on which nothing has arrived are ended (the only requests
// left unanswered are those a client sends on an idle connection as the server ends it:
// HTTP/1.1's keep-alive race; such a request is never read). Shutdown then waits for
// the answers in progress, and the stop ends with the lingering closes.
func (g *Group) Shutdown(ctx context.Context) error {
	for _, ln := range g.listeners {
		ln.stopAccepting(ctx)
	}
	for _, ln := range g.listeners {
		ln.endIdle(ctx)
	}
	for _, srv := range g.servers {
		if err := srv.Shutdown(ctx); err != nil {
			return fmt.Errorf("graceful shutdown: %w", err)
		}
	}
	for _, ln := range g.listeners {
		ln.waitLingering(ctx)
	}
	return nil
}

// Close closes every server at once.
func (g *Group) Close() {
	for _, srv := range g.servers {
		_ = srv.Close()
	}
}
