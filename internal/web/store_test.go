package web

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// xssSessionID is the session in testdata/xss: hook payloads whose prompt, command,
// output, file and response carry markup that must never run.
const xssSessionID = "5e55c0de-0000-4000-8000-00000000a11e"

// mustFixtureStore opens a real SQLite store in a temp dir and ingests every recorded
// Claude Code session (storetest's tier 3 events built from the shared fixtures) and the
// XSS session.
func mustFixtureStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	for _, f := range storetest.Fixtures() {
		if _, err := st.Ingest(ctx, f.Events); err != nil {
			tb.Fatalf("ingest fixture %s: %v", f.Name, err)
		}
	}
	if _, err := st.Ingest(ctx, mustHookEvents(tb, "testdata/xss", time.Now().Add(-10*time.Minute))); err != nil {
		tb.Fatalf("ingest xss fixture: %v", err)
	}
	return st
}

// mustHookEvents turns a folder of hook payloads (NNN.json, Claude Code's stdin in order)
// into tier 3 hook events 1 ms apart from start, as the hook would capture them.
func mustHookEvents(tb testing.TB, dir string, start time.Time) []event.Event {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("hook payloads in %s: %v", dir, err)
	}
	sort.Strings(files)
	var out []event.Event
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, hookEvent(tb, raw, start.Add(time.Duration(i)*time.Millisecond)))
	}
	return out
}

func hookEvent(tb testing.TB, raw []byte, at time.Time) event.Event {
	tb.Helper()
	var p struct {
		SessionID string `json:"session_id"`
		HookEvent string `json:"hook_event_name"`
		PromptID  string `json:"prompt_id"`
		ToolUseID string `json:"tool_use_id"`
		ToolName  string `json:"tool_name"`
		AgentID   string `json:"agent_id"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		tb.Fatalf("hook payload: %v", err)
	}
	return event.Event{
		ID:   event.HookID(p.SessionID, p.HookEvent, p.ToolUseID, p.PromptID, p.AgentID, raw),
		Kind: event.KindHook, SessionID: p.SessionID, Time: at.UTC(), Tier: event.TierFull,
		HookEvent: p.HookEvent, PromptID: p.PromptID, ToolUseID: p.ToolUseID, ToolName: p.ToolName, AgentID: p.AgentID,
		User: storetest.FixtureUser, Host: storetest.FixtureHost, Payload: raw,
		Git: &event.GitState{Remote: storetest.FixtureRepo, Branch: "main"},
	}
}

// synthSession builds the hook events of a session that is not among the recordings: one
// prompt, calls Bash calls of which every failEvery-th fails, ended or still active. At
// tier 1 the payloads carry no prompt text and no tool input, as the hook strips them.
func synthSession(tb testing.TB, id string, start time.Time, tier int, prompt string, calls, failEvery int, ended bool) []event.Event {
	tb.Helper()
	pid := id + "-p0"
	at := start
	var out []event.Event
	add := func(m map[string]any) {
		m["session_id"] = id
		m["cwd"] = "/home/dev/src/demo"
		raw, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		e := hookEvent(tb, raw, at)
		e.Tier = tier
		out = append(out, e)
		at = at.Add(time.Second)
	}
	add(map[string]any{"hook_event_name": "SessionStart", "source": "startup"})
	up := map[string]any{"hook_event_name": "UserPromptSubmit", "prompt_id": pid}
	if tier >= event.TierDetails {
		up["prompt"] = prompt
	}
	add(up)
	for i := range calls {
		tid := fmt.Sprintf("toolu_%s_%02d", id, i)
		input := map[string]any{"command": "go test ./...", "description": "Run the tests"}
		pre := map[string]any{"hook_event_name": "PreToolUse", "prompt_id": pid, "tool_name": "Bash", "tool_use_id": tid}
		post := map[string]any{"hook_event_name": "PostToolUse", "prompt_id": pid, "tool_name": "Bash", "tool_use_id": tid,
			"duration_ms": 900, "tool_response": map[string]any{"stdout": "ok", "stderr": ""}}
		if failEvery > 0 && i%failEvery == 0 {
			post = map[string]any{"hook_event_name": "PostToolUseFailure", "prompt_id": pid, "tool_name": "Bash", "tool_use_id": tid,
				"duration_ms": 900, "error": "Exit code 1\nFAIL", "is_interrupt": false}
		}
		if tier >= event.TierDetails {
			pre["tool_input"], post["tool_input"] = input, input
		}
		add(pre)
		add(post)
	}
	if ended {
		add(map[string]any{"hook_event_name": "SessionEnd", "reason": "other", "prompt_id": pid})
	}
	return out
}

func mustIngest(tb testing.TB, st *sqlite.Store, events []event.Event) {
	tb.Helper()
	if _, err := st.Ingest(context.Background(), events); err != nil {
		tb.Fatalf("ingest: %v", err)
	}
}
