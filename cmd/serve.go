package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/app"
	"github.com/articlesd/articlesd/store"
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
	f.Duration("read-header-timeout", defaults["read-header-timeout"].(time.Duration), "limit for reading request headers")
	f.Duration("read-timeout", defaults["read-timeout"].(time.Duration), "limit for reading a whole request")
	f.Duration("write-timeout", defaults["write-timeout"].(time.Duration), "limit for writing a response")
	f.Duration("idle-timeout", defaults["idle-timeout"].(time.Duration), "how long a keep-alive connection may idle")
	f.Int64("max-body-bytes", defaults["max-body-bytes"].(int64), "largest request body accepted; larger ones get 413")
	f.Int("db-max-conns", defaults["db-max-conns"].(int), "PostgreSQL connection pool size")
	return c
}

// runServe wires and runs the server until ctx ends, then stops it gracefully: stop
// accepting, let requests in flight finish within the shutdown timeout, close the pool.
// When ready is not nil it receives the listening address once requests are served.
func runServe(ctx context.Context, cfg Config, build BuildInfo, logOut interface{ Write([]byte) (int, error) }, ready chan<- string) error {
	log, err := newLogger(logOut, cfg.LogLevel)
	if err != nil {
		return err
	}
	loc, _ := store.ParseURL(cfg.DatabaseURL)
	if loc.Dialect == store.SQLite {
		log.Info("using the embedded database", "path", loc.DSN)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxOpenConns: cfg.DBMaxConns})
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
	}

	handler, err := app.NewHandler(app.Options{Store: st, Logger: log, MaxBodyBytes: cfg.MaxBodyBytes})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, errors.Unwrap(err))
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	addr := ln.Addr().String()
	log.Info("serving the Articles API", "version", build.Version, "addr", addr, "database", st.Dialect(),
		"ui", "http://"+browsable(ln.Addr())+"/ui/")
	if ready != nil {
		ready <- addr
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests in flight", "timeout", cfg.ShutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
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
