package e2e

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/e2e/fakeanthropic"
)

// claudeBin finds the Claude Code CLI that `make claude-code` installs. Without it the test
// skips, except in CI, where it must run.
func claudeBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("AGENT_TRACE_CLAUDE_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot, ".cache", "claude-code", "node_modules", ".bin", "claude")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Claude Code CLI is not installed at %s: run `make claude-code`", bin)
		}
		t.Skipf("the Claude Code CLI is not installed at %s; `make claude-code` installs it", bin)
	}
	return bin
}

// claudeScenario is one scripted session: the prompt, and what the fake model answers.
type claudeScenario struct {
	name   string
	prompt string
	resume string // a second prompt, sent with --resume to the same session
	convs  func(repo string) []fakeanthropic.Conversation
	check  func(t *testing.T, got apiSession, repo string, exp fixtureSession)
}

func usage(in, out, cacheWrite, cacheRead int64) fakeanthropic.Usage {
	return fakeanthropic.Usage{InputTokens: in, OutputTokens: out, CacheCreationInputTokens: cacheWrite, CacheReadInputTokens: cacheRead}
}

func withCacheSplit(u fakeanthropic.Usage, fiveMinutes, oneHour int64) fakeanthropic.Usage {
	u.CacheCreation = &fakeanthropic.CacheCreation{Ephemeral5mInputTokens: fiveMinutes, Ephemeral1hInputTokens: oneHour}
	return u
}

