package event

import "time"

// Kinds of event that Claude Code's own telemetry (OpenTelemetry, received over OTLP by
// the server) becomes. Hooks never produce them. Each is one log record, one metric data
// point or one span, after the server's privacy tier and redaction; its ID is derived
// from what it is (see OTelID), so a batch the exporter sends again is stored once.
//
// The log events that say something the projection uses have kinds of their own; every
// other log event (hook_execution_start, compaction, …) is KindOTelEvent with its name.
const (
	KindAPIRequest        = "api_request"        // one API request: model, tokens (in Usage), cost, duration, ttft
	KindAPIError          = "api_error"          // a failed API request attempt, or retries exhausted (OTel.Name)
	KindUserPrompt        = "user_prompt"        // a prompt: its length, and its text at tier 2 when Claude Code sent it
	KindAssistantResponse = "assistant_response" // a response's length, and its text at tier 3
	KindToolDecision      = "tool_decision"      // accept or reject of one tool call, and who decided
	KindToolResult        = "tool_result"        // one tool call's outcome: success, duration, error, parameters
	KindSubagentCompleted = "subagent_completed" // a subagent's totals when it ends
	KindOTelEvent         = "otel_event"         // any other log event, kept with its attributes
	KindMetric            = "metric"             // one metric data point
	KindSpan              = "span"               // one span of the (beta) trace
)

// OTel is what one record of Claude Code's telemetry says beyond the Event's own fields
// (SessionID, PromptID, ToolUseID, ToolName, AgentID, Usage for api_request's tokens).
//
// Numbers Claude Code sends as strings ("29", "true") are parsed leniently by the
// receiver; a field absent from the record is zero here.
type OTel struct {
	// Name is the record's name without the "claude_code." prefix: "api_request",
	// "api_retries_exhausted", "token.usage", "llm_request".
	Name string `json:"name"`

	RequestID   string  `json:"request_id,omitempty"`   // the API request (= the transcript's requestId)
	Model       string  `json:"model,omitempty"`        //
	QuerySource string  `json:"query_source,omitempty"` // main, subagent, auxiliary; sdk, agent:builtin:…
	CostUSD     float64 `json:"cost_usd,omitempty"`     // Claude Code's own estimate, for api_request
	DurationMS  int64   `json:"duration_ms,omitempty"`  //
	TTFTMS      int64   `json:"ttft_ms,omitempty"`      // time to first token, for api_request
	Attempt     int64   `json:"attempt,omitempty"`      // api_error: the attempt; retries exhausted: the total
	StatusCode  int64   `json:"status_code,omitempty"`  // api_error's HTTP status
	Error       string  `json:"error,omitempty"`        // api_error, failed tool_result (redacted)
	Success     *bool   `json:"success,omitempty"`      // tool_result, span
	Decision    string  `json:"decision,omitempty"`     // tool_decision: accept, reject
	Source      string  `json:"source,omitempty"`       // tool_decision: config, user_temporary, hook, …
	Length      int64   `json:"length,omitempty"`       // user_prompt, assistant_response: characters
	Text        string  `json:"text,omitempty"`         // prompt (tier 2) or response (tier 3) text, redacted

	// Parameters is tool_result's or tool_decision's tool_parameters and tool_input,
	// merged, as JSON: tier 2 and above, redacted.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Commit is what a tool_result of a `git commit` says of it: the new HEAD SHA and
	// the branch (vcs.ref.head.revision, vcs.ref.head.name).
	CommitSHA string `json:"commit_sha,omitempty"`
	Branch    string `json:"branch,omitempty"`

	Metric *MetricPoint `json:"metric,omitempty"` // KindMetric
	Span   *Span        `json:"span,omitempty"`   // KindSpan

	// Attrs holds the record's other attributes as text (resource attributes such as
	// OTEL_RESOURCE_ATTRIBUTES' team=…, and the event's own), after the tier and
	// redaction. The common ones every record repeats (session.id, user.id, …) are not
	// kept here.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// MetricPoint is one data point of a Sum (Claude Code exports only monotonic Sums).
type MetricPoint struct {
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	// Start is the point's start time: a delta point covers Start to the Event's Time;
	// cumulative points of one series share the Start of the series.
	Start time.Time `json:"start"`
	// Cumulative is true when the exporter sent cumulative temporality: the projection
	// then differences consecutive points of one series (same name, attributes and
	// Start) instead of adding them.
	Cumulative bool `json:"cumulative,omitempty"`
	// Series identifies the point's series: its attributes as text, sorted ("type=input,model=…").
	Series string `json:"series,omitempty"`
}

// Span is one span of Claude Code's beta trace (interaction → llm_request / tool →
// tool.execution). The Event's Time is the span's end.
type Span struct {
	TraceID  string    `json:"trace_id"`
	SpanID   string    `json:"span_id"`
	ParentID string    `json:"parent_id,omitempty"`
	Start    time.Time `json:"start"`
	Status   string    `json:"status,omitempty"` // "error" when the span's status says so
	Message  string    `json:"message,omitempty"`
}

// IsOTel reports whether kind is one of the kinds Claude Code's telemetry becomes.
func IsOTel(kind string) bool {
	switch kind {
	case KindAPIRequest, KindAPIError, KindUserPrompt, KindAssistantResponse, KindToolDecision,
		KindToolResult, KindSubagentCompleted, KindOTelEvent, KindMetric, KindSpan:
		return true
	}
	return false
}

// OTelID derives a telemetry event's ID from its natural key: the request ID for an
// api_request, the tool use for tool_decision and tool_result, the prompt for
// user_prompt, the agent for subagent_completed; everything else passes a digest of the
// record's content (its name, time, attributes and value), so the same record sent
// twice is stored once and two records never share an ID.
func OTelID(kind, sessionID string, key ...string) string {
	return ID(append([]string{"otel", kind, sessionID}, key...)...)
}
