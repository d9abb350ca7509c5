package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/articlesd/articlesd/embedded"
)

// stackDirs are the top-level directories provision-grafana owns inside --out: files
// there that it does not write are stale and removed (or reported by --check).
var stackDirs = []string{"alloy", "grafana", "haproxy", "loki", "prometheus", "promtail", "tempo"}

func newProvisionCommand() *cobra.Command {
	def := embedded.DefaultStackParams()
	p := def
	var out, stdoutFile string
	var check bool
	c := &cobra.Command{
		Use:   "provision-grafana",
		Short: "Write the observability stack's configuration (Grafana, Prometheus, Loki, Promtail, Alloy, Tempo, HAProxy)",
		Long: `provision-grafana writes every configuration file of the observability stack that
docker-compose.yml runs: Grafana's datasources, dashboard provider and dashboards,
prometheus.yml with its alert rules, the Loki, Promtail, Alloy and Tempo configs, and
the HAProxy config of the scaled deployment (docker compose --profile scale).
They are carried by this binary, so the binary is their one source of truth.

  articlesd provision-grafana --out DIR           write (atomically; unchanged files are left alone)
  articlesd provision-grafana --out DIR --check   exit 1, naming the files, if DIR differs
  articlesd provision-grafana --stdout FILE       print one file, e.g. prometheus/prometheus.yml

Addresses default to the docker compose service names; change them with the flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, err := embedded.Stack(p)
			if err != nil {
				return err
			}
			switch {
			case stdoutFile != "":
				body, ok := files[filepath.ToSlash(stdoutFile)]
				if !ok {
					return fmt.Errorf("no stack file %q; the files are: %s", stdoutFile, strings.Join(embedded.StackPaths(files), ", "))
				}
				_, err := cmd.OutOrStdout().Write(body)
				return err
			case out == "":
				fmt.Fprintf(cmd.ErrOrStderr(), "%s\nFiles (%d): %s\n", cmd.Long, len(files), strings.Join(embedded.StackPaths(files), ", "))
				return errors.New("provision-grafana: say where to write with --out DIR (or print one file with --stdout FILE)")
			case check:
				diffs, err := stackDiff(out, files)
				if err != nil {
					return err
				}
				if len(diffs) > 0 {
					return fmt.Errorf("%s differs from what provision-grafana writes: %s", out, strings.Join(diffs, ", "))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is up to date (%d files)\n", out, len(files))
				return nil
			default:
				changed, err := writeStack(out, files)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d files, %d changed\n", out, len(files), changed)
				return nil
			}
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "directory to write the configuration into")
	f.BoolVar(&check, "check", false, "compare --out with what would be written; exit 1 naming the differences")
	f.StringVar(&stdoutFile, "stdout", "", "print this one file (a path such as prometheus/prometheus.yml) instead of writing")
	f.StringVar(&p.API, "api", def.API, "host:port where Prometheus scrapes articlesd")
	f.StringVar(&p.Prometheus, "prometheus", def.Prometheus, "host:port of Prometheus (Grafana's datasource, Tempo's remote write)")
	f.StringVar(&p.Loki, "loki", def.Loki, "host:port of Loki (Grafana's datasource, the log shippers' target)")
	f.StringVar(&p.Tempo, "tempo", def.Tempo, "host:port of Tempo's HTTP API (Grafana's datasource)")
	f.StringVar(&p.LogDir, "log-dir", def.LogDir, "directory of articlesd's log files, as Promtail and Alloy see it")
	f.StringVar(&p.StackDir, "stack-dir", def.StackDir, "where the written directory is mounted in the stack's containers")
	f.StringSliceVar(&p.Replicas, "replicas", def.Replicas, "host:port of each articlesd replica behind HAProxy (and scraped by Prometheus); a DNS name stands for every address it has")
	f.StringVar(&p.Balancer, "balancer", def.Balancer, "address HAProxy serves the API on")
	f.StringVar(&p.BalancerStats, "balancer-stats", def.BalancerStats, "address of HAProxy's statistics page (/stats)")
	return c
}

// stackDiff names every file of dir that differs from files: changed, missing, or stale
// (in a directory provision-grafana owns but not written by it).
func stackDiff(dir string, files map[string][]byte) ([]string, error) {
	var diffs []string
	for _, name := range embedded.StackPaths(files) {
		have, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			diffs = append(diffs, name+" (missing)")
		case err != nil:
			return nil, err
		case !bytes.Equal(have, files[name]):
			diffs = append(diffs, name+" (differs)")
		}
	}
	stale, err := staleFiles(dir, files)
	if err != nil {
		return nil, err
	}
	for _, s := range stale {
		diffs = append(diffs, s+" (not written by provision-grafana)")
	}
	return diffs, nil
}

func staleFiles(dir string, files map[string][]byte) ([]string, error) {
	var stale []string
	for _, top := range stackDirs {
		root := filepath.Join(dir, top)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			if _, ok := files[filepath.ToSlash(rel)]; !ok && !strings.HasPrefix(d.Name(), ".provision-") {
				stale = append(stale, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(stale)
	return stale, nil
}

// writeStack writes files under dir. Each file is written to a temporary file beside
// it and renamed into place, so a reader (Grafana reloading, Prometheus starting) never
// sees half a file; files already as they should be are not touched. Stale files in the
// directories it owns are removed. It returns how many files changed.
func writeStack(dir string, files map[string][]byte) (int, error) {
	changed := 0
	for _, name := range embedded.StackPaths(files) {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, files[name]) {
			continue
		}
		if err := writeFileAtomic(path, files[name]); err != nil {
			return changed, err
		}
		changed++
	}
	stale, err := staleFiles(dir, files)
	if err != nil {
		return changed, err
	}
	for _, s := range stale {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(s))); err != nil {
			return changed, fmt.Errorf("remove stale %s: %w", s, err)
		}
		changed++
	}
	return changed, nil
}

func writeFileAtomic(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".provision-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := io.Copy(tmp, bytes.NewReader(body)); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Readable by the stack's containers, which run as other users.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
