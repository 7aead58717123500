package e2e

import (
	"bytes"
	"encoding/json"
	"github.com/agent-trace/agent-trace/event"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

const fixtureRoot = "testdata/claude-code-2.1.332"

// fixtureSession is one recorded Claude Code session: its hook payloads in the order Claude
// Code ran the hooks, and what they say the server must show.
type fixtureSession struct {
	Name      string
	SessionID string
	Payloads  [][]byte
	PromptIDs []string               // UserPromptSubmit prompt_ids, in order
	Injected  int                    // of those, turns Claude Code injected (not counted as prompts)
	Tools     map[string]fixtureTool // by tool_use_id
	Usage     apiUsage               // summed over the CLI's result*.json
	CostUSD   float64                // the CLI's own total (cumulative over resumes)
	AgentCall map[string]string      // subagent agent_id -> tool_use_id of the Agent call
}

type fixtureTool struct {
	Name    string
	Status  string // ok, error, or pending when no Post* hook came
	AgentID string
}

// loadFixtures reads every fixture session. projects replaces the recorded
// ~/.claude/projects directory in each payload, so the deliverer reads the copied transcripts.
func loadFixtures(t *testing.T, projects string) []fixtureSession {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(fixtureRoot, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures under %s: %v", fixtureRoot, err)
	}
	sort.Strings(dirs)
	var out []fixtureSession
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "hooks", "*.json"))
		sort.Strings(files)
		var payloads [][]byte
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			payloads = append(payloads, bytes.ReplaceAll(raw, []byte("/home/dev/.claude/projects/"), []byte(projects+"/")))
		}
		fs := expectFromPayloads(t, filepath.Base(dir), payloads)
		// The CLI's last result holds the session's totals. Its "usage" covers only the final
		// turn (after a resume or a background subagent's notification); "modelUsage" and
		// total_cost_usd are cumulative over the whole session, subagents included.
		results, _ := filepath.Glob(filepath.Join(dir, "result*.json"))
		sort.Strings(results)
		if len(results) == 0 {
			t.Fatalf("%s: no result*.json", dir)
		}
		fs.Usage, fs.CostUSD = readCLIResult(t, results[len(results)-1])
		out = append(out, fs)
	}
	return out
}

