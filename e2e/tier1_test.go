package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Tier 1 promises metadata only: no file-system path reaches the server. The recorded
// sessions ran under /home/dev; their transcripts are read from a temporary directory.
func TestTier1StoresNoPath(t *testing.T) {
	hookBin, serverBin := binaries(t)
	srv := startServer(t, serverBin)
	projects := filepath.Join(t.TempDir(), "projects")
	for _, dir := range mustGlob(t, filepath.Join(fixtureRoot, "*", "transcripts")) {
		copyDir(t, dir, projects)
	}
	fixtures := loadFixtures(t, projects)
	h := newHookEnv(t, hookBin)
	h.Run(t, nil, "init", "--collector-url", srv.CollectorURL, "--privacy-tier", "1")
	for _, fs := range fixtures {
		for _, p := range fs.Payloads {
			h.Capture(t, p)
		}
	}
	h.Run(t, nil, "flush")
	if !waitFor(15*time.Second, func() bool { return len(srv.sessionIDs(t)) >= len(fixtures) }) {
		t.Fatalf("sessions: %v, want the %d fixture sessions", srv.sessionIDs(t), len(fixtures))
	}
	got := srv.session(t, fixtures[0].SessionID)
	if got.CWD == "" || bytes.ContainsAny([]byte(got.CWD), `/\`) {
		t.Errorf("session cwd at tier 1 = %q, want the folder's name alone", got.CWD)
	}
	paths := [][]byte{[]byte("/home/dev"), []byte(projects)}
	_ = filepath.Walk(filepath.Dir(srv.DBPath), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, path := range paths {
			if i := bytes.Index(b, path); i >= 0 {
				t.Errorf("%s holds the path %q at tier 1: …%q…", p, path, b[max(0, i-120):min(len(b), i+80)])
			}
		}
		return nil
	})
}
