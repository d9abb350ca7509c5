package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
	"github.com/articlesd/articlesd/telemetry"
)

func newServeCommand(build BuildInfo) *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Articles API, Swagger UI (/ui/) and health checks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), cfg, build, cmd.ErrOrStderr(), nil)
		},
	}
	f := c.Flags()
	f.String("addr", defaults["addr"].(string), "listen address (env ARTICLESD_ADDR)")
	f.Bool("auto-migrate", true, "apply pending migrations before serving (env ARTICLESD_AUTO_MIGRATE)")
	f.Duration("shutdown-timeout", defaults["shutdown-timeout"].(time.Duration), "how long a graceful stop waits for requests in flight")
	f.Duration("shutdown-drain", defaults["shutdown-drain"].(time.Duration), "how long a graceful stop first keeps serving with Connection: close and /readyz 503")
	f.Duration("read-header-timeout", defaults["read-header-timeout"].(time.Duration), "limit for reading request headers")
	f.Duration("read-timeout", defaults["read-timeout"].(time.Duration), "limit for reading a whole request")
	f.Duration("write-timeout", defaults["write-timeout"].(time.Duration), "limit for writing a response")
	f.Duration("write-stall-timeout", defaults["write-stall-timeout"].(time.Duration), "limit for one write of a large article to a client that does not read")
	f.Int("send-buffer", defaults["send-buffer"].(int), "socket send buffer of API connections in bytes (SO_SNDBUF); 0: the kernel's autotuning")
	f.Duration("idle-timeout", defaults["idle-timeout"].(time.Duration), "how long a keep-alive connection may idle")
	f.Int64("max-body-bytes", defaults["max-body-bytes"].(int64), "largest request body accepted; larger ones get 413")
	f.Int("db-max-conns", defaults["db-max-conns"].(int), "PostgreSQL connection pool size")
	f.Bool("metrics", true, "serve Prometheus metrics at /metrics")
	f.String("metrics-addr", "", "also serve /metrics on this separate address")
	f.String("pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this separate address; off when empty")
	f.String("otlp-endpoint", "", "OTLP gRPC trace collector, host:port or URL (env ARTICLESD_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT); empty: no tracing")
	f.Bool("otlp-insecure", true, "send traces without TLS when the endpoint is host:port")
	f.Float64("trace-sample-ratio", 1.0, "share of new traces recorded, 0 to 1 (an incoming traceparent's decision is kept)")
	f.String("service-name", "articles-api", "service.name of the traces (env OTEL_SERVICE_NAME too)")
	f.String("log-file", "", "also write logs to this file, rotated by size (what Promtail/Alloy ship to Loki)")
	f.Int("log-file-max-mb", 100, "rotate the log file at this size")
	f.Duration("log-flush", 100*time.Millisecond, "longest an INFO or DEBUG log line waits to be written with others; 0: each at once (warnings and errors never wait)")
	f.String("auth", "on", "on: POST, PUT and DELETE need an API token; off: writes are open (demos only)")
	f.String("bootstrap-token", "", "a token accepted besides the stored ones, at least 16 characters (env ARTICLESD_BOOTSTRAP_TOKEN; for compose and tests)")
	f.Bool("require-if-match", false, "answer 428 to PUT and DELETE without If-Match")
	f.Float64("rate-limit", 0, "requests per second per client address; 0: no limit")
	f.Duration("request-timeout", defaults["request-timeout"].(time.Duration), "bound on one API request, database calls included: past it the answer is 503")
	f.Int("rate-burst", 0, "requests a client may burst above --rate-limit (default: the rate, at least 1)")
	return c
}

