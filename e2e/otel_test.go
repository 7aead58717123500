package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/e2e/fakeanthropic"
)

// otelEvent is what the test reads of a stored telemetry event.
type otelEvent struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Usage *struct {
		RequestID string `json:"request_id"`
		apiUsage
	} `json:"usage"`
	OTel struct {
		Name      string `json:"name"`
		CommitSHA string `json:"commit_sha"`
	} `json:"otel"`
}

// sessionEvents reads every stored event of a session through the API.
func sessionEvents(srv *agentServer, id string) ([]otelEvent, error) {
	var out []otelEvent
	cursor := ""
	for {
		b, err := httpGet(fmt.Sprintf("%s/v1/sessions/%s/events?limit=1000&cursor=%s", srv.APIURL, id, cursor))
		if err != nil {
			return nil, err
		}
		var page struct {
			Events     []otelEvent `json:"events"`
			NextCursor string      `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Events...)
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// runClaudeOTel runs `claude -p` like runClaude but with telemetry allowed (runClaude
// turns it off) and exported every second, as `init --otel` set it up.
func runClaudeOTel(t *testing.T, claude string, h *hookEnv, apiURL, repo, prompt string) cliResult {
	t.Helper()
	return runClaudeEnv(t, claude, h, []string{"DISABLE_ERROR_REPORTING=1", "OTEL_METRIC_EXPORT_INTERVAL=1000",
		"OTEL_LOGS_EXPORT_INTERVAL=1000", "OTEL_TRACES_EXPORT_INTERVAL=1000"}, apiURL, repo, prompt)
}

// A real Claude Code session reaches the server through the OTLP receiver, once with
// `init --otel --no-hooks` (telemetry alone) and once with `init --otel` (hooks and
// telemetry both). In each run the API requests, prompt, tool calls and commit arrive,
// and the session's tokens equal the CLI's own totals, its cost is within $0.0001 of the
// CLI's, and its tool call count is the tools the script ran: with two sources, nothing
// is counted twice.
func TestRealClaudeCodeOTel(t *testing.T) {
	claude := claudeBin(t)
	hookBin, serverBin := binaries(t)
	srv := startServerEnv(t, serverBin, []string{"OTEL_PRIVACY_TIER=3"})
	for _, tt := range []struct {
		name  string
		hooks bool
	}{
		{"otel only", false},
		{"hooks and otel", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHookEnv(t, hookBin)
			args := []string{"init", "--collector-url", srv.CollectorURL, "--otel", "--otel-traces",
				"--otlp-endpoint", srv.OTLPURL, "--privacy-tier", "3"}
			if !tt.hooks {
				args = append(args, "--no-hooks")
			}
			h.Run(t, nil, args...)
			checkOTelRun(t, claude, srv, h, tt.hooks)
		})
	}
}

func checkOTelRun(t *testing.T, claude string, srv *agentServer, h *hookEnv, hooks bool) {
	sc := claudeScenarios[0] // commit: Write, then Bash git commit
	repo := newGitRepo(t)
	api := fakeanthropic.New("claude-opus-5-5", sc.convs(repo)...)
	defer api.Close()
	res := runClaudeOTel(t, claude, h, api.URL, repo, sc.prompt)
	if res.IsError {
		t.Fatalf("the CLI reported an error: %s", res.Result)
	}
	if hooks {
		h.Run(t, nil, "flush")
	}
	want := res.Totals()
	head := gitOut(t, repo, "rev-parse", "HEAD")
	tools := map[string]bool{}
	for _, r := range api.Requests() {
		for _, id := range r.ToolUseIDs {
			tools[id] = true
		}
	}

	var evs []otelEvent
	var got apiUsage
	var s apiSession
	kinds := map[string]int{}
	commit := ""
	waitFor(20*time.Second, func() bool {
		evs, _ = sessionEvents(srv, res.SessionID)
		got, kinds, commit = apiUsage{}, map[string]int{}, ""
		for _, e := range evs {
			kinds[e.Kind]++
			if e.Kind == "api_request" && e.Usage != nil {
				got.InputTokens += e.Usage.InputTokens
				got.OutputTokens += e.Usage.OutputTokens
				got.CacheCreationInputTokens += e.Usage.CacheCreationInputTokens
				got.CacheReadInputTokens += e.Usage.CacheReadInputTokens
			}
			if e.OTel.CommitSHA != "" {
				commit = e.OTel.CommitSHA
			}
		}
		var ok bool
		s, ok = trySession(srv, res.SessionID)
		return ok && got == want && commit != "" && kinds["user_prompt"] > 0 && kinds["metric"] > 0 &&
			s.Usage == want && s.ToolCallCount == len(tools) && (!hooks || kinds["hook"] > 0)
	})
	if n := len(api.Requests()); kinds["api_request"] < n-1 || kinds["api_request"] > n {
		// The CLI may make one request (a title, a quota probe) the fake API answers
		// outside the scripted turns; every scripted turn is one api_request.
		t.Errorf("api_request events = %d, fake API saw %d requests", kinds["api_request"], n)
	}
	if got != want {
		t.Errorf("api_request tokens = %+v, want the CLI's %+v", got, want)
	}
	if commit != head {
		t.Errorf("tool_result commit = %q, want HEAD %s", commit, head)
	}
	for _, k := range []string{"user_prompt", "tool_decision", "tool_result", "metric", "span"} {
		if kinds[k] == 0 {
			t.Errorf("no %s event stored (kinds %v)", k, kinds)
		}
	}
	if hooks != (kinds["hook"] > 0) {
		t.Errorf("%d hook events stored, hooks installed: %v", kinds["hook"], hooks)
	}

	s = srv.session(t, res.SessionID)
	if s.Usage != want {
		t.Errorf("session usage = %+v, want the CLI's %+v", s.Usage, want)
	}
	if s.CostUSD == nil || math.Abs(*s.CostUSD-res.TotalCostUSD) > 0.0001 {
		t.Errorf("session cost_usd = %v, want the CLI's total_cost_usd %.6f", fmtCost(s.CostUSD), res.TotalCostUSD)
	}
	if s.ToolCallCount != len(tools) {
		t.Errorf("tool_call_count = %d, want the %d tools the script ran", s.ToolCallCount, len(tools))
	}
	if s.PromptCount != 1 || len(s.Commits) != 1 || s.Commits[0].SHA != head {
		t.Errorf("prompts %d, commits %+v; want 1 prompt and the commit HEAD %s", s.PromptCount, s.Commits, head)
	}
	// status asks the server about this machine's telemetry by Claude Code's device id.
	if out, errOut, _ := h.run(nil, "status"); !strings.Contains(out, "from this machine: last received") {
		t.Errorf("status does not report this machine's telemetry:\n%s%s", out, errOut)
	}
	t.Logf("session %s: %d events %v; usage %+v cost %v, CLI %.6f", res.SessionID, len(evs), kinds, s.Usage, fmtCost(s.CostUSD), res.TotalCostUSD)
}
