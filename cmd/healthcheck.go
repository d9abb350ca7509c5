package cmd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func newHealthcheckCommand() *cobra.Command {
	var url string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the local articlesd is ready (for a container HEALTHCHECK)",
		Long: `healthcheck asks the articlesd serving on this machine (port from --addr, the
ARTICLESD_ADDR environment variable or the config file) whether it is ready: /readyz
answers 200 when the database does. It exits 0 if so and 1 otherwise, so that an image
without a shell or curl can still be health-checked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				cfg, err := loadConfig(cmd)
				if err != nil {
					return err
				}
				_, port, err := net.SplitHostPort(cfg.Addr)
				if err != nil {
					return fmt.Errorf("addr %q: %w", cfg.Addr, err)
				}
				url = "http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("healthcheck %s: %w", url, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck %s: %w", url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck %s: %s", url, resp.Status)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ready (%s)\n", url)
			return nil
		},
	}
	c.Flags().StringVar(&url, "url", "", "URL to check instead of http://127.0.0.1:PORT/readyz")
	c.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	c.Flags().String("addr", defaults["addr"].(string), "address articlesd serves on (env ARTICLESD_ADDR)")
	return c
}
