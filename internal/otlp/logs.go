package otlp

import (
	"encoding/json"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/agent-trace/agent-trace/event"
)

// Logs converts every log record (one Claude Code event each) of ld.
func (c Converter) Logs(ld plog.Logs) Result {
	var r Result
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				c.logRecord(&r, newAttrs(rl.Resource().Attributes(), lr.Attributes()), lr)
			}
		}
	}
	return r
}

// logKinds maps an event name to its kind; the rest are KindOTelEvent.
var logKinds = map[string]string{
	"api_request":           event.KindAPIRequest,
	"api_error":             event.KindAPIError,
	"api_retries_exhausted": event.KindAPIError,
	"user_prompt":           event.KindUserPrompt,
	"assistant_response":    event.KindAssistantResponse,
	"tool_decision":         event.KindToolDecision,
	"tool_result":           event.KindToolResult,
	"subagent_completed":    event.KindSubagentCompleted,
}

func (c Converter) logRecord(r *Result, a *attrs, lr plog.LogRecord) {
	name := shortName(a.str("event.name"))
	if name == "" {
		name = shortName(lr.EventName())
	}
	if name == "" && lr.Body().Type() == pcommon.ValueTypeStr { // "claude_code.<event>"
		name = shortName(lr.Body().Str())
	}
	t := timeOf(lr.Timestamp(), lr.ObservedTimestamp())
	if name == "" {
		r.reject("log record without an event name")
		return
	}
	if t.IsZero() {
		r.reject("log record " + name + " without a time")
		return
	}
	kind := logKinds[name]
	if kind == "" {
		kind = event.KindOTelEvent
	}
	e := c.base(a, kind, name, t)
	if e.SessionID == "" {
		r.reject("log record " + name + " without session.id")
		return
	}
	key := c.fillLog(&e, a)
	if key == "" {
		key = digest(name, t, a.m, lr.Body().AsString())
	}
	e.ID = event.OTelID(kind, e.SessionID, key)
	e.OTel.Attrs = a.rest()
	c.add(r, a, e)
}

// fillLog sets the kind's fields and returns its natural key, or "" when it has none.
func (c Converter) fillLog(e *event.Event, a *attrs) string {
	o := e.OTel
	o.RequestID = a.str("request_id")
	o.Model = a.str("model")
	o.QuerySource = a.str("query_source")
	o.DurationMS = a.int("duration_ms")
	switch e.Kind {
	case event.KindAPIRequest:
		fillAPIRequest(e, a)
		return o.RequestID
	case event.KindAPIError:
		o.Error = a.str("error")
		o.StatusCode = a.int("status_code")
		o.Attempt = a.int("attempt", "total_attempts")
		if o.DurationMS == 0 {
			o.DurationMS = a.int("total_retry_duration_ms")
		}
	case event.KindUserPrompt:
		o.Length = a.int("prompt_length")
		o.Text = text(a.str("prompt", "prompt_text"))
		return e.PromptID
	case event.KindAssistantResponse:
		o.Length = a.int("response_length")
		o.Text = text(a.str("response"))
	case event.KindToolDecision:
		o.Decision = a.str("decision")
		o.Source = a.str("source")
		o.Parameters = parameters(a)
		return e.ToolUseID
	case event.KindToolResult:
		o.Success = a.bool("success")
		o.Error = a.str("error")
		o.Parameters = parameters(a)
		o.CommitSHA = a.str("vcs.ref.head.revision")
		o.Branch = a.str("vcs.ref.head.name")
		return e.ToolUseID
	case event.KindSubagentCompleted:
		return e.AgentID
	}
	return ""
}

func fillAPIRequest(e *event.Event, a *attrs) {
	o := e.OTel
	o.CostUSD = a.float("cost_usd")
	o.TTFTMS = a.int("ttft_ms")
	u := &event.Usage{
		RequestID:             o.RequestID,
		Model:                 o.Model,
		Speed:                 a.str("speed"),
		InputTokens:           a.int("input_tokens"),
		OutputTokens:          a.int("output_tokens"),
		CacheReadInputTokens:  a.int("cache_read_tokens"),
		CacheCreation5mTokens: a.int("cache_creation_5m_tokens"),
		CacheCreation1hTokens: a.int("cache_creation_1h_tokens"),
	}
	u.CacheCreationInputTokens = a.int("cache_creation_tokens")
	if u.CacheCreationInputTokens == 0 {
		u.CacheCreationInputTokens = u.CacheCreation5mTokens + u.CacheCreation1hTokens
	}
	a.str("cost_usd_micros") // the same estimate as cost_usd
	e.Usage = u
}

// text is a prompt's or response's text, or "" when Claude Code withheld it.
func text(s string) string {
	if s == "<REDACTED>" {
		return ""
	}
	return s
}

// parameters merges tool_input (the tool's whole input) and tool_parameters (Claude
// Code's summary of it, with git_commit_id and the like), both JSON objects as text. A
// value that is not an object is kept as text under its attribute's name.
func parameters(a *attrs) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"tool_input", "tool_parameters"} {
		s := strings.TrimSpace(a.str(k))
		if s == "" {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			out[k] = s
			continue
		}
		for mk, v := range m {
			out[mk] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
