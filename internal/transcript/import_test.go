package transcript_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// buildLikeHook does what capture.Build does to a payload's identity: the event ID comes
// from event.HookID over the payload's correlation keys. Tiering and redaction are the
// hook package's business and not under test here; the payload is kept as is.
func buildLikeHook(raw []byte, at time.Time) ([]event.Event, error) {
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	s := func(k string) string { v, _ := p[k].(string); return v }
	if s("session_id") == "" || s("hook_event_name") == "" {
		return nil, errors.New("missing session_id or hook_event_name")
	}
	return []event.Event{{
		ID:        event.HookID(s("session_id"), s("hook_event_name"), s("tool_use_id"), s("prompt_id"), s("agent_id"), raw),
		Kind:      event.KindHook,
		SessionID: s("session_id"),
		Time:      at,
		Tier:      event.TierFull,
		HookEvent: s("hook_event_name"),
		PromptID:  s("prompt_id"),
		ToolUseID: s("tool_use_id"),
		ToolName:  s("tool_name"),
		AgentID:   s("agent_id"),
		Payload:   raw,
	}}, nil
}

// rebuildable are the hook events whose live IDs use a natural key, so an import can
// reproduce them.
var rebuildable = map[string]bool{"UserPromptSubmit": true, "PreToolUse": true, "PostToolUse": true, "PostToolUseFailure": true, "SubagentStart": true}

// TestImportReproducesLiveHookIDs imports every fixture's transcripts and compares the
// rebuilt hook events with what Claude Code really sent to the hooks (hooks/NNN.json):
// the same IDs, no more and no fewer, and the same correlation keys and content.
func TestImportReproducesLiveHookIDs(t *testing.T) {
	for _, fx := range fixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			root := filepath.Dir(filepath.Dir(fx.main)) // .../transcripts
			var got []event.Event
			err := transcript.Import(root, transcript.ImportOptions{Tier: event.TierFull, Build: buildLikeHook},
				func(evs []event.Event) error { got = append(got, evs...); return nil }, nil)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			imported := map[string]event.Event{}
			for _, e := range got {
				if err := e.Validate(); err != nil {
					t.Errorf("invalid event %+v: %v", e, err)
				}
				if e.Kind != event.KindHook {
					continue
				}
				if _, dup := imported[e.ID]; dup {
					t.Errorf("hook event %s %s produced twice", e.HookEvent, e.ID)
				}
				imported[e.ID] = e
			}

			hooks, _ := filepath.Glob(filepath.Join(filepath.Dir(root), "hooks", "*.json"))
			live := map[string]map[string]any{}
			for _, h := range hooks {
				raw, err := os.ReadFile(h)
				if err != nil {
					t.Fatal(err)
				}
				evs, err := buildLikeHook(raw, time.Now())
				if err != nil {
					t.Fatalf("%s: %v", h, err)
				}
				if !rebuildable[evs[0].HookEvent] {
					continue
				}
				var p map[string]any
				json.Unmarshal(raw, &p)
				live[evs[0].ID] = p
			}
			if len(live) == 0 {
				t.Fatal("no live hook events to compare with")
			}
			t.Logf("%d live hook events with natural keys, %d rebuilt", len(live), len(imported))
			for id, lp := range live {
				ie, ok := imported[id]
				if !ok {
					t.Errorf("live %s (%v) not rebuilt by import", lp["hook_event_name"], lp["tool_use_id"])
					continue
				}
				var ip map[string]any
				json.Unmarshal(ie.Payload, &ip)
				for _, k := range []string{"session_id", "hook_event_name", "prompt_id", "agent_id", "tool_use_id", "tool_name", "tool_input", "prompt", "error", "cwd"} {
					if !reflect.DeepEqual(ip[k], lp[k]) {
						t.Errorf("%s %v: %s = %#v, live %#v", lp["hook_event_name"], lp["tool_use_id"], k, ip[k], lp[k])
					}
				}
				if lt, it := lp["transcript_path"].(string), ip["transcript_path"].(string); filepath.Base(lt) != filepath.Base(it) {
					t.Errorf("%s %v: transcript_path %s, live %s", lp["hook_event_name"], lp["tool_use_id"], it, lt)
				}
				if lp["hook_event_name"] == "PostToolUse" && ip["tool_response"] == nil {
					t.Errorf("PostToolUse %v: no tool_response", lp["tool_use_id"])
				}
			}
			for id, e := range imported {
				if _, ok := live[id]; !ok {
					t.Errorf("import produced %s %s that live capture did not", e.HookEvent, e.ToolUseID)
				}
			}

			// Usage and cost-state come out exactly as Tail makes them.
			var want []event.Event
			for _, f := range transcript.Files(fx.main) {
				want = append(want, readAll(t, f, transcript.Options{Tier: event.TierFull})...)
			}
			var derived []event.Event
			for _, e := range got {
				if e.Kind != event.KindHook {
					derived = append(derived, e)
				}
			}
			sortByID(want)
			sortByID(derived)
			assertSameEvents(t, derived, want)
		})
	}
}

func sortByID(evs []event.Event) {
	sort.Slice(evs, func(i, j int) bool { return evs[i].ID < evs[j].ID })
}

