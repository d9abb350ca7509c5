//go:build linux || darwin || freebsd

package store

import (
	"path/filepath"
	"syscall"
)

// freeBytes returns the space left to an unprivileged writer on the file system that
// holds path, or ok=false where it cannot be told.
func freeBytes(path string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true //nolint:unconvert // field types differ by OS
}
