package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/privacy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type fixture struct {
	session, name string // e.g. "commit", "010.json"
	raw           []byte
	payload       map[string]any
}

// loadFixtures reads every recorded hook payload, in session and call order.
func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	paths, err := filepath.Glob("testdata/fixtures/*/*.json")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures: %v", err)
	}
	sort.Strings(paths)
	var out []fixture
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		f := fixture{session: filepath.Base(filepath.Dir(p)), name: filepath.Base(p), raw: raw}
		if err := json.Unmarshal(raw, &f.payload); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out = append(out, f)
	}
	return out
}

func mustFixture(tb testing.TB, session, name string) fixture {
	tb.Helper()
	for _, f := range loadFixtures(tb) {
		if f.session == session && f.name == name {
			return f
		}
	}
	tb.Fatalf("no fixture %s/%s", session, name)
	return fixture{}
}

func cfgTier(tier int) agentconfig.Config {
	return agentconfig.Config{CollectorURL: agentconfig.DefaultCollectorURL, Tier: tier, User: "dev", Host: "box"}
}

func mustBuild(tb testing.TB, raw []byte, tier int) []event.Event {
	tb.Helper()
	evs, err := Build(raw, cfgTier(tier), testNow)
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	return evs
}

func decodePayload(tb testing.TB, ev event.Event) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Payload, &m); err != nil {
		tb.Fatalf("payload is not a JSON object: %v: %s", err, ev.Payload)
	}
	return m
}

// lookup follows a dotted path through nested objects.
func lookup(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = o[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func TestBuildEveryFixture(t *testing.T) {
	for _, f := range loadFixtures(t) {
		for tier := event.TierMetadata; tier <= event.TierFull; tier++ {
			evs := mustBuild(t, f.raw, tier)
			ev := evs[0]
			str := func(k string) string { s, _ := f.payload[k].(string); return s }
			wantID := event.HookID(str("session_id"), str("hook_event_name"), str("tool_use_id"), str("prompt_id"), str("agent_id"), f.raw)
			got := []string{ev.ID, ev.Kind, ev.SessionID, ev.HookEvent, ev.PromptID, ev.ToolUseID, ev.ToolName, ev.AgentID, ev.User, ev.Host}
			want := []string{wantID, event.KindHook, str("session_id"), str("hook_event_name"), str("prompt_id"), str("tool_use_id"), str("tool_name"), str("agent_id"), "dev", "box"}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s/%s tier %d: field %d = %q, want %q", f.session, f.name, tier, i, got[i], want[i])
				}
			}
			if ev.Tier != tier || !ev.Time.Equal(testNow) {
				t.Errorf("%s/%s: tier %d time %v, want %d %v", f.session, f.name, ev.Tier, ev.Time, tier, testNow)
			}
			for _, e := range evs {
				if err := e.Validate(); err != nil {
					t.Errorf("%s/%s tier %d: invalid event: %v", f.session, f.name, tier, err)
				}
			}
			// Correlation keys are metadata: every tier keeps them in the payload too.
			p := decodePayload(t, ev)
			for _, k := range []string{"session_id", "hook_event_name", "cwd", "transcript_path", "prompt_id", "tool_use_id", "tool_name", "agent_id", "duration_ms", "permission_mode", "source", "reason"} {
				if _, in := f.payload[k]; in {
					if _, out := p[k]; !out {
						t.Errorf("%s/%s tier %d: %s dropped", f.session, f.name, tier, k)
					}
				}
			}
		}
	}
}

