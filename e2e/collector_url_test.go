package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The original agent-trace documents `init --collector-url http://127.0.0.1:8317/v1/hooks`.
// Users (and blog posts) copy that form: it must deliver, and a config already holding it
// must heal, rather than post to …/v1/hooks/v1/hooks and stop on a 404.
func TestOriginalCollectorURLFormDelivers(t *testing.T) {
	hookBin, serverBin := binaries(t)
	srv := startServer(t, serverBin)
	projects := filepath.Join(t.TempDir(), "projects")
	copyDir(t, filepath.Join(fixtureRoot, "commit", "transcripts"), projects)
	var fs fixtureSession
	for _, f := range loadFixtures(t, projects) {
		if f.Name == "commit" {
			fs = f
		}
	}

	h := newHookEnv(t, hookBin)
	out := h.Run(t, nil, "init", "--collector-url", srv.CollectorURL+"/v1/hooks", "--privacy-tier", "3")
	if !strings.Contains(out, "collector "+srv.CollectorURL+",") {
		t.Errorf("init did not record the collector's origin %s:\n%s", srv.CollectorURL, out)
	}
	if !strings.Contains(out, "reachable") {
		t.Errorf("init did not say whether the collector answers:\n%s", out)
	}
	for _, p := range fs.Payloads[:len(fs.Payloads)/2] {
		h.Capture(t, p)
	}
	h.Run(t, nil, "flush")

	// An old config written with the /v1/hooks form heals when it is read.
	cfgPath := filepath.Join(h.AgentTraceHome, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(raw), `"collector_url": "`+srv.CollectorURL+`"`, `"collector_url": "`+srv.CollectorURL+`/v1/hooks/"`, 1)
	if old == string(raw) {
		t.Fatalf("config.json does not hold the collector URL as expected:\n%s", raw)
	}
	if err := os.WriteFile(cfgPath, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range fs.Payloads[len(fs.Payloads)/2:] {
		h.Capture(t, p)
	}
	h.Run(t, nil, "flush")

	if !waitFor(10*time.Second, func() bool {
		for _, id := range srv.sessionIDs(t) {
			if id == fs.SessionID {
				return srv.session(t, id).Usage == fs.Usage
			}
		}
		return false
	}) {
		t.Fatalf("session %s not delivered whole; hook.log:\n%s", fs.SessionID, h.hookLog())
	}
	checkSessionMatchesFixture(t, srv.session(t, fs.SessionID), fs)
}