var claudeScenarios = []claudeScenario{
	{
		name:   "commit",
		prompt: "E2E-COMMIT: create hello.py and commit it",
		convs: func(repo string) []fakeanthropic.Conversation {
			return []fakeanthropic.Conversation{{Marker: "E2E-COMMIT", Turns: []fakeanthropic.Turn{
				{Text: "I'll write the file.", ToolUses: []fakeanthropic.ToolUse{{Name: "Write", Input: map[string]any{
					"file_path": filepath.Join(repo, "hello.py"), "content": "def hello():\n    return 'hello'\n"}}},
					Usage: usage(1200, 150, 3000, 0)},
				{ToolUses: []fakeanthropic.ToolUse{{Name: "Bash", Input: map[string]any{
					"command": "git add hello.py && git commit -m 'Add hello module'", "description": "Commit hello.py"}}},
					Usage: usage(300, 80, 200, 3000)},
				{Text: "Created hello.py and committed it.", Usage: usage(250, 40, 0, 3200)},
			}}}
		},
		check: func(t *testing.T, got apiSession, repo string, exp fixtureSession) {
			head := gitOut(t, repo, "rev-parse", "HEAD")
			var shas []string
			for _, c := range got.Commits {
				shas = append(shas, c.SHA)
			}
			if len(shas) != 1 || shas[0] != head {
				t.Errorf("commits = %v, want exactly HEAD %s", shas, head)
			}
			if len(got.Commits) == 1 && len(exp.PromptIDs) == 1 && got.Commits[0].PromptID != exp.PromptIDs[0] {
				t.Errorf("commit prompt_id = %q, want %q", got.Commits[0].PromptID, exp.PromptIDs[0])
			}
			if got.CommitCount != 1 {
				t.Errorf("commit_count = %d, want 1", got.CommitCount)
			}
			if len(got.Commits) == 1 {
				c := got.Commits[0]
				if c.Message != "Add hello module" || c.Branch != "main" {
					t.Errorf("commit message %q on branch %q, want %q on main", c.Message, c.Branch, "Add hello module")
				}
				if bash := toolIDByName(exp, "Bash"); c.ToolUseID != bash {
					t.Errorf("commit tool_use_id = %q, want the Bash call %q", c.ToolUseID, bash)
				}
			}
		},
	},
	{
		name:   "failing-tool",
		prompt: "E2E-FAIL: list a directory that does not exist",
		convs: func(repo string) []fakeanthropic.Conversation {
			return []fakeanthropic.Conversation{{Marker: "E2E-FAIL", Turns: []fakeanthropic.Turn{
				{ToolUses: []fakeanthropic.ToolUse{{Name: "Bash", Input: map[string]any{
					"command": "ls " + filepath.Join(repo, "no-such-dir"), "description": "List the directory"}}},
					// Split cache writes: 1-hour writes cost more, and the CLI prices them so.
					Usage: withCacheSplit(usage(900, 60, 1500, 0), 500, 1000)},
				{Text: "That directory does not exist.", Usage: usage(200, 30, 0, 1500)},
			}}}
		},
		check: func(t *testing.T, got apiSession, repo string, exp fixtureSession) {
			if got.ErrorCount < 1 {
				t.Errorf("error_count = %d, want at least 1", got.ErrorCount)
			}
			if len(got.Commits) != 0 {
				t.Errorf("commits = %v, want none", got.Commits)
			}
		},
	},
	{
		name:   "subagent",
		prompt: "E2E-AGENT: inspect the repository with a subagent",
		convs: func(repo string) []fakeanthropic.Conversation {
			return []fakeanthropic.Conversation{
				{Marker: "E2E-AGENT", Turns: []fakeanthropic.Turn{
					{ToolUses: []fakeanthropic.ToolUse{{Name: "Agent", Input: map[string]any{
						"description": "Inspect the repository", "subagent_type": "general-purpose",
						"prompt": "E2E-SUBAGENT: run git status and report"}}},
						Usage: usage(1000, 90, 2000, 0)},
					// The CLI may run the agent in the background, answer once, and come back
					// with the agent's notification as a new prompt.
					{Text: "The subagent is inspecting the repository.", Usage: usage(150, 20, 0, 2000)},
					{Text: "The subagent reports a clean repository.", Usage: usage(180, 25, 0, 2150)},
				}},
				{Marker: "E2E-SUBAGENT", Turns: []fakeanthropic.Turn{
					{ToolUses: []fakeanthropic.ToolUse{{Name: "Bash", Input: map[string]any{
						"command": "git status --short", "description": "Show the status"}}},
						Usage: usage(700, 50, 1200, 0)},
					{Text: "The working tree is clean.", Usage: usage(120, 15, 0, 1200)},
				}},
			}
		},
		check: func(t *testing.T, got apiSession, repo string, exp fixtureSession) {
			var agentCalls, subCalls int
			for _, tool := range exp.Tools {
				if tool.Name == "Agent" || tool.Name == "Task" {
					agentCalls++
				}
				if tool.AgentID != "" {
					subCalls++
				}
			}
			if agentCalls != 1 || subCalls != 1 {
				t.Errorf("the CLI's hooks show %d Agent calls and %d subagent calls, want 1 and 1", agentCalls, subCalls)
			}
		},
	},
	{
		name:   "resumed",
		prompt: "E2E-RESUME: write notes.txt",
		resume: "now append a second line",
		convs: func(repo string) []fakeanthropic.Conversation {
			return []fakeanthropic.Conversation{{Marker: "E2E-RESUME", Turns: []fakeanthropic.Turn{
				{ToolUses: []fakeanthropic.ToolUse{{Name: "Write", Input: map[string]any{
					"file_path": filepath.Join(repo, "notes.txt"), "content": "first\n"}}},
					Usage: usage(800, 70, 1000, 0)},
				{Text: "Wrote notes.txt.", Usage: usage(100, 10, 0, 1000)},
				// The resumed run: the conversation so far plus the new prompt.
				{ToolUses: []fakeanthropic.ToolUse{{Name: "Bash", Input: map[string]any{
					"command": "echo second >> notes.txt", "description": "Append a line"}}},
					Usage: usage(400, 40, 300, 1100)},
				{Text: "Appended the second line.", Usage: usage(90, 12, 0, 1400)},
			}}}
		},
		check: func(t *testing.T, got apiSession, repo string, exp fixtureSession) {
			if len(exp.PromptIDs) != 2 {
				t.Errorf("the CLI's hooks show %d prompts, want 2 (one per run)", len(exp.PromptIDs))
			}
		},
	},
}