// TestBuildKeepsOversizedPayload: a Write of a 9 MB file (a payload over MaxPayloadBytes)
// still becomes its events at every tier: the tool call, its path and its line counts
// survive, and the long strings are cut with a marker saying their original size.
func TestBuildKeepsOversizedPayload(t *testing.T) {
	content := strings.Repeat("print('é')\n", 9<<20/len("print('é')\n")) // about 9 MB of lines
	payload := map[string]any{
		"session_id": "s-big", "hook_event_name": "PostToolUse", "tool_name": "Write",
		"tool_use_id": "toolu_big", "cwd": "/home/dev/src/demo",
		"tool_input": map[string]any{"file_path": "/home/dev/src/demo/big.py", "content": content},
		"tool_response": map[string]any{"type": "create", "filePath": "/home/dev/src/demo/big.py",
			"content": content, "structuredPatch": []any{}},
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) <= MaxPayloadBytes {
		t.Fatalf("test payload is %d bytes, want over %d", len(raw), MaxPayloadBytes)
	}
	wantLines := strings.Count(content, "\n")
	for tier := event.TierMetadata; tier <= event.TierFull; tier++ {
		evs, err := Build(raw, cfgTier(tier), testNow)
		if err != nil {
			t.Fatalf("tier %d: %v", tier, err)
		}
		ev := evs[0]
		if ev.ToolName != "Write" || ev.ToolUseID != "toolu_big" || ev.LinesAdded != wantLines {
			t.Errorf("tier %d: tool %q %q, %d lines added; want Write toolu_big %d", tier, ev.ToolName, ev.ToolUseID, ev.LinesAdded, wantLines)
		}
		if len(ev.Payload) > MaxPayloadBytes {
			t.Errorf("tier %d: payload %d bytes, over %d", tier, len(ev.Payload), MaxPayloadBytes)
		}
		var got struct {
			ToolInput struct {
				FilePath string `json:"file_path"`
				Content  string `json:"content"`
			} `json:"tool_input"`
		}
		if err := json.Unmarshal(ev.Payload, &got); err != nil {
			t.Fatal(err)
		}
		if tier < event.TierDetails {
			continue // the tier drops the input itself
		}
		if got.ToolInput.FilePath != "/home/dev/src/demo/big.py" {
			t.Errorf("tier %d: file_path %q", tier, got.ToolInput.FilePath)
		}
		marker := fmt.Sprintf("[agent-trace: truncated; the original was %d bytes]", len(content))
		if !strings.HasSuffix(got.ToolInput.Content, marker) || !strings.HasPrefix(content, strings.TrimSuffix(got.ToolInput.Content, "\n"+marker)) {
			t.Errorf("tier %d: content not cut with its marker: ends %q", tier, got.ToolInput.Content[max(0, len(got.ToolInput.Content)-80):])
		}
	}
}

