package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/e2e/fakeanthropic"
)

// TestRealClaudeCodeAsksItsHistory has the real Claude Code CLI, wired with
// `agent-trace-hook init --mcp`, call agent-trace's MCP server: one session commits, and
// the next asks find_commit which session made that commit. The server's answer reaches
// the model as the tool_result of the next request to the (fake) Messages API. Auth is on:
// the hooks deliver with an ingest token and the MCP entry sends a read token.
func TestRealClaudeCodeAsksItsHistory(t *testing.T) {
	claude := claudeBin(t)
	hookBin, serverBin := binaries(t)
	srv := startServer(t, serverBin)
	token := func(scope string) string {
		out, err := exec.Command(serverBin, "token", "create", "--db", srv.DBPath, "--name", "e2e-"+scope, "--scope", scope).Output()
		if err != nil {
			t.Fatalf("token create --scope %s: %v", scope, err)
		}
		return strings.TrimSpace(string(out))
	}
	ingest, read := token("ingest"), token("read")
	if !waitFor(10*time.Second, func() bool {
		resp, err := http.Get(srv.APIURL + "/v1/sessions")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusUnauthorized
	}) {
		t.Fatal("the server did not turn auth on after the first token")
	}
	h := newHookEnv(t, hookBin)
	out := h.Run(t, nil, "init", "--collector-url", srv.CollectorURL, "--token", ingest, "--mcp", "--mcp-url", srv.APIURL+"/mcp",
		"--mcp-token", read)
	if !strings.Contains(out, "mcp: registered "+srv.APIURL+"/mcp") {
		t.Fatalf("init --mcp said:\n%s", out)
	}

	// The first session commits; the server must know the commit before it is asked.
	repo := newGitRepo(t)
	api := fakeanthropic.New("claude-opus-5-5",
		fakeanthropic.Conversation{Marker: "E2E-MCP-COMMIT", Turns: []fakeanthropic.Turn{
			{ToolUses: []fakeanthropic.ToolUse{{Name: "Write", Input: map[string]any{
				"file_path": filepath.Join(repo, "flaky_test.py"), "content": "def test_flaky():\n    assert True\n"}}},
				Usage: usage(900, 80, 1000, 0)},
			{ToolUses: []fakeanthropic.ToolUse{{Name: "Bash", Input: map[string]any{
				"command": "git add flaky_test.py && git commit -m 'Deflake test_flaky'", "description": "Commit"}}},
				Usage: usage(300, 60, 200, 1000)},
			{Text: "Committed the fix.", Usage: usage(200, 20, 0, 1200)},
		}})
	defer api.Close()
	first := runClaude(t, claude, h, api.URL, repo, "E2E-MCP-COMMIT: fix the flaky test and commit")
	if first.IsError {
		t.Fatalf("first session: %s", first.Result)
	}
	h.Run(t, nil, "flush")
	head := gitOut(t, repo, "rev-parse", "HEAD")
	if !waitFor(20*time.Second, func() bool { return hasCommit(srv, read, head) }) {
		t.Fatalf("the server does not know commit %s", head)
	}

	// The second session asks the MCP server.
	tool := "mcp__agent-trace__find_commit"
	api2 := fakeanthropic.New("claude-opus-5-5",
		fakeanthropic.Conversation{Marker: "E2E-MCP-ASK", Turns: []fakeanthropic.Turn{
			{ToolUses: []fakeanthropic.ToolUse{{Name: tool, Input: map[string]any{"sha": head[:10]}}}, Usage: usage(500, 40, 0, 0)},
			{Text: "That commit came from your earlier session.", Usage: usage(300, 20, 0, 500)},
		}})
	defer api2.Close()
	second := runClaude(t, claude, h, api2.URL, repo, "E2E-MCP-ASK: which session made the last commit?")
	if second.IsError {
		t.Fatalf("second session: %s", second.Result)
	}
	// Claude Code 2.1 defers MCP tools behind its ToolSearch tool (the request offers
	// ToolSearch, not the MCP tools themselves), yet runs a tool_use that names one.
	var results []fakeanthropic.ToolResult
	for _, r := range api2.Requests() {
		if r.Marker == "E2E-MCP-ASK" {
			results = append(results, r.ToolResults...)
		}
	}
	if len(results) != 1 {
		t.Fatalf("tool results sent to the model: %+v, want one; requests: %+v", results, api2.Requests())
	}
	// The CLI hands the model the tool's structured output (JSON) rather than its text.
	if got := results[0]; got.IsError || !strings.Contains(got.Text, head) || !strings.Contains(got.Text, first.SessionID) ||
		!strings.Contains(got.Text, "Deflake test_flaky") {
		t.Errorf("the MCP tool answered (error %v):\n%s\nwant commit %s of session %s", got.IsError, got.Text, head, first.SessionID)
	}
}

// hasCommit reports whether the server lists commit sha.
func hasCommit(srv *agentServer, token, sha string) bool {
	req, _ := http.NewRequest("GET", srv.APIURL+"/v1/commits?limit=200", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var page struct {
		Commits []struct {
			SHA string `json:"sha"`
		} `json:"commits"`
	}
	if json.NewDecoder(resp.Body).Decode(&page) != nil {
		return false
	}
	for _, c := range page.Commits {
		if c.SHA == sha {
			return true
		}
	}
	return false
}
