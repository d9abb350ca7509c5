package cmd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/articlesd/articlesd/store/storetest"
)

// mountTmpfs mounts a tmpfs of the given size on a fresh directory, unmounted at the end
// of the test. It skips the test loudly where mounting is not allowed (not root), unless
// ARTICLESD_REQUIRE_MOUNT=1.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		storetest.Skip(t, storetest.Mount, fmt.Sprintf("cannot mount a tmpfs to fill (%v: %s)", err, strings.TrimSpace(string(out))))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull serves the embedded database from a small tmpfs and fills it: a create
// that does not fit is 503 with Retry-After (not 500), /readyz says 503 and why, reads
// go on; once space is freed, /readyz is 200 again and creates succeed, and every
// article acknowledged before is there.
func TestDiskFull(t *testing.T) {
	clearEnv(t)
	dir := mountTmpfs(t, "24m")
	srv := startServer(t, serveConfig("sqlite://"+filepath.Join(dir, "articles.db")))

	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-(2<<20)), 0o600); err != nil {
		t.Fatalf("fill the tmpfs: %v", err)
	}
	content := strings.Repeat("filling the disk ", 3000)
	var acked []string
	var status int
	var header http.Header
	var body string
	for i := 0; i < 200; i++ {
		status, header, body = httpDo(t, "POST", srv.url("/articles"), "application/json",
			fmt.Sprintf(`{"title":"Article %d","content":%q,"author":"a"}`, i, content))
		if status != http.StatusCreated {
			break
		}
		var a struct{ ID string }
		_ = json.Unmarshal([]byte(body), &a)
		acked = append(acked, a.ID)
	}
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" ||
		header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, "storage is full") {
		t.Fatalf("create on a full disk: %d %v %s, want 503 with Retry-After and a problem document", status, header, body)
	}
	if len(acked) == 0 {
		t.Fatal("no article fitted on the disk")
	}
	status, header, body = httpDo(t, "GET", srv.url("/readyz"), "", "")
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" || !strings.Contains(body, "storage is full") {
		t.Errorf("/readyz on a full disk: %d %s, want 503 saying the storage is full", status, body)
	}
	if status, _, body = httpDo(t, "GET", srv.url("/articles/"+acked[0]), "", ""); status != http.StatusOK {
		t.Errorf("read on a full disk: %d %s, want 200", status, body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "/readyz to say 200 once space is freed", func() bool {
		status, _, _ := httpDo(t, "GET", srv.url("/readyz"), "", "")
		return status == http.StatusOK
	})
	if status, _, body = httpDo(t, "POST", srv.url("/articles"), "application/json", `{"title":"After","content":"c","author":"a"}`); status != http.StatusCreated {
		t.Errorf("create once space is freed: %d %s", status, body)
	}
	for _, id := range acked {
		if status, _, _ := httpDo(t, "GET", srv.url("/articles/"+id), "", ""); status != http.StatusOK {
			t.Errorf("article %s, acknowledged before the disk filled: %d", id, status)
		}
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("stop: %v\n%s", err, srv.log)
	}
	t.Logf("%d articles acknowledged before the disk filled", len(acked))
}