// TestRealClaudeCode drives the real Claude Code CLI, wired with `agent-trace-hook init`,
// through scripted sessions against a fake Messages API, and checks that each session
// arrives complete: its prompts and tool calls with their statuses (as an independent
// witness hook saw them), the commit it made, and the tokens and cost the CLI itself reports.
func TestRealClaudeCode(t *testing.T) {
	claude := claudeBin(t)
	hookBin, serverBin := binaries(t)
	srv := startServer(t, serverBin)
	h := newHookEnv(t, hookBin)
	h.Run(t, nil, "init", "--collector-url", srv.CollectorURL, "--privacy-tier", "3")
	witnessDir := filepath.Join(t.TempDir(), "witness")
	addWitnessHook(t, filepath.Join(h.ClaudeConfigDir, "settings.json"), witnessDir)

	for _, sc := range claudeScenarios {
		t.Run(sc.name, func(t *testing.T) {
			repo := newGitRepo(t)
			api := fakeanthropic.New("claude-opus-5-5", sc.convs(repo)...)
			defer api.Close()
			res := runClaude(t, claude, h, api.URL, repo, sc.prompt)
			if res.IsError {
				t.Fatalf("the CLI reported an error: %s", res.Result)
			}
			if sc.resume != "" {
				// The resumed run's result carries the session's cumulative totals.
				first := res.SessionID
				res = runClaude(t, claude, h, api.URL, repo, sc.resume, "--resume", first)
				if res.IsError || res.SessionID != first {
					t.Fatalf("resumed run: session %s (want %s), error %v: %s", res.SessionID, first, res.IsError, res.Result)
				}
			}
			h.Run(t, nil, "flush")

			witnessed := witnessPayloads(t, witnessDir, res.SessionID)
			exp := expectFromPayloads(t, sc.name, witnessed)
			// Every tool_use the fake model asked for was run and must be on the server.
			for _, r := range api.Requests() {
				for _, id := range r.ToolUseIDs {
					if _, ok := exp.Tools[id]; !ok {
						t.Errorf("the fake model asked for %s but no hook saw it", id)
					}
				}
			}
			wantUsage := res.Totals()

			var got apiSession
			complete := waitFor(20*time.Second, func() bool {
				var ok bool
				got, ok = trySession(srv, res.SessionID)
				return ok && got.Usage == wantUsage && len(got.Prompts) == len(exp.PromptIDs) &&
					got.ToolCallCount == len(exp.Tools) && (sc.name != "commit" || len(got.Commits) > 0)
			})
			if !complete {
				// One more flush in case the deliverer had not read the transcript's tail.
				h.Run(t, nil, "flush")
				time.Sleep(time.Second)
			}
			got = srv.session(t, res.SessionID)
			checkSessionMatchesFixture(t, got, exp)
			if got.Usage != wantUsage {
				t.Errorf("usage = %+v, want the CLI's %+v", got.Usage, wantUsage)
			}
			if got.CostUSD == nil || math.Abs(*got.CostUSD-res.TotalCostUSD) > 0.0001 {
				t.Errorf("cost_usd = %v, want the CLI's total_cost_usd %.6f", fmtCost(got.CostUSD), res.TotalCostUSD)
			}
			if got.Status != "ended" {
				t.Errorf("status = %q, want ended (the CLI ran SessionEnd)", got.Status)
			}
			sc.check(t, got, repo, exp)
			t.Logf("session %s: %d prompts, %d tool calls (%d errors), %d commits, usage %+v, cost %v; CLI: usage %+v, total_cost_usd %.6f",
				got.ID, len(got.Prompts), got.ToolCallCount, got.ErrorCount, len(got.Commits), got.Usage, fmtCost(got.CostUSD), wantUsage, res.TotalCostUSD)
			if t.Failed() {
				t.Logf("fake API requests: %+v", api.Requests())
				t.Logf("hook.log:\n%s", h.hookLog())
			}
		})
	}
}

// toolIDByName is the ID of the session's only tool call named name.
func toolIDByName(exp fixtureSession, name string) string {
	for id, tool := range exp.Tools {
		if tool.Name == name {
			return id
		}
	}
	return ""
}

// runClaude runs one `claude -p` session in repo against the fake API and returns the CLI's
// own JSON result. Claude Code's telemetry is off (runClaudeOTel turns it on).
func runClaude(t *testing.T, claude string, h *hookEnv, apiURL, repo, prompt string, extraArgs ...string) cliResult {
	t.Helper()
	return runClaudeEnv(t, claude, h, []string{"DISABLE_TELEMETRY=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"},
		apiURL, repo, prompt, extraArgs...)
}