func TestImportTimesComeFromTranscript(t *testing.T) {
	fx := fixtures(t)[0]
	var got []event.Event
	err := transcript.Import(filepath.Dir(filepath.Dir(fx.main)), transcript.ImportOptions{Build: buildLikeHook},
		func(evs []event.Event) error { got = append(got, evs...); return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 25, 12, 44, 0, 0, time.UTC)
	for _, e := range got {
		if e.Time.Before(day) || e.Time.After(day.Add(time.Minute)) {
			t.Errorf("%s %s time %v, want the recording's (2026-11-25 12:44)", e.Kind, e.HookEvent, e.Time)
		}
	}
}

func TestImportProgressAndBatches(t *testing.T) {
	root := "testdata"
	var total int64
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".jsonl") {
			info, _ := d.Info()
			total += info.Size()
		}
		return nil
	})
	var last, lastTotal int64 = -1, 0
	var batches, events int
	err := transcript.Import(root, transcript.ImportOptions{Build: buildLikeHook},
		func(evs []event.Event) error {
			batches++
			events += len(evs)
			if len(evs) == 0 || len(evs) > 500 {
				t.Errorf("batch of %d events", len(evs))
			}
			return nil
		},
		func(done, tot int64) {
			if done < last {
				t.Errorf("progress went back: %d after %d", done, last)
			}
			last, lastTotal = done, tot
		})
	if err != nil {
		t.Fatal(err)
	}
	if last != total || lastTotal != total {
		t.Errorf("final progress %d/%d, want %d/%d", last, lastTotal, total, total)
	}
	if events == 0 {
		t.Error("no events")
	}
}

func TestImportStopsOnEmitError(t *testing.T) {
	boom := errors.New("spool full")
	err := transcript.Import("testdata", transcript.ImportOptions{}, func([]event.Event) error { return boom }, nil)
	if !errors.Is(err, boom) {
		t.Errorf("Import error = %v, want it to wrap the emit error", err)
	}
}

func TestImportMissingRoot(t *testing.T) {
	err := transcript.Import(filepath.Join(t.TempDir(), "nope"), transcript.ImportOptions{}, func([]event.Event) error { return nil }, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Import(missing root) = %v, want a not-exist error", err)
	}
}

func TestImportSkipsRejectedPayloads(t *testing.T) {
	fx := fixtures(t)[0]
	var warned int
	var hooks int
	err := transcript.Import(filepath.Dir(filepath.Dir(fx.main)), transcript.ImportOptions{
		Build: func(raw []byte, at time.Time) ([]event.Event, error) {
			if bytes.Contains(raw, []byte(`"PreToolUse"`)) {
				return nil, errors.New("bad payload")
			}
			return buildLikeHook(raw, at)
		},
		Warn: func(string, error) { warned++ },
	}, func(evs []event.Event) error {
		for _, e := range evs {
			if e.Kind == event.KindHook {
				hooks++
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if warned != 4 || hooks == 0 {
		t.Errorf("warned %d times (want 4 PreToolUse), %d hook events kept", warned, hooks)
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Setenv("CLAUDE_CONFIG_DIR", "/tmp/cfg-a,/tmp/cfg-b")
	if got, _ := transcript.DefaultRoot(); got != "/tmp/cfg-a/projects" {
		t.Errorf("DefaultRoot = %q", got)
	}
	t.Setenv("CLAUDE_CONFIG_DIR", "")
	t.Setenv("HOME", "/home/someone")
	if got, _ := transcript.DefaultRoot(); got != "/home/someone/.claude/projects" {
		t.Errorf("DefaultRoot = %q", got)
	}
}

// TestImportDropsSidechainReplays: a /btw side question's transcript under subagents/
// re-logs the parent's responses with the same message.id and a new requestId; only its
// own responses count (ccusage#913).
func TestImportDropsSidechainReplays(t *testing.T) {
	root := t.TempDir()
	proj := filepath.Join(root, "-p")
	sub := filepath.Join(proj, "s1", "subagents")
	os.MkdirAll(sub, 0o700)
	writeFile(t, filepath.Join(proj, "s1.jsonl"),
		userPrompt("prompt-1", "hi"),
		assistantLine("msg_1", "req_1", 5, `{"type":"text","text":"a"}`),
		assistantLine("msg_2", "req_2", 5, `{"type":"text","text":"b"}`))
	side := func(msg, req string) string {
		return strings.Replace(assistantLine(msg, req, 5, `{"type":"text","text":"x"}`), `"isSidechain":false`, `"isSidechain":true`, 1)
	}
	writeFile(t, filepath.Join(sub, "agent-aside_question-abc.jsonl"),
		side("msg_1", "req_91"), side("msg_2", "req_92"), side("msg_3", "req_3"))
	var got []string
	err := transcript.Import(root, transcript.ImportOptions{}, func(evs []event.Event) error {
		for _, e := range usages(evs) {
			got = append(got, e.Usage.MessageID+"/"+e.Usage.RequestID)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if want := []string{"msg_1/req_1", "msg_2/req_2", "msg_3/req_3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("usage = %v, want %v", got, want)
	}
}