// expectFromPayloads reads what a session's hook payloads, in the order Claude Code ran
// them, say the server must show.
func expectFromPayloads(t *testing.T, name string, payloads [][]byte) fixtureSession {
	t.Helper()
	fs := fixtureSession{Name: name, Payloads: payloads, Tools: map[string]fixtureTool{}, AgentCall: map[string]string{}}
	lastAgentCall := ""
	for i, raw := range payloads {
		var p struct {
			SessionID string `json:"session_id"`
			Event     string `json:"hook_event_name"`
			PromptID  string `json:"prompt_id"`
			ToolUseID string `json:"tool_use_id"`
			ToolName  string `json:"tool_name"`
			AgentID   string `json:"agent_id"`
			Prompt    string `json:"prompt"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("%s payload %d: %v", name, i, err)
		}
		fs.SessionID = p.SessionID
		switch p.Event {
		case "UserPromptSubmit":
			fs.PromptIDs = append(fs.PromptIDs, p.PromptID)
			if event.PromptOrigin(p.Prompt) != "" {
				fs.Injected++
			}
		case "PreToolUse", "PostToolUse", "PostToolUseFailure":
			tool := fs.Tools[p.ToolUseID]
			tool.Name, tool.AgentID = p.ToolName, p.AgentID
			switch p.Event {
			case "PreToolUse":
				if tool.Status == "" {
					tool.Status = "pending"
				}
				if p.ToolName == "Agent" || p.ToolName == "Task" {
					lastAgentCall = p.ToolUseID
				}
			case "PostToolUse":
				tool.Status = "ok"
			case "PostToolUseFailure":
				tool.Status = "error"
			}
			fs.Tools[p.ToolUseID] = tool
		case "SubagentStart":
			// The Agent call that launched it is the last one opened before it.
			fs.AgentCall[p.AgentID] = lastAgentCall
		}
	}
	return fs
}

// cliResult is the part of `claude -p --output-format json` output the tests compare with.
type cliResult struct {
	SessionID    string  `json:"session_id"`
	IsError      bool    `json:"is_error"`
	Result       string  `json:"result"`
	TotalCostUSD float64 `json:"total_cost_usd"`
	ModelUsage   map[string]struct {
		InputTokens              int64   `json:"inputTokens"`
		OutputTokens             int64   `json:"outputTokens"`
		CacheReadInputTokens     int64   `json:"cacheReadInputTokens"`
		CacheCreationInputTokens int64   `json:"cacheCreationInputTokens"`
		CostUSD                  float64 `json:"costUSD"`
	} `json:"modelUsage"`
}

// Totals sums the per-model usage: the session's tokens as the CLI counts them.
func (r cliResult) Totals() apiUsage {
	var u apiUsage
	for _, m := range r.ModelUsage {
		u.InputTokens += m.InputTokens
		u.OutputTokens += m.OutputTokens
		u.CacheCreationInputTokens += m.CacheCreationInputTokens
		u.CacheReadInputTokens += m.CacheReadInputTokens
	}
	return u
}

func readCLIResult(t *testing.T, path string) (apiUsage, float64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r cliResult
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r.Totals(), r.TotalCostUSD
}

// copyDir copies the tree at src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// TestFixturesThroughHook pipes every recorded Claude Code 2.1.332 session through the real
// hook binary into the real server and checks, through the API, that each session arrives
// whole and exactly once, however often it is delivered.
func TestFixturesThroughHook(t *testing.T) {
	hookBin, serverBin := binaries(t)
	srv := startServer(t, serverBin)
	proxy := newRecordingProxy(t, srv.CollectorURL)

	// The transcripts go where the payloads' transcript_path will point.
	projects := filepath.Join(t.TempDir(), "projects")
	for _, dir := range mustGlob(t, filepath.Join(fixtureRoot, "*", "transcripts")) {
		copyDir(t, dir, projects)
	}
	fixtures := loadFixtures(t, projects)

	capture := func(h *hookEnv) {
		t.Helper()
		h.Run(t, nil, "init", "--collector-url", proxy.URL, "--privacy-tier", "3")
		for _, fs := range fixtures {
			for _, p := range fs.Payloads {
				h.Capture(t, p)
			}
		}
		h.Run(t, nil, "flush")
	}

	first := newHookEnv(t, hookBin)
	capture(first)

	// Every session present, whole.
	if !waitFor(15*time.Second, func() bool { return len(srv.sessionIDs(t)) >= len(fixtures) }) {
		t.Fatalf("sessions after flush: %v, want the %d fixture sessions", srv.sessionIDs(t), len(fixtures))
	}
	listed := map[string]bool{}
	for _, id := range srv.sessionIDs(t) {
		listed[id] = true
	}
	before := map[string]apiSession{}
	for _, fs := range fixtures {
		t.Run(fs.Name, func(t *testing.T) {
			if !listed[fs.SessionID] {
				t.Fatalf("session %s is not in GET /v1/sessions", fs.SessionID)
			}
			got := srv.session(t, fs.SessionID)
			before[fs.SessionID] = got
			checkSessionMatchesFixture(t, got, fs)
		})
	}

	t.Run("dashboard", func(t *testing.T) {
		for _, fs := range fixtures {
			page, err := httpGet(srv.DashboardURL + "/sessions/" + fs.SessionID)
			if err != nil {
				t.Errorf("%s: %v", fs.Name, err)
				continue
			}
			// The subagent fixture's second prompt is Claude Code's <task-notification>
			// markup: untrusted text that must arrive escaped, never as markup.
			if fs.Name == "subagent" {
				if bytes.Contains(page, []byte("<task-notification>")) {
					t.Errorf("%s: the session page has the prompt's <task-notification> unescaped", fs.Name)
				}
				if !bytes.Contains(page, []byte("&lt;task-notification&gt;")) {
					t.Errorf("%s: the session page does not show the escaped <task-notification> prompt", fs.Name)
				}
			}
		}
		list, err := httpGet(srv.DashboardURL + "/")
		if err != nil {
			t.Fatal(err)
		}
		for _, fs := range fixtures {
			if !bytes.Contains(list, []byte(fs.SessionID)) {
				t.Errorf("the session list does not link session %s", fs.SessionID)
			}
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, fs := range fixtures {
			got := before[fs.SessionID]
			if got.Usage != fs.Usage {
				t.Errorf("%s: usage = %+v, want the CLI's %+v", fs.Name, got.Usage, fs.Usage)
			}
			if got.CostUSD == nil || math.Abs(*got.CostUSD-fs.CostUSD) > 0.0001 {
				t.Errorf("%s: cost_usd = %v, want the CLI's %.5f", fs.Name, fmtCost(got.CostUSD), fs.CostUSD)
			}
		}
	})

	// The same events again, from a second spool: every one a duplicate, nothing changes.
	sentBefore := len(proxy.Calls())
	second := newHookEnv(t, hookBin)
	capture(second)
	second.Run(t, nil, "flush") // flushing an empty spool again is harmless
	var resent, dups int
	for _, c := range proxy.Calls()[sentBefore:] {
		if c.Path != "/v1/hooks" {
			continue
		}
		resent += countEvents(t, c.Body)
		dups += intField(c.Response, "duplicates")
		if stored := intField(c.Response, "stored"); stored != 0 {
			t.Errorf("re-delivery stored %d new events; want 0 (response %s)", stored, c.Response)
		}
	}
	if resent == 0 || dups != resent {
		t.Errorf("re-delivered %d events, server reported %d duplicates; want all duplicates", resent, dups)
	}

	// A batch re-sent by hand, byte for byte.
	var batch []byte
	for _, c := range proxy.Calls() {
		if c.Path == "/v1/hooks" && c.Status/100 == 2 && countEvents(t, c.Body) > 0 {
			batch = c.Body
			break
		}
	}
	if batch == nil {
		t.Fatal("the hook delivered no batch through the proxy")
	}
	resp, err := http.Post(srv.CollectorURL+"/v1/hooks", "application/json", bytes.NewReader(batch))
	if err != nil {
		t.Fatalf("re-send batch: %v", err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("re-sent batch: %d %s", resp.StatusCode, body.String())
	}
	if got, want := intField(body.Bytes(), "duplicates"), countEvents(t, batch); got != want {
		t.Errorf("re-sent batch: duplicates = %d, want %d (%s)", got, want, body.String())
	}
	if got := intField(body.Bytes(), "stored"); got != 0 {
		t.Errorf("re-sent batch: stored = %d, want 0", got)
	}

	for _, fs := range fixtures {
		got := srv.session(t, fs.SessionID)
		was := before[fs.SessionID]
		if got.PromptCount != was.PromptCount || got.ToolCallCount != was.ToolCallCount ||
			got.EventCount != was.EventCount || got.Usage != was.Usage || len(got.Prompts) != len(was.Prompts) {
			t.Errorf("%s changed after re-delivery: prompts %d→%d, tool calls %d→%d, events %d→%d, usage %+v→%+v",
				fs.Name, was.PromptCount, got.PromptCount, was.ToolCallCount, got.ToolCallCount,
				was.EventCount, got.EventCount, was.Usage, got.Usage)
		}
		checkSessionMatchesFixture(t, got, fs)
	}
	if n := len(srv.sessionIDs(t)); n != len(fixtures) {
		t.Errorf("%d sessions after re-delivery, want %d", n, len(fixtures))
	}

	t.Run("no-secret-stored", func(t *testing.T) {
		// The secrets fixture's AWS key and password must be nowhere: spool, hook.log, database.
		var files []string
		for _, root := range []string{first.AgentTraceHome, second.AgentTraceHome, filepath.Dir(srv.DBPath)} {
			_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					files = append(files, p)
				}
				return nil
			})
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "hunter2"} {
				if i := bytes.Index(b, []byte(secret)); i >= 0 {
					ctx := b[max(0, i-200):min(len(b), i+60)]
					t.Errorf("%s contains the secret %q: …%q…", f, secret, ctx)
				}
			}
		}
	})
}

// checkSessionMatchesFixture: prompt IDs and tool_use IDs exactly those of the payloads,
// each tool call once, with the status the payloads say, subagent calls under their Agent call.
func checkSessionMatchesFixture(t *testing.T, got apiSession, fs fixtureSession) {
	t.Helper()
	var prompts []string
	for _, p := range got.Prompts {
		prompts = append(prompts, p.ID)
	}
	if strings.Join(prompts, ",") != strings.Join(fs.PromptIDs, ",") {
		t.Errorf("%s: prompt ids = %v, want %v (in order)", fs.Name, prompts, fs.PromptIDs)
	}
	if got.PromptCount != len(fs.PromptIDs)-fs.Injected {
		t.Errorf("%s: prompt_count = %d, want %d", fs.Name, got.PromptCount, len(fs.PromptIDs)-fs.Injected)
	}
	seen := map[string]int{}
	walkToolCalls(got, func(p apiPrompt, parent *apiToolCall, c apiToolCall) {
		seen[c.ID]++
		want, ok := fs.Tools[c.ID]
		if !ok {
			t.Errorf("%s: tool call %s (%s) is not in the payloads", fs.Name, c.ID, c.Name)
			return
		}
		if c.Name != want.Name || c.Status != want.Status {
			t.Errorf("%s: tool call %s = %s/%s, want %s/%s", fs.Name, c.ID, c.Name, c.Status, want.Name, want.Status)
		}
		if want.AgentID != "" {
			if c.AgentID != want.AgentID {
				t.Errorf("%s: tool call %s agent_id = %q, want %q", fs.Name, c.ID, c.AgentID, want.AgentID)
			}
			if launcher := fs.AgentCall[want.AgentID]; launcher != "" && (parent == nil || parent.ID != launcher) {
				t.Errorf("%s: subagent call %s hangs under %v, want under the Agent call %s", fs.Name, c.ID, parentID(parent), launcher)
			}
		}
	})
	for id := range fs.Tools {
		if seen[id] != 1 {
			t.Errorf("%s: tool call %s appears %d times, want once", fs.Name, id, seen[id])
		}
	}
	if got.ToolCallCount != len(fs.Tools) {
		t.Errorf("%s: tool_call_count = %d, want %d", fs.Name, got.ToolCallCount, len(fs.Tools))
	}
}

func parentID(c *apiToolCall) string {
	if c == nil {
		return "the prompt"
	}
	return c.ID
}

func fmtCost(c *float64) any {
	if c == nil {
		return "null"
	}
	return *c
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("glob %s: %v (%d matches)", pattern, err, len(m))
	}
	return m
}

// countEvents counts the events of a POST /v1/hooks body.
func countEvents(t *testing.T, body []byte) int {
	t.Helper()
	var b struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return 0
	}
	return len(b.Events)
}

// intField reads a top-level integer field of a JSON object, 0 when absent.
func intField(body []byte, name string) int {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return 0
	}
	f, _ := m[name].(float64)
	return int(f)
}

// TestLoadFixtures pins what the fixture payloads say, so the end-to-end expectations are
// themselves checked against the recordings.
func TestLoadFixtures(t *testing.T) {
	byName := map[string]fixtureSession{}
	for _, fs := range loadFixtures(t, "/tmp/projects") {
		byName[fs.Name] = fs
	}
	tests := []struct {
		name             string
		prompts, tools   int
		errors           int
		input, cacheRead int64
		cost             float64
	}{
		{"commit", 1, 4, 0, 7600, 36000, 0.0926},
		{"failed-commit", 1, 1, 1, 2410, 6000, 0.01814},
		{"multi-prompt", 2, 4, 1, 12150, 60000, 0.0956},
		{"pull-request", 1, 4, 0, 8600, 38000, 0.087},
		{"secrets", 1, 1, 0, 2610, 7000, 0.02384},
		{"subagent", 2, 2, 0, 7240, 24000, 0.07026},
	}
	for _, tt := range tests {
		fs, ok := byName[tt.name]
		if !ok {
			t.Errorf("fixture %s missing", tt.name)
			continue
		}
		errors := 0
		for _, tool := range fs.Tools {
			if tool.Status == "error" {
				errors++
			}
		}
		if len(fs.PromptIDs) != tt.prompts || len(fs.Tools) != tt.tools || errors != tt.errors ||
			fs.Usage.InputTokens != tt.input || fs.Usage.CacheReadInputTokens != tt.cacheRead || math.Abs(fs.CostUSD-tt.cost) > 1e-9 {
			t.Errorf("%s: prompts=%d tools=%d errors=%d input=%d cache_read=%d cost=%v; want %d %d %d %d %d %v",
				tt.name, len(fs.PromptIDs), len(fs.Tools), errors, fs.Usage.InputTokens, fs.Usage.CacheReadInputTokens, fs.CostUSD,
				tt.prompts, tt.tools, tt.errors, tt.input, tt.cacheRead, tt.cost)
		}
		for _, p := range fs.Payloads {
			if bytes.Contains(p, []byte("/home/dev/.claude/projects/")) {
				t.Errorf("%s: a payload still points at the recording machine's transcripts", tt.name)
			}
		}
	}
	sub := byName["subagent"]
	if got, want := sub.AgentCall["a6fd588be11e1c086"], "toolu_26b96c7a68324032adfa148b"; got != want {
		t.Errorf("subagent a6fd588be11e1c086 launched by %q, want %q", got, want)
	}
	if got := sub.Tools["toolu_1dae823a53c5436296c341a4"].AgentID; got != "a6fd588be11e1c086" {
		t.Errorf("subagent Bash call agent_id = %q", got)
	}
}
