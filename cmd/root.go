// Package cmd is the articlesd command line: the only package that knows cobra and
// viper. It wires configuration, logging, the store and the HTTP handler together.
package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// BuildInfo describes the binary; main fills it from -ldflags.
type BuildInfo struct {
	Version string
	Commit  string
	Date    string
}

func (b BuildInfo) withDefaults() BuildInfo {
	if b.Version == "" {
		b.Version = "dev"
		if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

// NewRootCommand returns the articlesd command with all its subcommands.
func NewRootCommand(build BuildInfo) *cobra.Command {
	build = build.withDefaults()
	root := &cobra.Command{
		Use:   "articlesd",
		Short: "articlesd serves the Articles API on PostgreSQL or an embedded database",
		Long: `articlesd serves the Articles API (create, read, update, delete, list, full-text
search and popular articles) with Swagger UI at /ui/.

Without --database-url it keeps its data in ./articlesd.db, an embedded database that
needs nothing installed; give it a postgres:// URL to run on PostgreSQL.`,
		Version:       fmt.Sprintf("%s (commit %s, built %s)", build.Version, build.Commit, build.Date),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addFlags(root.PersistentFlags(), everyCommand)
	root.AddCommand(
		newServeCommand(build),
		newMigrateCommand(),
		newSeedCommand(),
		newVersionCommand(build),
		newProvisionCommand(),
		newHealthcheckCommand(),
		newTokenCommand(),
		newBenchCommand(),
	)
	return root
}

func newVersionCommand(build BuildInfo) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of articlesd",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "articlesd %s (commit %s, built %s, %s %s/%s)\n",
				build.Version, build.Commit, build.Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