// TestBuildMarksInjectedPrompts: a UserPromptSubmit Claude Code injected (the recorded
// subagent session's <task-notification>) is marked at every tier, tier 1 included,
// where its text is gone; a typed prompt is not.
func TestBuildMarksInjectedPrompts(t *testing.T) {
	injected := mustFixture(t, "subagent", "010.json")
	typed := mustFixture(t, "commit", "002.json")
	for tier := event.TierMetadata; tier <= event.TierFull; tier++ {
		for _, tc := range []struct {
			f    fixture
			want string
		}{{injected, event.OriginTaskNotification}, {typed, ""}} {
			evs, err := Build(tc.f.raw, cfgTier(tier), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if evs[0].HookEvent != "UserPromptSubmit" {
				t.Fatalf("%s/%s is %s, not a prompt", tc.f.session, tc.f.name, evs[0].HookEvent)
			}
			if got := evs[0].PromptOrigin; got != tc.want {
				t.Errorf("tier %d %s/%s: origin %q, want %q", tier, tc.f.session, tc.f.name, got, tc.want)
			}
		}
	}
}

func TestBuildBadInput(t *testing.T) {
	big := append([]byte(`{"session_id":"s","hook_event_name":"PostToolUse","tool_response":{"stdout":"`), bytes.Repeat([]byte("x"), MaxReadBytes)...)
	big = append(big, `"}}`...)
	tests := []struct {
		name string
		raw  string
	}{
		{"empty", ""},
		{"whitespace", " \n\t"},
		{"invalid JSON", `{"session_id":`},
		{"not JSON", `hello`},
		{"array", `[{"session_id":"s","hook_event_name":"Stop"}]`},
		{"string", `"session_id"`},
		{"number", `42`},
		{"null", `null`},
		{"two objects", `{"session_id":"s","hook_event_name":"Stop"} {}`},
		{"trailing garbage", `{"session_id":"s","hook_event_name":"Stop"} x`},
		{"over MaxReadBytes", string(big)},
		{"no session_id", `{"hook_event_name":"Stop","cwd":"/tmp"}`},
		{"empty session_id", `{"session_id":"","hook_event_name":"Stop"}`},
		{"session_id not a string", `{"session_id":42,"hook_event_name":"Stop"}`},
		{"no hook_event_name", `{"session_id":"s"}`},
		{"session_id too long", `{"session_id":"` + strings.Repeat("a", 200) + `","hook_event_name":"Stop"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Build([]byte(tt.raw), cfgTier(2), testNow)
			if err == nil {
				t.Fatalf("Build(%.40q) = %d events, want an error", tt.raw, len(evs))
			}
			if !errors.Is(err, ErrBadPayload) {
				t.Errorf("error %v does not wrap ErrBadPayload", err)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error is %d bytes long; it must not echo the payload", len(err.Error()))
			}
		})
	}
}

func TestBuildStableIDs(t *testing.T) {
	pre := mustFixture(t, "commit", "009.json")
	post := mustFixture(t, "commit", "010.json")
	prompt := mustFixture(t, "commit", "002.json")
	stop := mustFixture(t, "commit", "011.json")

	id := func(raw []byte, tier int) string { return mustBuild(t, raw, tier)[0].ID }
	if a, b := id(post.raw, 2), id(post.raw, 2); a != b {
		t.Errorf("same payload twice: %s != %s", a, b)
	}
	if a, b := id(post.raw, 1), id(post.raw, 3); a != b {
		t.Errorf("the tier changed the ID: %s != %s", a, b)
	}
	if a, b := id(pre.raw, 2), id(post.raw, 2); a == b {
		t.Errorf("PreToolUse and PostToolUse of one call share ID %s", a)
	}
	if got, want := id(pre.raw, 2), event.ID(event.KindHook, pre.payload["session_id"].(string), "PreToolUse", "toolu_62091e55c7654b8e80ff25e4"); got != want {
		t.Errorf("PreToolUse ID = %s, want one from tool_use_id %s", got, want)
	}
	// A transcript import rebuilds the prompt from prompt_id, not from these bytes.
	reformatted, _ := json.MarshalIndent(prompt.payload, "", "  ")
	if got, want := id(reformatted, 2), event.ID(event.KindHook, prompt.payload["session_id"].(string), "UserPromptSubmit", "6054bf7f-251e-4fe0-9023-89fdca143dab"); got != want {
		t.Errorf("UserPromptSubmit ID = %s, want %s (from prompt_id)", got, want)
	}
	if a, b := id(stop.raw, 2), id(mustFixture(t, "commit", "012.json").raw, 2); a == b {
		t.Errorf("Stop and SessionEnd share ID %s", a)
	}
}

// tierCase lists, for one fixture payload, dotted paths that must survive and must be gone.
type tierCase struct {
	session, name string
	tier          int
	keep, drop    []string
}

func TestBuildTierFields(t *testing.T) {
	tests := []tierCase{
		// UserPromptSubmit: the prompt is tier 2.
		{"commit", "002.json", 1, []string{"prompt_id", "permission_mode"}, []string{"prompt"}},
		{"commit", "002.json", 2, []string{"prompt"}, nil},
		// Write: content and path are tool input (2); the result's content is a file body (3).
		{"commit", "004.json", 1, []string{"tool_name", "tool_use_id", "duration_ms", "effort.level", "tool_response.type"},
			[]string{"tool_input", "tool_response.filePath", "tool_response.content", "tool_response.structuredPatch", "tool_response.originalFile"}},
		{"commit", "004.json", 2, []string{"tool_input.file_path", "tool_input.content", "tool_response.filePath", "tool_response.structuredPatch", "tool_response.type", "tool_response.userModified"},
			[]string{"tool_response.content", "tool_response.originalFile"}},
		{"commit", "004.json", 3, []string{"tool_response.content", "tool_response.originalFile"}, nil},
		// Edit: the diff and old/new strings are tier 2; the original file is tier 3.
		{"commit", "006.json", 1, []string{"tool_response.replaceAll"}, []string{"tool_input", "tool_response.oldString", "tool_response.newString", "tool_response.structuredPatch", "tool_response.filePath"}},
		{"commit", "006.json", 2, []string{"tool_input.old_string", "tool_input.new_string", "tool_response.oldString", "tool_response.newString", "tool_response.structuredPatch"}, []string{"tool_response.originalFile"}},
		// Read: the file's content is output.
		{"commit", "008.json", 1, []string{"tool_response.type", "tool_response.file.numLines"}, []string{"tool_input", "tool_response.file.filePath", "tool_response.file.content"}},
		{"commit", "008.json", 2, []string{"tool_input.file_path", "tool_response.file.filePath", "tool_response.file.totalLines"}, []string{"tool_response.file.content"}},
		{"commit", "008.json", 3, []string{"tool_response.file.content"}, nil},
		// Bash: the command is tier 2, stdout/stderr tier 3; the commit's SHA and branch are metadata.
		{"commit", "010.json", 1, []string{"tool_response.interrupted", "tool_response.gitOperation.commit.sha", "tool_response.gitOperation.commit.branch", "tool_response.gitOperation.commit.kind"},
			[]string{"tool_input", "tool_response.stdout", "tool_response.stderr"}},
		{"commit", "010.json", 2, []string{"tool_input.command", "tool_input.description", "tool_response.gitOperation.commit.sha"}, []string{"tool_response.stdout", "tool_response.stderr"}},
		{"commit", "010.json", 3, []string{"tool_response.stdout", "tool_response.stderr", "tool_response.noOutputExpected"}, nil},
		{"pull-request", "010.json", 1, []string{"tool_response.gitOperation.pr.number", "tool_response.gitOperation.pr.action"}, []string{"tool_response.gitOperation.pr.url", "tool_response.stdout"}},
		{"pull-request", "010.json", 2, []string{"tool_response.gitOperation.pr.url"}, []string{"tool_response.stdout"}},
		// A diff Claude Code derived from a Bash call's writes is not on the tier 2 list.
		{"secrets", "004.json", 2, []string{"tool_input.command"}, []string{"tool_response.bashEditDiff"}},
		{"secrets", "004.json", 3, []string{"tool_response.bashEditDiff"}, nil},
		// Stop: the response text is tier 3; background task ids and status are metadata.
		{"commit", "011.json", 1, []string{"stop_hook_active", "background_tasks", "session_crons"}, []string{"last_assistant_message"}},
		{"commit", "011.json", 2, nil, []string{"last_assistant_message"}},
		{"commit", "011.json", 3, []string{"last_assistant_message"}, nil},
		// PostToolUseFailure: the error text is tier 2.
		{"failed-commit", "004.json", 1, []string{"is_interrupt", "duration_ms"}, []string{"error", "tool_input"}},
		{"failed-commit", "004.json", 2, []string{"error", "tool_input.command"}, nil},
		// Agent: the id and status hang subagent calls under the Agent call at every tier.
		{"subagent", "005.json", 1, []string{"tool_response.agentId", "tool_response.status", "tool_response.isAsync", "tool_response.resolvedModel"},
			[]string{"tool_input", "tool_response.description", "tool_response.prompt", "tool_response.outputFile"}},
		{"subagent", "005.json", 2, []string{"tool_input.subagent_type", "tool_input.description", "tool_response.description", "tool_response.prompt"}, nil},
		{"subagent", "004.json", 1, []string{"agent_id", "agent_type"}, nil},
		{"subagent", "007.json", 1, []string{"background_tasks"}, []string{"last_assistant_message"}},
		{"subagent", "009.json", 1, []string{"agent_id", "agent_transcript_path"}, []string{"last_assistant_message"}},
		// SessionStart on resume carries counters, which are metadata.
		{"multi-prompt", "007.json", 1, []string{"source", "context_tokens", "estimated_cache_write_usd", "prompt_cache_likely_expired", "seconds_since_last_response"}, nil},
	}
	for _, tt := range tests {
		f := mustFixture(t, tt.session, tt.name)
		p := decodePayload(t, mustBuild(t, f.raw, tt.tier)[0])
		for _, k := range tt.keep {
			if _, ok := lookup(p, k); !ok {
				t.Errorf("%s/%s tier %d: %s dropped, want kept", tt.session, tt.name, tt.tier, k)
			}
		}
		for _, k := range tt.drop {
			if v, ok := lookup(p, k); ok {
				t.Errorf("%s/%s tier %d: %s = %.60v kept, want dropped", tt.session, tt.name, tt.tier, k, v)
			}
		}
	}

	// Background tasks keep ids and status at tier 1, their descriptions at tier 2.
	f := mustFixture(t, "subagent", "007.json")
	for tier, want := range map[int]string{1: `[{"agent_type":"general-purpose","id":"a6fd588be11e1c086","status":"running","type":"subagent"}]`,
		2: `[{"agent_type":"general-purpose","description":"Count README lines","id":"a6fd588be11e1c086","status":"running","type":"subagent"}]`} {
		got, _ := json.Marshal(decodePayload(t, mustBuild(t, f.raw, tier)[0])["background_tasks"])
		if string(got) != want {
			t.Errorf("tier %d background_tasks = %s, want %s", tier, got, want)
		}
	}
}

// TestBuildTierGolden pins the exact payload every fixture keeps at every tier. Run with
// -update after a deliberate change and review the diff of testdata/golden.
func TestBuildTierGolden(t *testing.T) {
	for _, f := range loadFixtures(t) {
		for tier := event.TierMetadata; tier <= event.TierFull; tier++ {
			var got bytes.Buffer
			if err := json.Indent(&got, mustBuild(t, f.raw, tier)[0].Payload, "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", "golden", f.session, strings.TrimSuffix(f.name, ".json")+".tier"+string(rune('0'+tier))+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestBuildTierGolden -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s: payload differs from the golden file\ngot:\n%s\nwant:\n%s", path, got.Bytes(), want)
			}
		}
	}
}

func TestBuildTier3KeepsEverything(t *testing.T) {
	for _, f := range loadFixtures(t) {
		if f.session == "secrets" {
			continue // redaction changes strings there
		}
		var in, out any
		_ = json.Unmarshal(f.raw, &in)
		_ = json.Unmarshal(mustBuild(t, f.raw, 3)[0].Payload, &out)
		a, _ := json.Marshal(in)
		b, _ := json.Marshal(out)
		if !bytes.Equal(a, b) {
			t.Errorf("%s/%s: tier 3 changed the payload\n in: %s\nout: %s", f.session, f.name, a, b)
		}
	}
}

func TestBuildUnknownFields(t *testing.T) {
	raw := []byte(`{"session_id":"s1","hook_event_name":"FutureEvent","cwd":"/tmp","future_text":"secret plans","source":"startup",
		"tool_name":"Bash","tool_response":{"stdout":"x","newOutput":"y","interrupted":false},"reason":"a long sentence of free text"}`)
	for tier, want := range map[int]string{
		1: `{"cwd":"/tmp","hook_event_name":"FutureEvent","session_id":"s1","source":"startup","tool_name":"Bash","tool_response":{"interrupted":false}}`,
		2: `{"cwd":"/tmp","hook_event_name":"FutureEvent","reason":"a long sentence of free text","session_id":"s1","source":"startup","tool_name":"Bash","tool_response":{"interrupted":false}}`,
		3: `{"cwd":"/tmp","future_text":"secret plans","hook_event_name":"FutureEvent","reason":"a long sentence of free text","session_id":"s1","source":"startup","tool_name":"Bash","tool_response":{"interrupted":false,"newOutput":"y","stdout":"x"}}`,
	} {
		evs := mustBuild(t, raw, tier)
		if evs[0].HookEvent != "FutureEvent" {
			t.Errorf("HookEvent = %q", evs[0].HookEvent)
		}
		if got := string(evs[0].Payload); got != want {
			t.Errorf("tier %d:\n got %s\nwant %s", tier, got, want)
		}
	}
	// An MCP tool's result has no allow-list: only tier 3 keeps it.
	mcp := []byte(`{"session_id":"s1","hook_event_name":"PostToolUse","tool_name":"mcp__db__query","tool_use_id":"t1","tool_input":{"sql":"select 1"},"tool_response":"rows: 1"}`)
	if p := decodePayload(t, mustBuild(t, mcp, 2)[0]); p["tool_response"] != nil || p["tool_input"] == nil {
		t.Errorf("tier 2 MCP payload = %v", p)
	}
	// WebFetch keeps its status at 1 and its URL at 2; the page is output.
	wf := []byte(`{"session_id":"s1","hook_event_name":"PostToolUse","tool_name":"WebFetch","tool_use_id":"t1","tool_response":{"bytes":120,"code":200,"codeText":"OK","durationMs":40,"url":"https://example.com/x","result":"page text"}}`)
	for tier, want := range map[int]string{
		1: `{"bytes":120,"code":200,"codeText":"OK","durationMs":40}`,
		2: `{"bytes":120,"code":200,"codeText":"OK","durationMs":40,"url":"https://example.com/x"}`,
	} {
		got, _ := json.Marshal(decodePayload(t, mustBuild(t, wf, tier)[0])["tool_response"])
		if string(got) != want {
			t.Errorf("WebFetch tier %d tool_response = %s, want %s", tier, got, want)
		}
	}
	// StopFailure's error is an enum (kept at 1); PostToolUseFailure's is text (tier 2).
	sf := []byte(`{"session_id":"s1","hook_event_name":"StopFailure","error":"rate_limit","error_details":"429 Too Many Requests","last_assistant_message":"API Error"}`)
	if got, want := string(mustBuild(t, sf, 1)[0].Payload), `{"error":"rate_limit","hook_event_name":"StopFailure","session_id":"s1"}`; got != want {
		t.Errorf("StopFailure tier 1 = %s, want %s", got, want)
	}
	// An enum field holding an object is not an enum.
	odd := []byte(`{"session_id":"s1","hook_event_name":"SessionEnd","reason":{"text":"why"}}`)
	if got, want := string(mustBuild(t, odd, 1)[0].Payload), `{"hook_event_name":"SessionEnd","session_id":"s1"}`; got != want {
		t.Errorf("object reason at tier 1 = %s, want %s", got, want)
	}
	// Numbers survive digit for digit.
	num := []byte(`{"session_id":"s1","hook_event_name":"PostToolUse","duration_ms":12345678901234567890}`)
	if got := string(mustBuild(t, num, 1)[0].Payload); !strings.Contains(got, `"duration_ms":12345678901234567890`) {
		t.Errorf("number changed: %s", got)
	}
	// A bad tier is treated as tier 1.
	if ev := mustBuild(t, mustFixture(t, "commit", "002.json").raw, 0)[0]; ev.Tier != 1 || strings.Contains(string(ev.Payload), "hello.py") {
		t.Errorf("tier 0 event: tier %d payload %s", ev.Tier, ev.Payload)
	}
}

func TestBuildSecretsNeverLeave(t *testing.T) {
	var secretsSeen int
	for _, f := range loadFixtures(t) {
		if !bytes.Contains(f.raw, []byte("AKIAIOSFODNN7EXAMPLE")) && !bytes.Contains(f.raw, []byte("hunter2")) {
			continue
		}
		secretsSeen++
		for tier := event.TierMetadata; tier <= event.TierFull; tier++ {
			evs := mustBuild(t, f.raw, tier)
			out, err := json.Marshal(evs)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "hunter2"} {
				if bytes.Contains(out, []byte(secret)) {
					t.Errorf("%s/%s tier %d: %q in output: %s", f.session, f.name, tier, secret, out)
				}
			}
		}
	}
	if secretsSeen < 4 {
		t.Fatalf("only %d fixture payloads carry the secrets", secretsSeen)
	}

	// What was redacted is counted per rule, never shown.
	tests := []struct {
		name string
		tier int
		want map[string]int
	}{
		{"002.json", 2, map[string]int{"aws_access_key": 1, "password_phrase": 1}},
		{"002.json", 1, nil}, // the prompt is dropped before redaction sees it
		{"003.json", 2, map[string]int{"aws_access_key": 1, "url_password": 1}},
		{"004.json", 3, map[string]int{"aws_access_key": 2, "url_password": 2}},
		{"005.json", 3, map[string]int{"aws_access_key": 1}},
	}
	for _, tt := range tests {
		ev := mustBuild(t, mustFixture(t, "secrets", tt.name).raw, tt.tier)[0]
		got, _ := json.Marshal(ev.Redactions)
		want, _ := json.Marshal(tt.want)
		if tt.want == nil {
			want = []byte("null")
		}
		if !bytes.Equal(got, want) {
			t.Errorf("secrets/%s tier %d: redactions %s, want %s", tt.name, tt.tier, got, want)
		}
	}
	// The URL keeps its scheme, user and host.
	p := decodePayload(t, mustBuild(t, mustFixture(t, "secrets", "003.json").raw, 2)[0])
	if cmd, _ := lookup(p, "tool_input.command"); !strings.Contains(cmd.(string), "postgres://admin:[REDACTED:url_password]@db.internal:5432/app") {
		t.Errorf("command = %q", cmd)
	}
}

func TestBuildLineCounts(t *testing.T) {
	tests := []struct {
		session, name  string
		added, removed int
	}{
		{"commit", "004.json", 2, 0},       // Write creating a 2-line file
		{"commit", "006.json", 1, 1},       // Edit replacing one line
		{"commit", "003.json", 0, 0},       // PreToolUse: nothing happened yet
		{"commit", "010.json", 0, 0},       // Bash
		{"multi-prompt", "010.json", 4, 0}, // a 4-line test file
	}
	for _, tt := range tests {
		for tier := event.TierMetadata; tier <= event.TierFull; tier++ {
			ev := mustBuild(t, mustFixture(t, tt.session, tt.name).raw, tier)[0]
			if ev.LinesAdded != tt.added || ev.LinesRemoved != tt.removed {
				t.Errorf("%s/%s tier %d: +%d -%d, want +%d -%d", tt.session, tt.name, tier, ev.LinesAdded, ev.LinesRemoved, tt.added, tt.removed)
			}
		}
	}
}

func TestBuildPullRequests(t *testing.T) {
	f := mustFixture(t, "pull-request", "010.json")
	for tier := event.TierMetadata; tier <= event.TierFull; tier++ {
		evs := mustBuild(t, f.raw, tier)
		if len(evs) != 2 {
			t.Fatalf("tier %d: %d events, want the hook event and one PR", tier, len(evs))
		}
		pr := evs[1]
		wantURL := "https://github.com/example/demo/pull/42"
		if tier == 1 {
			wantURL = ""
		}
		if pr.Kind != event.KindPullRequest || pr.PullRequest == nil {
			t.Fatalf("tier %d: second event = %+v", tier, pr)
		}
		got := *pr.PullRequest
		want := event.PullRequest{URL: wantURL, Forge: "github", Owner: "example", Repo: "demo", Number: 42}
		if got != want {
			t.Errorf("tier %d: PR %+v, want %+v", tier, got, want)
		}
		if wantID := event.ID(event.KindPullRequest, "2e8f6bcb-7f98-4e1a-ad09-af2a1bccac55", "github", "example/demo", "42"); pr.ID != wantID {
			t.Errorf("PR ID %s, want %s", pr.ID, wantID)
		}
		if pr.ToolUseID != "toolu_f4ab12d4a3b14fa7bc77e948" || pr.PromptID != "bc51a26a-3231-4e07-9be4-6ec8f289c7f1" || pr.Tier != tier {
			t.Errorf("PR event correlation: %+v", pr)
		}
	}

	tests := []struct {
		name, payload string
		want          int
	}{
		{"two PRs and a repeat", `{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"t","tool_response":{"stdout":"https://github.com/a/b/pull/1 and https://gitlab.com/g/r/-/merge_requests/7","stderr":"see https://github.com/a/b/pull/1"}}`, 2},
		{"failed call", `{"session_id":"s","hook_event_name":"PostToolUseFailure","tool_name":"Bash","tool_use_id":"t","error":"https://github.com/a/b/pull/1"}`, 0},
		{"not Bash", `{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Read","tool_use_id":"t","tool_response":{"stdout":"https://github.com/a/b/pull/1"}}`, 0},
		{"PreToolUse", `{"session_id":"s","hook_event_name":"PreToolUse","tool_name":"Bash","tool_use_id":"t","tool_input":{"command":"gh pr view https://github.com/a/b/pull/1"}}`, 0},
		{"no URL", `{"session_id":"s","hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"t","tool_response":{"stdout":"ok"}}`, 0},
	}
	for _, tt := range tests {
		if got := len(mustBuild(t, []byte(tt.payload), 2)) - 1; got != tt.want {
			t.Errorf("%s: %d PR events, want %d", tt.name, got, tt.want)
		}
	}
}

// gitRun runs git in dir with a fixed identity.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestBuildGitState(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	gitRun(t, repo, "init", "-q", "-b", "main")
	gitRun(t, repo, "remote", "add", "origin", "https://user:pw@github.com/example/demo.git")
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, repo, "add", "a.txt")
	gitRun(t, repo, "commit", "-q", "-m", "first")
	sha := gitRun(t, repo, "rev-parse", "HEAD")
	sub := filepath.Join(repo, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	notRepo := t.TempDir()

	payload := func(hookEvent, tool, cwd string) []byte {
		b, _ := json.Marshal(map[string]any{"session_id": "s", "hook_event_name": hookEvent, "tool_name": tool, "tool_use_id": "t", "cwd": cwd})
		return b
	}
	tests := []struct {
		hookEvent, tool, cwd string
		want                 bool
	}{
		{"SessionStart", "", repo, true},
		{"PreToolUse", "Bash", sub, true},
		{"PostToolUse", "Bash", repo, true},
		{"PostToolUseFailure", "Bash", repo, true},
		{"Stop", "", repo, true},
		{"SessionEnd", "", repo, true},
		{"PostToolUse", "Read", repo, false},
		{"UserPromptSubmit", "", repo, false},
		{"SessionStart", "", notRepo, false},
		{"SessionStart", "", filepath.Join(notRepo, "missing"), false},
	}
	for _, tt := range tests {
		ev := mustBuild(t, payload(tt.hookEvent, tt.tool, tt.cwd), 1)[0]
		if (ev.Git != nil) != tt.want {
			t.Errorf("%s %s in %s: git %+v, want present=%v", tt.hookEvent, tt.tool, tt.cwd, ev.Git, tt.want)
			continue
		}
		if ev.Git == nil {
			continue
		}
		want := event.GitState{Root: repo, Remote: "github.com/example/demo", Branch: "main", Head: sha}
		if *ev.Git != want {
			t.Errorf("%s: git %+v, want %+v", tt.hookEvent, *ev.Git, want)
		}
	}
}

// stringsIn returns every string value (not object keys) in a decoded JSON value.
func stringsIn(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = append(out, v)
	case map[string]any:
		for _, e := range v {
			out = append(out, stringsIn(e)...)
		}
	case []any:
		for _, e := range v {
			out = append(out, stringsIn(e)...)
		}
	}
	return out
}

func FuzzBuild(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.raw, 1)
		f.Add(fx.raw, 2)
		f.Add(fx.raw, 3)
	}
	f.Add([]byte(`{"session_id":"s","hook_event_name":"X","a":{"password":"p","b":["token=abc"]}}`), 2)
	f.Add([]byte(`[]`), 1)
	f.Fuzz(func(t *testing.T, raw []byte, tier int) {
		evs, err := Build(raw, cfgTier(tier), testNow)
		if err != nil {
			if !errors.Is(err, ErrBadPayload) {
				t.Fatalf("error does not wrap ErrBadPayload: %v", err)
			}
			return
		}
		if len(evs) == 0 || evs[0].Kind != event.KindHook {
			t.Fatalf("no hook event first: %+v", evs)
		}
		for _, ev := range evs {
			if err := ev.Validate(); err != nil {
				t.Fatalf("invalid event: %v", err)
			}
			if ev.Payload == nil {
				continue
			}
			var p any
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				t.Fatalf("payload is not JSON: %v: %s", err, ev.Payload)
			}
			for _, s := range stringsIn(p) {
				if privacy.HasSecret(s) {
					t.Fatalf("secret left in payload string %q", s)
				}
			}
		}
		again, err := Build(raw, cfgTier(tier), testNow)
		if err != nil {
			t.Fatalf("second Build failed: %v", err)
		}
		a, _ := json.Marshal(evs)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("Build is not deterministic:\n%s\n%s", a, b)
		}
	})
}
