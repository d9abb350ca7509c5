package cmd

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/store"
)

func newTokenCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the API tokens that writes need",
		Args:  cobra.NoArgs,
	}
	var name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print its secret (once: only a hash is kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withMigratedStore(cmd, func(ctx context.Context, st *store.Store) error {
				secret, err := st.CreateToken(ctx, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", secret)
				fmt.Fprintf(cmd.ErrOrStderr(), "Created token %q. Keep it now: it cannot be shown again.\n"+
					"Use it as: Authorization: Bearer <token> (in /ui/: the Authorize button).\n", name)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "name of the token (who or what uses it)")
	_ = create.MarkFlagRequired("name")
	c.AddCommand(
		create,
		&cobra.Command{
			Use:   "list",
			Short: "List tokens: names, creation and last-use times (never the secrets)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withMigratedStore(cmd, func(ctx context.Context, st *store.Store) error {
					tokens, err := st.ListTokens(ctx)
					if err != nil {
						return err
					}
					return printTokens(cmd.OutOrStdout(), tokens)
				})
			},
		},
		&cobra.Command{
			Use:   "revoke NAME",
			Short: "Revoke a token: requests that use it get 401 from now on",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withMigratedStore(cmd, func(ctx context.Context, st *store.Store) error {
					if err := st.RevokeToken(ctx, args[0]); errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("no token named %q", args[0])
					} else if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
					return nil
				})
			},
		},
	)
	return c
}

func printTokens(w io.Writer, tokens []store.Token) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED\tLAST USED")
	for _, t := range tokens {
		used := "never"
		if t.LastUsedAt != nil {
			used = t.LastUsedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.CreatedAt.Format(time.RFC3339), used)
	}
	return tw.Flush()
}

// withMigratedStore is withStore with the schema brought up to date first.
func withMigratedStore(cmd *cobra.Command, fn func(ctx context.Context, st *store.Store) error) error {
	return withStore(cmd, func(ctx context.Context, st *store.Store) error {
		if _, err := st.MigrateUp(ctx); err != nil {
			return err
		}
		return fn(ctx, st)
	})
}

// tokenAuth accepts the tokens in the store and the bootstrap token of the
// configuration (ARTICLESD_BOOTSTRAP_TOKEN), comparing hashes in constant time.
type tokenAuth struct {
	store         *store.Store
	bootstrapHash string // empty: no bootstrap token
}

func (a tokenAuth) Authenticate(ctx context.Context, token string) (string, bool, error) {
	if a.bootstrapHash != "" && subtle.ConstantTimeCompare([]byte(store.HashToken(token)), []byte(a.bootstrapHash)) == 1 {
		return "bootstrap", true, nil
	}
	return a.store.VerifyToken(ctx, token)
}

// setUpAuth decides how writes are authorised when serve starts. With auth off it says
// loudly that writes are open. With auth on and no token anywhere, it creates one and
// prints it once on out (never through the logger, whose lines may be shipped away).
func setUpAuth(ctx context.Context, cfg Config, st *store.Store, out io.Writer, log interface {
	Warn(string, ...any)
	Info(string, ...any)
}) (*tokenAuth, error) {
	if cfg.Auth == "off" {
		log.Warn("AUTH IS OFF (--auth=off): anyone who can reach this server can create, change and delete articles")
		fmt.Fprintln(out, "WARNING: --auth=off: writes need no token. Use this for demos only.")
		return nil, nil
	}
	a := &tokenAuth{store: st}
	if cfg.BootstrapToken != "" {
		a.bootstrapHash = store.HashToken(cfg.BootstrapToken)
		return a, nil
	}
	n, err := st.CountTokens(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return a, nil
	}
	secret, err := st.CreateToken(ctx, "initial")
	if err != nil {
		return nil, err
	}
	log.Info("created the first API token, named initial (its secret is printed once on the terminal, not logged)")
	fmt.Fprintf(out, "\nNo API token existed, so one was created. It is shown only this once:\n\n    %s\n\n"+
		"Writes (POST, PUT, DELETE) need it: Authorization: Bearer <token>. In Swagger UI (/ui/),\n"+
		"click Authorize and paste it. Manage tokens with `articlesd token create|list|revoke`.\n\n", secret)
	return a, nil
}
