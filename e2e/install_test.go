package e2e

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const releaseVersion = "v0.0.0-e2e"

// makeRelease runs `make release` for this machine's platform into dir and returns dir.
func makeRelease(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "release",
		"VERSION="+releaseVersion, "DIST="+dir, "TARGETS="+runtime.GOOS+"/"+runtime.GOARCH)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	return dir
}

// installSh runs scripts/install.sh with args in the hook environment h.
func installSh(h *hookEnv, args ...string) (string, error) {
	cmd := exec.Command("sh", append([]string{filepath.Join(repoRoot, "scripts", "install.sh")}, args...)...)
	cmd.Env = h.Env()
	cmd.Dir = h.Home
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The one-line install, end to end: the archives `make release` builds, served on
// loopback, installed by scripts/install.sh into a prefix with a fake HOME; then the
// installed hook (and the deliverer it finds beside itself) delivers a recorded session to
// the installed server.
func TestInstallFromRelease(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dist := makeRelease(t, t.TempDir())
	site := httptest.NewServer(http.FileServer(http.Dir(dist)))
	defer site.Close()

	t.Run("reproducible", func(t *testing.T) {
		again := makeRelease(t, t.TempDir())
		a, _ := os.ReadFile(filepath.Join(dist, "checksums.txt"))
		b, _ := os.ReadFile(filepath.Join(again, "checksums.txt"))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("two release builds differ:\n%s\n%s", a, b)
		}
	})

	h := newHookEnv(t, "")
	prefix := filepath.Join(t.TempDir(), "prefix with space")
	out, err := installSh(h, "--version", releaseVersion, "--base-url", site.URL, "--prefix", prefix, "--server")
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	bin := filepath.Join(prefix, "bin")
	for _, name := range []string{"agent-trace-hook", "agent-trace-deliver", "agent-trace-server"} {
		st, err := os.Stat(filepath.Join(bin, name))
		if err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("%s not installed as an executable: %v\n%s", name, err, out)
		}
	}
	if !strings.Contains(out, "agent-trace-hook "+releaseVersion) {
		t.Errorf("install.sh output does not show the installed version %s:\n%s", releaseVersion, out)
	}

	srv := startServer(t, filepath.Join(bin, "agent-trace-server"))
	h.Bin = filepath.Join(bin, "agent-trace-hook")
	// Again with --init: an upgrade in place, then `init` with the arguments after --.
	out, err = installSh(h, "--version", releaseVersion, "--base-url", site.URL, "--prefix", prefix,
		"--init", "--", "--collector-url", srv.CollectorURL, "--privacy-tier", "3")
	if err != nil {
		t.Fatalf("install.sh --init: %v\n%s", err, out)
	}
	settings, err := os.ReadFile(filepath.Join(h.ClaudeConfigDir, "settings.json"))
	if err != nil || !bytes.Contains(settings, []byte(filepath.Join(bin, "agent-trace-hook"))) {
		t.Fatalf("init did not wire the installed hook into settings.json (%v):\n%s\n%s", err, settings, out)
	}

	projects := filepath.Join(t.TempDir(), "projects")
	copyDir(t, filepath.Join(fixtureRoot, "commit", "transcripts"), projects)
	var fs fixtureSession
	for _, f := range loadFixtures(t, projects) {
		if f.Name == "commit" {
			fs = f
		}
	}
	for _, p := range fs.Payloads {
		h.Capture(t, p) // the installed hook starts the installed deliverer beside it
	}
	if !waitFor(20*time.Second, func() bool {
		for _, id := range srv.sessionIDs(t) {
			if id == fs.SessionID {
				return srv.session(t, id).Usage == fs.Usage
			}
		}
		return false
	}) {
		t.Fatalf("the background deliverer did not deliver session %s; hook.log:\n%s", fs.SessionID, h.hookLog())
	}
	got := srv.session(t, fs.SessionID)
	checkSessionMatchesFixture(t, got, fs)
	if got.CostUSD == nil || math.Abs(*got.CostUSD-fs.CostUSD) > 0.0001 {
		t.Errorf("cost_usd = %v, want the CLI's %.5f", fmtCost(got.CostUSD), fs.CostUSD)
	}
}

// A tampered archive is refused before anything is installed.
func TestInstallRefusesBadChecksum(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dist := makeRelease(t, t.TempDir())
	archives, _ := filepath.Glob(filepath.Join(dist, "*.tar.gz"))
	if len(archives) != 1 {
		t.Fatalf("archives in dist: %v, want one", archives)
	}
	f, err := os.OpenFile(archives[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("tampered"))
	f.Close()
	site := httptest.NewServer(http.FileServer(http.Dir(dist)))
	defer site.Close()

	h := newHookEnv(t, "")
	prefix := filepath.Join(t.TempDir(), "prefix")
	out, err := installSh(h, "--version", releaseVersion, "--base-url", site.URL, "--prefix", prefix)
	if err == nil || !strings.Contains(out, "checksum mismatch") {
		t.Fatalf("install.sh of a tampered archive: err %v, want a checksum mismatch:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(prefix, "bin", "agent-trace-hook")); !os.IsNotExist(err) {
		t.Fatalf("a hook was installed from a tampered archive (stat: %v)", err)
	}
	out, err = installSh(h, "--version", "v9.9.9", "--base-url", site.URL, "--prefix", prefix)
	if err == nil || !strings.Contains(out, "no "+runtime.GOOS+"/"+runtime.GOARCH+" archive for version v9.9.9") {
		t.Fatalf("install.sh of a missing version: err %v, want a clear message:\n%s", err, out)
	}
}
