package projection_test

import (
	"encoding/json"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

func fixture(t *testing.T, name string) storetest.Fixture {
	t.Helper()
	for _, f := range storetest.Fixtures() {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no fixture %q", name)
	return storetest.Fixture{}
}

// payloadIDs collects the prompt IDs, tool_use IDs and closing statuses the raw hook
// payloads name.
func payloadIDs(t *testing.T, f storetest.Fixture) (prompts []string, tools map[string]string) {
	t.Helper()
	tools = map[string]string{}
	seen := map[string]bool{}
	for _, raw := range f.Hooks {
		var h struct {
			Event     string `json:"hook_event_name"`
			PromptID  string `json:"prompt_id"`
			ToolUseID string `json:"tool_use_id"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		if h.PromptID != "" && !seen[h.PromptID] {
			seen[h.PromptID] = true
			prompts = append(prompts, h.PromptID)
		}
		switch h.Event {
		case "PreToolUse":
			if tools[h.ToolUseID] == "" {
				tools[h.ToolUseID] = agenttrace.ToolPending
			}
		case "PostToolUse":
			tools[h.ToolUseID] = agenttrace.ToolOK
		case "PostToolUseFailure", "PermissionDenied":
			tools[h.ToolUseID] = agenttrace.ToolError
		}
	}
	return prompts, tools
}

func flatten(calls []agenttrace.ToolCall, out map[string]agenttrace.ToolCall) {
	for _, c := range calls {
		if _, dup := out[c.ID]; dup {
			out["duplicate:"+c.ID] = c
		}
		out[c.ID] = c
		flatten(c.Children, out)
	}
}

func TestProjectFixtures(t *testing.T) {
	for _, f := range storetest.Fixtures() {
		t.Run(f.Name, func(t *testing.T) {
			s := projection.Project(f.Events, storetest.TestPricer{})
			if s == nil {
				t.Fatal("nil session")
			}
			if got, want := s.ID, f.SessionID; got != want {
				t.Errorf("id %q, want %q", got, want)
			}
			if got, want := s.Status, agenttrace.StatusEnded; got != want {
				t.Errorf("status %q, want %q", got, want)
			}

			// Tokens equal Claude Code's own cost-state totals exactly; cost within $0.0001.
			var want agenttrace.Usage
			for _, mu := range f.CostState.ModelUsage {
				want.InputTokens += mu.InputTokens
				want.OutputTokens += mu.OutputTokens
				want.CacheCreationInputTokens += mu.CacheCreationInputTokens
				want.CacheReadInputTokens += mu.CacheReadInputTokens
			}
			got := s.Usage
			got.CacheCreation5mTokens, got.CacheCreation1hTokens = 0, 0
			if got != want {
				t.Errorf("usage %+v, want %+v", got, want)
			}
			if s.CostUSD == nil {
				t.Fatalf("cost is null; unpriced %v", s.UnpricedModels)
			}
			if d := *s.CostUSD - f.CostState.TotalCostUSD; d > 0.0001 || d < -0.0001 {
				t.Errorf("cost %.6f, want %.6f", *s.CostUSD, f.CostState.TotalCostUSD)
			}
			if s.ReportedCostUSD == nil || *s.ReportedCostUSD != f.CostState.TotalCostUSD {
				t.Errorf("reported cost %v, want %v", s.ReportedCostUSD, f.CostState.TotalCostUSD)
			}

			// Prompts: exactly the payloads' prompt IDs, in order; tool calls: exactly the
			// payloads' tool_use IDs, once each, with the payloads' statuses.
			wantPrompts, wantTools := payloadIDs(t, f)
			var gotPrompts []string
			calls := map[string]agenttrace.ToolCall{}
			var promptUsage agenttrace.Usage
			for i, p := range s.Prompts {
				gotPrompts = append(gotPrompts, p.ID)
				if p.Index != i {
					t.Errorf("prompt %s index %d, want %d", p.ID, p.Index, i)
				}
				flatten(p.ToolCalls, calls)
				promptUsage = promptUsage.Add(p.Usage)
			}
			if !reflect.DeepEqual(gotPrompts, wantPrompts) {
				t.Errorf("prompts %v, want %v", gotPrompts, wantPrompts)
			}
			if promptUsage != s.Usage {
				t.Errorf("prompt usage sums to %+v, session has %+v", promptUsage, s.Usage)
			}
			gotTools := map[string]string{}
			for id, c := range calls {
				gotTools[id] = c.Status
			}
			if !reflect.DeepEqual(gotTools, wantTools) {
				t.Errorf("tool calls %v, want %v", gotTools, wantTools)
			}
			if got, want := s.ToolCallCount, len(wantTools); got != want {
				t.Errorf("tool_call_count %d, want %d", got, want)
			}
		})
	}
}

func TestProjectSubagentNesting(t *testing.T) {
	s := projection.Project(fixture(t, "subagent").Events, storetest.TestPricer{})
	top := s.Prompts[0].ToolCalls
	if len(top) != 1 || top[0].Name != "Agent" {
		t.Fatalf("top-level calls %+v, want one Agent call", top)
	}
	if len(top[0].Children) != 1 {
		t.Fatalf("Agent children %+v, want the subagent's Bash call", top[0].Children)
	}
	c := top[0].Children[0]
	if c.Name != "Bash" || c.ID != "toolu_1dae823a53c5436296c341a4" || c.AgentID != "a6fd588be11e1c086" {
		t.Errorf("child %+v", c)
	}
	if c.Command != "wc -l README.md" || c.Output != "1 README.md" || c.DurationMS != 28 {
		t.Errorf("child details: command %q output %q duration %d", c.Command, c.Output, c.DurationMS)
	}
}

func TestProjectDetails(t *testing.T) {
	s := projection.Project(fixture(t, "commit").Events, storetest.TestPricer{})
	p := s.Prompts[0]
	if p.Text == "" || s.FirstPrompt != p.Text {
		t.Errorf("prompt text %q, first prompt %q", p.Text, s.FirstPrompt)
	}
	if p.Response == "" {
		t.Errorf("prompt response empty")
	}
	byName := map[string]agenttrace.ToolCall{}
	for _, c := range p.ToolCalls {
		byName[c.Name] = c
	}
	w := byName["Write"]
	if w.FilePath != "/home/dev/src/demo/hello.py" || len(w.Diff) != 1 || w.LinesAdded != 2 {
		t.Errorf("Write call: %+v", w)
	}
	if want := []string{"+def hello():", "+    return 'hi'"}; !reflect.DeepEqual(w.Diff[0].Lines, want) {
		t.Errorf("Write diff %q, want %q", w.Diff[0].Lines, want)
	}
	e := byName["Edit"]
	if e.LinesAdded != 1 || e.LinesRemoved != 1 || len(e.Diff) != 1 {
		t.Errorf("Edit call: %+v", e)
	}
	if s.LinesAdded != 3 || s.LinesRemoved != 1 {
		t.Errorf("session lines +%d -%d, want +3 -1 (edit diffs, commit lines not added again)", s.LinesAdded, s.LinesRemoved)
	}
	if len(s.Commits) != 1 || s.Commits[0].SHA != "f5e602fdd2e3d5c1c29443f5720013abab03a405" ||
		s.Commits[0].PromptID != p.ID || s.Commits[0].Message != "Add hello module" || len(p.Commits) != 1 {
		t.Errorf("commits %+v; prompt commits %+v", s.Commits, p.Commits)
	}

	fc := projection.Project(fixture(t, "failed-commit").Events, storetest.TestPricer{})
	call := fc.Prompts[0].ToolCalls[0]
	if call.Status != agenttrace.ToolError || call.Error == "" || call.DurationMS != 56 {
		t.Errorf("failed commit call: %+v", call)
	}
	if len(fc.Commits) != 0 || fc.ErrorCount != 1 {
		t.Errorf("failed commit: commits %d errors %d", len(fc.Commits), fc.ErrorCount)
	}

	pr := projection.Project(fixture(t, "pull-request").Events, storetest.TestPricer{})
	if len(pr.PullRequests) != 1 || pr.PullRequests[0].Number != 42 || pr.PullRequests[0].Repo != "example/demo" ||
		pr.PullRequests[0].URL != "https://github.com/example/demo/pull/42" || pr.PullRequests[0].PromptID == "" {
		t.Errorf("pull requests %+v", pr.PullRequests)
	}
	if !reflect.DeepEqual(pr.Branches, []string{"main", "feature/greeting"}) {
		t.Errorf("branches %v", pr.Branches)
	}
}

// TestProjectLinesAgainstClaudeCode documents how session line counts relate to Claude
// Code's own cost-state totals: equal, except that Claude Code counts one extra line for
// each file a Write created whose content ends in a newline.
func TestProjectLinesAgainstClaudeCode(t *testing.T) {
	for _, f := range storetest.Fixtures() {
		extra := 0
		for _, raw := range f.Hooks {
			var h struct {
				Event    string `json:"hook_event_name"`
				Response struct {
					Type    string `json:"type"`
					Content string `json:"content"`
				} `json:"tool_response"`
			}
			_ = json.Unmarshal(raw, &h)
			if h.Event == "PostToolUse" && h.Response.Type == "create" && strings.HasSuffix(h.Response.Content, "\n") {
				extra++
			}
		}
		s := projection.Project(f.Events, nil)
		if got, want := int64(s.LinesAdded+extra), f.CostState.LinesAdded; got != want {
			t.Errorf("%s: lines added %d + %d created files = %d, Claude Code says %d", f.Name, s.LinesAdded, extra, got, want)
		}
		if got, want := int64(s.LinesRemoved), f.CostState.LinesRemoved; got != want {
			t.Errorf("%s: lines removed %d, Claude Code says %d", f.Name, got, want)
		}
	}
}

// TestProjectOrderIndependent shuffles and duplicates every fixture's events 100 times;
// every projection must equal the in-order one.
func TestProjectOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, f := range storetest.Fixtures() {
		want, err := json.Marshal(projection.Project(f.Events, storetest.TestPricer{}))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			evs := append([]event.Event(nil), f.Events...)
			for _, e := range f.Events {
				if rng.Intn(2) == 0 {
					evs = append(evs, e)
				}
			}
			rng.Shuffle(len(evs), func(a, b int) { evs[a], evs[b] = evs[b], evs[a] })
			got, err := json.Marshal(projection.Project(evs, storetest.TestPricer{}))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s permutation %d: projection differs from the in-order one", f.Name, i)
			}
		}
	}
}

func hook(session, hookEvent string, at time.Time, payload map[string]any) event.Event {
	payload["session_id"] = session
	payload["hook_event_name"] = hookEvent
	raw, _ := json.Marshal(payload)
	str := func(k string) string { s, _ := payload[k].(string); return s }
	return event.Event{
		ID:   event.HookID(session, hookEvent, str("tool_use_id"), str("prompt_id"), str("agent_id"), raw),
		Kind: event.KindHook, SessionID: session, Time: at, Tier: event.TierFull, HookEvent: hookEvent,
		PromptID: str("prompt_id"), ToolUseID: str("tool_use_id"), ToolName: str("tool_name"), AgentID: str("agent_id"),
		Payload: raw,
	}
}

func TestProjectStatusByEventTime(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	start := hook("s", "SessionStart", t0, map[string]any{"source": "startup"})
	end := hook("s", "SessionEnd", t0.Add(time.Minute), map[string]any{"reason": "other"})
	resume := hook("s", "SessionStart", t0.Add(2*time.Minute), map[string]any{"source": "resume"})
	stop := hook("s", "Stop", t0.Add(30*time.Second), map[string]any{})
	tests := []struct {
		name   string
		events []event.Event
		want   string
	}{
		{"started", []event.Event{start}, agenttrace.StatusActive},
		{"stop is not an end", []event.Event{start, stop}, agenttrace.StatusActive},
		{"ended", []event.Event{start, end}, agenttrace.StatusEnded},
		{"end arrives before start", []event.Event{end, start}, agenttrace.StatusEnded},
		{"resumed", []event.Event{start, end, resume}, agenttrace.StatusActive},
		{"resume arrives before the end", []event.Event{resume, end, start}, agenttrace.StatusActive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := projection.Project(tc.events, nil)
			if s.Status != tc.want {
				t.Errorf("status %q, want %q", s.Status, tc.want)
			}
			if (s.EndedAt != nil) != (tc.want == agenttrace.StatusEnded) {
				t.Errorf("ended_at %v with status %q", s.EndedAt, s.Status)
			}
		})
	}
}

func TestProjectUsage(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := func(msg, model string, out int64) event.Event {
		return event.Event{ID: event.ID(event.KindUsage, "s", msg), Kind: event.KindUsage, SessionID: "s", Time: t0, Tier: 1,
			Usage: &event.Usage{MessageID: msg, Model: model, InputTokens: 10, OutputTokens: out}}
	}
	t.Run("same ID twice keeps the larger", func(t *testing.T) {
		for _, order := range [][]event.Event{{u("m", "claude-opus-5-5", 1), u("m", "claude-opus-5-5", 9)},
			{u("m", "claude-opus-5-5", 9), u("m", "claude-opus-5-5", 1)}} {
			s := projection.Project(order, storetest.TestPricer{})
			if s.Usage.OutputTokens != 9 || s.Usage.InputTokens != 10 {
				t.Errorf("usage %+v, want the larger reading only", s.Usage)
			}
		}
	})
	t.Run("a sidechain replay of the same message counts once", func(t *testing.T) {
		main := u("m", "claude-opus-5-5", 3)
		replay := u("m", "claude-opus-5-5", 50)
		replay.ID = event.ID(event.KindUsage, "s", "m", "req_btw")
		replay.Usage.RequestID, replay.Usage.Sidechain = "req_btw", true
		for _, evs := range [][]event.Event{{main, replay}, {replay, main}} {
			s := projection.Project(evs, storetest.TestPricer{})
			if s.Usage.OutputTokens != 3 || s.Usage.InputTokens != 10 {
				t.Errorf("usage %+v, want the main chain's reading only", s.Usage)
			}
		}
	})
	t.Run("fast mode and web searches are priced per response", func(t *testing.T) {
		fast := u("f", "claude-opus-5-5", 100)
		fast.Usage.Speed = "fast"
		fast.Usage.WebSearchRequests = 3
		plain := u("p", "claude-opus-5-5", 100)
		s := projection.Project([]event.Event{fast, plain}, storetest.TestPricer{})
		base, _ := storetest.TestPricer{}.Cost("claude-opus-5-5", projection.ToUsage(plain.Usage))
		want := base*6 + 0.03 + base
		if s.CostUSD == nil || math.Abs(*s.CostUSD-want) > 1e-9 {
			t.Errorf("cost %v, want %v", s.CostUSD, want)
		}
		if s.Usage.WebSearchRequests != 3 {
			t.Errorf("web searches %d, want 3", s.Usage.WebSearchRequests)
		}
	})
	t.Run("an unpriced model makes cost unknown", func(t *testing.T) {
		s := projection.Project([]event.Event{u("a", "claude-opus-5-5", 1), u("b", "mystery-model", 1)}, storetest.TestPricer{})
		if s.CostUSD != nil {
			t.Errorf("cost %v, want null", *s.CostUSD)
		}
		if !reflect.DeepEqual(s.UnpricedModels, []string{"mystery-model"}) {
			t.Errorf("unpriced %v", s.UnpricedModels)
		}
		models := append([]string(nil), s.Models...)
		sort.Strings(models)
		if !reflect.DeepEqual(models, []string{"claude-opus-5-5", "mystery-model"}) {
			t.Errorf("models %v", s.Models)
		}
	})
	t.Run("unknown kinds are counted, not projected", func(t *testing.T) {
		odd := event.Event{ID: "evt_odd", Kind: "future_kind", SessionID: "s", Time: t0, Tier: 2}
		s := projection.Project([]event.Event{u("a", "claude-opus-5-5", 1), odd}, storetest.TestPricer{})
		if s.EventCount != 2 || s.Usage.OutputTokens != 1 {
			t.Errorf("event_count %d usage %+v", s.EventCount, s.Usage)
		}
	})
	t.Run("attributed by tool call when the prompt ID is missing", func(t *testing.T) {
		sub := hook("s", "UserPromptSubmit", t0, map[string]any{"prompt_id": "p1", "prompt": "hi"})
		sub2 := hook("s", "UserPromptSubmit", t0.Add(time.Second), map[string]any{"prompt_id": "p2", "prompt": "again"})
		pre := hook("s", "PreToolUse", t0.Add(time.Millisecond), map[string]any{"prompt_id": "p1", "tool_use_id": "t1", "tool_name": "Bash"})
		us := u("m1", "claude-opus-5-5", 5)
		us.Time = t0.Add(2 * time.Second) // by time it would fall in p2
		us.Usage.ToolUseIDs = []string{"t1"}
		late := u("m2", "claude-opus-5-5", 7)
		late.Time = t0.Add(3 * time.Second)
		s := projection.Project([]event.Event{sub, sub2, pre, us, late}, storetest.TestPricer{})
		if s.Prompts[0].Usage.OutputTokens != 5 || s.Prompts[1].Usage.OutputTokens != 7 {
			t.Errorf("prompt usage %+v / %+v", s.Prompts[0].Usage, s.Prompts[1].Usage)
		}
	})
}

func TestProjectCapsOutput(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	big := strings.Repeat("é", projection.MaxOutputBytes) // two bytes a rune: the cap falls mid-rune
	post := hook("s", "PostToolUse", t0, map[string]any{"prompt_id": "p", "tool_use_id": "t", "tool_name": "Bash",
		"tool_input": map[string]any{"command": "cat big"}, "tool_response": map[string]any{"stdout": big}})
	out := projection.Project([]event.Event{post}, nil).Prompts[0].ToolCalls[0].Output
	if len(out) > projection.MaxOutputBytes+100 || !utf8.ValidString(out) || !strings.Contains(out, "more bytes in the event timeline") {
		t.Errorf("output of %d bytes, valid UTF-8 %v, tail %q", len(out), utf8.ValidString(out), out[len(out)-60:])
	}
	if !strings.HasPrefix(big, strings.Split(out, "\n…")[0]) {
		t.Error("the kept part is not the start of the output")
	}
}

func TestProjectToolCallOnceAndTier(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sub := hook("s", "UserPromptSubmit", t0, map[string]any{"prompt_id": "p", "prompt": "secret plan"})
	sub.Tier = event.TierMetadata
	pre := hook("s", "PreToolUse", t0.Add(time.Millisecond), map[string]any{"prompt_id": "p", "tool_use_id": "t", "tool_name": "Bash",
		"tool_input": map[string]any{"command": "ls"}})
	post := hook("s", "PostToolUse", t0.Add(40*time.Millisecond), map[string]any{"prompt_id": "p", "tool_use_id": "t", "tool_name": "Bash",
		"tool_input": map[string]any{"command": "ls"}, "tool_response": map[string]any{"stdout": "a\nb"}})
	denied := hook("s", "PermissionDenied", t0.Add(50*time.Millisecond), map[string]any{"prompt_id": "p", "tool_use_id": "d", "tool_name": "Bash", "reason": "auto mode"})
	s := projection.Project([]event.Event{sub, pre, post, post, denied}, nil)
	if s.Tier != event.TierMetadata {
		t.Errorf("tier %d, want the lowest seen", s.Tier)
	}
	if s.Prompts[0].Text != "" || s.FirstPrompt != "" {
		t.Errorf("tier 1 prompt text leaked: %q", s.Prompts[0].Text)
	}
	calls := s.Prompts[0].ToolCalls
	if len(calls) != 2 {
		t.Fatalf("calls %+v, want 2", calls)
	}
	if c := calls[0]; c.Status != agenttrace.ToolOK || c.DurationMS != 39 || c.Output != "a\nb" || c.Command != "ls" {
		t.Errorf("call %+v", c)
	}
	if c := calls[1]; c.Status != agenttrace.ToolError || c.Error != "auto mode" {
		t.Errorf("denied call %+v", c)
	}
	if s.CostUSD == nil || *s.CostUSD != 0 {
		t.Errorf("no usage: cost %v, want 0", s.CostUSD)
	}
}

// TestPreferEventIgnoresClockDigits: the same hook payload captured twice (a spool
// re-sent after the first copy landed) keeps the earlier capture, whichever arrives first.
// RFC 3339 drops trailing zeros, so the later clock reading below encodes longer; it must
// not pass for a richer copy, or a prompt re-sent later would move after the next one.
func TestPreferEventIgnoresClockDigits(t *testing.T) {
	raw := json.RawMessage(`{"session_id":"s","hook_event_name":"UserPromptSubmit","prompt_id":"p1","prompt":"hi"}`)
	early := event.Event{ID: "evt_1", Kind: event.KindHook, SessionID: "s", HookEvent: "UserPromptSubmit",
		PromptID: "p1", Tier: 2, Payload: raw, Time: time.Date(2026, 11, 25, 12, 0, 0, 100_000_000, time.UTC)}
	late := early
	late.Time = time.Date(2026, 11, 25, 12, 5, 0, 123_456_789, time.UTC)
	if !projection.PreferEvent(&early, &late) {
		t.Error("projection.PreferEvent(early, late) = false, want the earlier capture kept")
	}
	if projection.PreferEvent(&late, &early) {
		t.Error("projection.PreferEvent(late, early) = true, want the earlier capture kept")
	}
	for _, evs := range [][]event.Event{{early, late}, {late, early}} {
		if got := projection.Project(evs, nil).Prompts[0].StartedAt; !got.Equal(early.Time) {
			t.Errorf("prompt started at %v, want the first capture's %v", got, early.Time)
		}
	}
}