// runServe wires and runs the server until ctx ends, then stops it gracefully: stop
// accepting, let requests in flight finish within the shutdown timeout, flush the
// telemetry, close the pool. When ready is not nil it receives the listening address
// once requests are served.
func runServe(ctx context.Context, cfg Config, build BuildInfo, logOut io.Writer, ready chan<- string) error {
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	// The addresses first: a port that cannot be had is reported before anything is
	// touched (no database file made, no migration run, no token printed).
	addrs := []string{cfg.Addr}
	what := []string{"api"}
	if cfg.PprofAddr != "" {
		addrs, what = append(addrs, cfg.PprofAddr), append(what, "pprof")
	}
	if cfg.MetricsAddr != "" && cfg.Metrics {
		addrs, what = append(addrs, cfg.MetricsAddr), append(what, "metrics")
	}
	listeners := make([]*gracefulListener, len(addrs))
	for i, a := range addrs {
		ln, err := listenGraceful(a)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", a, errors.Unwrap(err))
		}
		defer ln.Close()
		listeners[i] = ln
	}

	tel, err := telemetry.New(ctx, telemetry.Config{
		ServiceName:    cfg.ServiceName,
		ServiceVersion: build.Version,
		Metrics:        cfg.Metrics,
		OTLPEndpoint:   cfg.OTLPEndpoint,
		OTLPInsecure:   cfg.OTLPInsecure,
		SampleRatio:    cfg.TraceSampleRatio,
		LogLevel:       level,
		LogFile:        cfg.LogFile,
		LogFileMaxMB:   cfg.LogFileMaxMB,
		LogFlush:       cfg.LogFlush,
		Stderr:         logOut,
	})
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(flushCtx); err != nil {
			fmt.Fprintf(logOut, "level=WARN msg=\"telemetry shutdown\" err=%q\n", err.Error())
		}
	}()
	log := tel.Logger

	loc, _ := store.ParseURL(cfg.DatabaseURL)
	if loc.Dialect == store.SQLite {
		log.Info("using the embedded database", "path", loc.DSN)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxOpenConns: cfg.DBMaxConns, TracerProvider: tel.TracerProvider, Logger: log, Serving: true})
	if err != nil {
		return err
	}
	defer st.Close()

	if cfg.AutoMigrate {
		applied, err := st.MigrateUp(ctx)
		if err != nil {
			return err
		}
		for _, m := range applied {
			log.Info("applied migration", "version", m.Version, "name", m.Name)
		}
	} else if err := st.VerifyMigrations(ctx); err != nil {
		return err
	}

	auth, err := setUpAuth(ctx, cfg, st, logOut, log)
	if err != nil {
		return err
	}
	opts := app.Options{
		Store: st, Logger: log, MaxBodyBytes: cfg.MaxBodyBytes,
		Middleware: tel.Middleware(), TracerProvider: tel.TracerProvider,
		RequireIfMatch: cfg.RequireIfMatch, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		RequestTimeout: cfg.RequestTimeout, StallTimeout: cfg.WriteStallTimeout, WriteTimeout: cfg.WriteTimeout,
	}
	if auth != nil {
		opts.Auth = auth
	}
	if tel.Metrics != nil {
		tel.Metrics.WatchArticleCount(st.CountArticles, articleCountMaxAge)
		opts.OnArticleCreated = tel.Metrics.ArticleCreated
		opts.Metrics = tel.MetricsHandler()
	}
	handler, err := app.NewHandler(opts)
	if err != nil {
		return err
	}
	drain := &drainingHandler{next: handler}
	servers := []*http.Server{newHTTPServer(ctx, cfg, drain, log)}
	if cfg.PprofAddr != "" {
		// Profiling on its own address only (never the API port): it shows internals.
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", redactedCmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pprofSrv := newHTTPServer(ctx, cfg, mux, log)
		pprofSrv.WriteTimeout = 0 // a CPU profile streams for as long as it was asked to
		servers = append(servers, pprofSrv)
	}
	if cfg.MetricsAddr != "" && cfg.Metrics {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", tel.MetricsHandler())
		servers = append(servers, newHTTPServer(ctx, cfg, mux, log))
	}
	served := make(chan error, len(servers))
	for i, srv := range servers {
		ln := listeners[i]
		addrs[i] = ln.Addr().String()
		srv.ConnState = ln.trackState
		if i == 0 {
			ln.sendBuffer = cfg.SendBuffer
		}
		go func() { served <- srv.Serve(ln) }()
		defer srv.Close()
	}
	go reclaimWhenIdle(ctx, reclaimInterval, reclaimFloor, log)

	apiAddr, _ := net.ResolveTCPAddr("tcp", addrs[0])
	log.Info("serving the Articles API", "version", build.Version, "addr", addrs[0], "database", st.Dialect(),
		"ui", "http://"+browsable(apiAddr)+"/ui/", "metrics", cfg.Metrics, "tracing", cfg.OTLPEndpoint != "")
	for i, a := range addrs[1:] {
		log.Info("serving "+what[i+1], "addr", a)
	}
	if ready != nil {
		ready <- addrs[0]
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// First a short drain: /readyz says 503 (load balancers stop sending) and every
	// response says Connection: close, so clients stop reusing their connections.
	log.Info("shutting down: draining", "drain", cfg.ShutdownDrain, "timeout", cfg.ShutdownTimeout)
	drain.draining.Store(true)
	select {
	case <-time.After(cfg.ShutdownDrain):
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Then no new connection, but those the kernel had already completed are accepted
	// and served. Shutdown throws away any request it reads, so before it each new
	// connection gets its first request answered, and the idle ones on which nothing has
	// arrived are ended: the only requests left unanswered are those a client sends on
	// an idle connection as the server closes it (HTTP/1.1's keep-alive race; such a
	// request is never read). Shutdown then waits for the answers in progress, and
	// closing ends with the lingering closes (graceful.go).
	for _, ln := range listeners {
		ln.stopAccepting(stopCtx)
	}
	for _, ln := range listeners {
		ln.endIdle(stopCtx)
	}
	for _, srv := range servers {
		if err := srv.Shutdown(stopCtx); err != nil {
			return fmt.Errorf("graceful shutdown: %w", err)
		}
	}
	for _, ln := range listeners {
		ln.waitLingering(stopCtx)
	}
	log.Info("stopped")
	return nil
}

// redactedCmdline serves /debug/pprof/cmdline as net/http/pprof does, with the values
// of secret flags masked: the command line may carry a database password or a token.
func redactedCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, strings.Join(redactArgs(os.Args), "\x00"))
}

// articleCountMaxAge is how long a count of the articles serves /metrics: however often
// it is scraped, the database counts the table at most once per interval.
const articleCountMaxAge = 2 * time.Second

// drainingHandler marks the server as going away once draining is set.
type drainingHandler struct {
	next     http.Handler
	draining atomic.Bool
}

func (d *drainingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.draining.Load() {
		w.Header().Set("Connection", "close")
		if r.URL.Path == "/readyz" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"shutting down"}`+"\n")
			return
		}
	} else {
		// Begun before the drain, it may be answered during it or after: whether the
		// answer says Connection: close is decided when its header is written.
		w = &drainingWriter{ResponseWriter: w, draining: &d.draining}
	}
	d.next.ServeHTTP(w, r)
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

func newHTTPServer(ctx context.Context, cfg Config, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// browsable turns a listening address into one a browser can open (":8080" listens on
// every interface; localhost reaches it).
func browsable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
