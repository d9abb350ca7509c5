package cmd

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/store"
)

func newMigrateCommand() *cobra.Command {
	up := func(cmd *cobra.Command, _ []string) error {
		return withStore(cmd, func(ctx context.Context, st *store.Store) error {
			applied, err := st.MigrateUp(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(applied) == 0 {
				fmt.Fprintln(out, "no pending migrations")
			}
			for _, m := range applied {
				fmt.Fprintf(out, "applied %04d_%s\n", m.Version, m.Name)
			}
			return nil
		})
	}
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending migrations (also: migrate up, down, status)",
		Args:  cobra.NoArgs,
		RunE:  up,
	}
	c.AddCommand(
		&cobra.Command{Use: "up", Short: "Apply every pending migration", Args: cobra.NoArgs, RunE: up},
		&cobra.Command{
			Use:   "down",
			Short: "Revert the most recently applied migration (one step)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withStore(cmd, func(ctx context.Context, st *store.Store) error {
					switch n, err := st.ServersConnected(ctx); {
					case err != nil:
						fmt.Fprintf(cmd.ErrOrStderr(), "articlesd: warning: cannot tell whether servers use this database: %v\n", err)
					case n > 0:
						fmt.Fprintf(cmd.ErrOrStderr(), "articlesd: warning: %s this database: until `articlesd migrate up`, "+
							"requests that need what the migration removes are answered 503\n", serversConnected(n, st.Dialect()))
					}
					m, err := st.MigrateDown(ctx)
					if err != nil {
						return err
					}
					if m == nil {
						fmt.Fprintln(cmd.OutOrStdout(), "no applied migrations")
						return nil
					}
					fmt.Fprintf(cmd.OutOrStdout(), "reverted %04d_%s\n", m.Version, m.Name)
					return nil
				})
			},
		},
		&cobra.Command{
			Use:   "status",
			Short: "List applied and pending migrations",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withStore(cmd, func(ctx context.Context, st *store.Store) error {
					states, err := st.MigrationStatus(ctx)
					if err != nil {
						return err
					}
					return printStatus(cmd.OutOrStdout(), states)
				})
			},
		},
	)
	return c
}

// serversConnected words how many servers use the database.
func serversConnected(n int, d store.Dialect) string {
	switch {
	case d == store.SQLite:
		return "an articlesd server is serving"
	case n == 1:
		return "1 articlesd server is connected to"
	}
	return fmt.Sprintf("%d articlesd servers are connected to", n)
}

func printStatus(w io.Writer, states []store.MigrationState) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATUS\tAPPLIED AT")
	for _, s := range states {
		status, at := "pending", "-"
		if s.AppliedAt != nil {
			status, at = "applied", s.AppliedAt.Format(time.RFC3339)
			if s.Changed {
				status = "changed" // applied from another file than this binary's
			}
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\t%s\n", s.Version, s.Name, status, at)
	}
	return tw.Flush()
}

// withStore loads the configuration, opens the store, runs fn and closes the store.
func withStore(cmd *cobra.Command, fn func(ctx context.Context, st *store.Store) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	st, err := store.Open(cmd.Context(), cfg.DatabaseURL, store.Options{MaxOpenConns: cfg.DBMaxConns})
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cmd.Context(), st)
}