// runClaudeEnv is runClaude with extra environment in place of the telemetry switches.
func runClaudeEnv(t *testing.T, claude string, h *hookEnv, env []string, apiURL, repo, prompt string, extraArgs ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"-p", prompt, "--output-format", "json", "--dangerously-skip-permissions"}, extraArgs...)
	cmd := exec.CommandContext(ctx, claude, args...)
	cmd.Dir = repo
	cmd.Env = append(h.Env(),
		"IS_SANDBOX=1",
		"ANTHROPIC_BASE_URL="+apiURL,
		"ANTHROPIC_API_KEY=fake",
		"DISABLE_AUTOUPDATER=1",
	)
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("claude -p: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	var res cliResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("claude -p output is not JSON: %v\n%s", err, out)
	}
	if res.SessionID == "" {
		t.Fatalf("claude -p output has no session_id:\n%s", out)
	}
	return res
}

// trySession fetches a session, reporting false instead of failing while it is not there.
func trySession(srv *agentServer, id string) (apiSession, bool) {
	var got apiSession
	resp, err := httpGet(srv.APIURL + "/v1/sessions/" + id)
	if err != nil {
		return got, false
	}
	if json.Unmarshal(resp, &got) != nil {
		return got, false
	}
	return got, got.ID == id
}

// addWitnessHook adds, beside what init wrote, a hook that saves every payload Claude Code
// sends. It is the independent record of what the session contained.
func addWitnessHook(t *testing.T, settingsPath, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(filepath.Dir(dir), "witness.sh")
	// Named by nanosecond time plus pid so parallel hooks never collide; sorted by name
	// they are in the order Claude Code ran them.
	body := "#!/bin/sh\ncat > \"" + dir + "/$(date +%s%N)-$$.json\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(settingsPath)
	if err != nil {
		t.Fatalf("init wrote no settings.json: %v", err)
	}
	var settings map[string]any
	if err := json.Unmarshal(raw, &settings); err != nil {
		t.Fatalf("settings.json: %v", err)
	}
	hooks, _ := settings["hooks"].(map[string]any)
	if len(hooks) == 0 {
		t.Fatalf("init registered no hooks in %s:\n%s", settingsPath, raw)
	}
	for _, ev := range []string{"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse",
		"PostToolUseFailure", "SubagentStart", "SubagentStop", "Stop", "SessionEnd"} {
		groups, _ := hooks[ev].([]any)
		hooks[ev] = append(groups, map[string]any{
			"matcher": "*",
			"hooks":   []any{map[string]any{"type": "command", "command": script, "timeout": 10}},
		})
	}
	out, _ := json.MarshalIndent(settings, "", "  ")
	if err := os.WriteFile(settingsPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// witnessPayloads returns the payloads the witness hook saved for one session, in order.
func witnessPayloads(t *testing.T, dir, sessionID string) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range names {
		raw, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			SessionID string `json:"session_id"`
		}
		if json.Unmarshal(raw, &p) == nil && p.SessionID == sessionID {
			out = append(out, raw)
		}
	}
	if len(out) == 0 {
		t.Fatalf("the witness hook saw nothing for session %s", sessionID)
	}
	return out
}

// newGitRepo makes a repository with one commit, so HEAD exists before the session.
func newGitRepo(t *testing.T) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	gitOut(t, repo, "init", "-q", "-b", "main")
	// The CLI's Bash tool commits with the repository's identity: the test HOME has none.
	gitOut(t, repo, "config", "user.name", "E2E")
	gitOut(t, repo, "config", "user.email", "e2e@example.com")
	if err := os.WriteFile(filepath.Join(repo, "README.md"), []byte("# demo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitOut(t, repo, "add", "README.md")
	gitOut(t, repo, "commit", "-q", "-m", "Initial commit")
	return repo
}

// gitOut runs git in dir with a fixed identity and returns its trimmed output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=E2E", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=E2E", "GIT_COMMITTER_EMAIL=e2e@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
