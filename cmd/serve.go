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
	"time"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/cmd/graceful"
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
	listeners := make([]*graceful.Listener, len(addrs))
	for i, a := range addrs {
		sendBuffer := 0
		if i == 0 {
			sendBuffer = cfg.SendBuffer // the API's connections
		}
		ln, err := graceful.Listen(a, sendBuffer)
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
	routes, err := app.NewRoutes()
	if err != nil {
		return err
	}
	opts := app.Options{
		Store: st, Logger: log, MaxBodyBytes: cfg.MaxBodyBytes,
		Routes: routes, Middleware: tel.Middleware(routes), TracerProvider: tel.TracerProvider,
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
	var group graceful.Group
	group.Add(newHTTPServer(ctx, cfg, handler, log), listeners[0])
	next := 1
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
		group.Add(pprofSrv, listeners[next])
		next++
	}
	if cfg.MetricsAddr != "" && cfg.Metrics {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", tel.MetricsHandler())
		group.Add(newHTTPServer(ctx, cfg, mux, log), listeners[next])
	}
	for i, ln := range listeners {
		addrs[i] = ln.Addr().String()
	}
	served := group.Serve()
	defer group.Close()
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
	// First a short drain (/readyz says 503, so balancers stop sending, and every answer
	// says Connection: close, so clients stop reusing their connections), then the stop
	// of every server (graceful.Group.Shutdown).
	log.Info("shutting down: draining", "drain", cfg.ShutdownDrain, "timeout", cfg.ShutdownTimeout)
	handler.Drain()
	select {
	case <-time.After(cfg.ShutdownDrain):
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := group.Shutdown(stopCtx); err != nil {
		return err
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
