package capture

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
)

func clearConfigEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AGENT_TRACE_COLLECTOR_URL", "AGENT_TRACE_TOKEN", "AGENT_TRACE_PRIVACY_TIER"} {
		t.Setenv(k, "")
	}
}

func TestCapture(t *testing.T) {
	clearConfigEnv(t)
	f := mustFixture(t, "secrets", "002.json")

	home := t.TempDir()
	if err := agentconfig.SaveConfig(home, agentconfig.Config{Tier: 1, User: "u"}); err != nil {
		t.Fatal(err)
	}
	evs, cfg, err := Capture(bytes.NewReader(f.raw), home, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tier != 1 || cfg.User != "u" {
		t.Errorf("Capture's config = %+v, want the saved one (tier 1, user u)", cfg)
	}
	if evs[0].Tier != 1 || evs[0].User != "u" || strings.Contains(string(evs[0].Payload), "prompt\"") {
		t.Errorf("event = %+v", evs[0])
	}

	t.Setenv("AGENT_TRACE_PRIVACY_TIER", "3")
	evs, _, err = Capture(bytes.NewReader(f.raw), home, testNow)
	if err != nil || evs[0].Tier != 3 {
		t.Fatalf("env tier: %v %v", evs, err)
	}
	clearConfigEnv(t)

	// A corrupt config still captures, at tier 1, and says why in hook.log.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "config.json"), []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	evs, _, err = Capture(bytes.NewReader(f.raw), bad, testNow)
	if err != nil || evs[0].Tier != event.TierMetadata {
		t.Fatalf("corrupt config: %v %v", evs, err)
	}
	if log, _ := os.ReadFile(filepath.Join(bad, "hook.log")); !strings.Contains(string(log), "config") {
		t.Errorf("hook.log = %q", log)
	}

	// An oversized payload is drained to EOF and refused.
	r := bytes.NewReader(bytes.Repeat([]byte("x"), MaxReadBytes+5000))
	if _, _, err := Capture(r, home, testNow); !errors.Is(err, ErrBadPayload) {
		t.Errorf("oversized: err = %v", err)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes left unread on stdin", r.Len())
	}
	if _, _, err := Capture(strings.NewReader(""), home, testNow); !errors.Is(err, ErrBadPayload) {
		t.Errorf("empty: err = %v", err)
	}
}
