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
	addFlags(c.Flags(), serveOnly)
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
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxOpenConns: cfg.DBMaxConns, TracerProvider: tel.TracerProvider,
		Logger: log, Serving: true, ReadURL: cfg.DatabaseReadURL})
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
	proxies, _ := parseProxies(cfg.TrustedProxies) // checked by Validate
	opts := app.Options{
		Store: st, Logger: log, MaxBodyBytes: cfg.MaxBodyBytes,
		Routes: routes, Middleware: tel.Middleware(routes), TracerProvider: tel.TracerProvider,
		RequireIfMatch: cfg.RequireIfMatch, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
		RequestTimeout: cfg.RequestTimeout, StallTimeout: cfg.WriteStallTimeout, WriteTimeout: cfg.WriteTimeout,
		TrustedProxies: proxies,
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
