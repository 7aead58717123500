package storetest

import (
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// OTelSessionID is the session OTelSession reports.
const OTelSessionID = "otel-session"

// OTelSession is a session Claude Code's telemetry reports, with one transcript usage
// event: a prompt, an API request only OTel saw and one the transcript saw too (same
// request_id: counted once, the transcript's tokens), an accepted Bash call that
// committed, a rejected Write, an API error, active time and a subagent's totals.
func OTelSession() []event.Event {
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	ok := true
	mk := func(kind string, at time.Duration, o event.OTel, key ...string) event.Event {
		return event.Event{ID: event.OTelID(kind, OTelSessionID, key...), Kind: kind, SessionID: OTelSessionID,
			Time: t0.Add(at), Tier: event.TierDetails, PromptID: "p1", User: FixtureUser, OTel: &o}
	}
	usage := func(in, out int64) *event.Usage {
		return &event.Usage{Model: "claude-opus-5-5", InputTokens: in, OutputTokens: out}
	}
	prompt := mk(event.KindUserPrompt, 0, event.OTel{Name: "user_prompt", Text: "commit it", Length: 9}, "p1")
	solo := mk(event.KindAPIRequest, time.Second, event.OTel{Name: "api_request", RequestID: "req_solo",
		Model: "claude-opus-5-5", CostUSD: 0.02, DurationMS: 900, TTFTMS: 120, QuerySource: "main"}, "req_solo")
	solo.Usage = usage(1000, 100)
	twin := mk(event.KindAPIRequest, 2*time.Second, event.OTel{Name: "api_request", RequestID: "req_twin",
		Model: "claude-opus-5-5", CostUSD: 0.03, DurationMS: 700, QuerySource: "main"}, "req_twin")
	twin.Usage = usage(999, 1) // the transcript's reading wins
	transcript := event.Event{ID: event.ID(event.KindUsage, OTelSessionID, "msg_twin", "req_twin"), Kind: event.KindUsage,
		SessionID: OTelSessionID, Time: t0.Add(2 * time.Second), Tier: event.TierDetails, PromptID: "p1", User: FixtureUser,
		Usage: &event.Usage{MessageID: "msg_twin", RequestID: "req_twin", Model: "claude-opus-5-5", InputTokens: 2000, OutputTokens: 200}}
	bash := mk(event.KindToolResult, 3*time.Second, event.OTel{Name: "tool_result", Success: &ok, DurationMS: 80,
		Parameters: map[string]any{"bash_command": "git commit -m x"}, CommitSHA: "0123456789abcdef0123456789abcdef01234567",
		Branch: "main"}, "toolu_bash")
	bash.ToolUseID, bash.ToolName = "toolu_bash", "Bash"
	reject := mk(event.KindToolDecision, 4*time.Second, event.OTel{Name: "tool_decision", Decision: "reject",
		Source: "user_reject"}, "toolu_write")
	reject.ToolUseID, reject.ToolName = "toolu_write", "Write"
	apiErr := mk(event.KindAPIError, 5*time.Second, event.OTel{Name: "api_error", Model: "claude-opus-5-5",
		StatusCode: 529, Attempt: 1, Error: "overloaded"}, "err1")
	active := mk(event.KindMetric, 6*time.Second, event.OTel{Name: "active_time.total", Attrs: map[string]string{"type": "user"},
		Metric: &event.MetricPoint{Value: 2.5, Unit: "s", Start: t0, Series: "type=user"}}, "active")
	active.PromptID = ""
	sub := mk(event.KindSubagentCompleted, 7*time.Second, event.OTel{Name: "subagent_completed", Model: "claude-opus-5-5",
		DurationMS: 1500, Attrs: map[string]string{"agent_type": "general-purpose", "total_tokens": "4200", "total_tool_uses": "2"}},
		"agent-1")
	sub.AgentID = "agent-1"
	return []event.Event{prompt, solo, twin, transcript, bash, reject, apiErr, active, sub}
}
