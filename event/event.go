// Package event is the wire format shared by agent-trace-hook and agent-trace-server.
//
// It is deliberately tiny and imports nothing outside the standard library, because the
// hook binary links it and must stay fast to start. Every fact the hook captures or the
// deliverer derives (a hook payload, one API response's token usage, a commit, a pull
// request) travels as one Event inside a Batch.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Kinds of event. A receiver keeps events of a kind it does not know (newer hooks may
// send them) and ignores them in its projections.
const (
	KindHook        = "hook"         // one Claude Code hook payload, tiered and redacted
	KindUsage       = "usage"        // one API response read from the transcript
	KindCostState   = "cost_state"   // Claude Code's own running totals from the transcript
	KindCommit      = "commit"       // a commit a Bash tool call produced
	KindBranch      = "branch"       // a branch created or switched to
	KindPullRequest = "pull_request" // a forge URL for a PR/MR found in tool output
)

// Privacy tiers. The hook applies the tier before anything touches disk; the server may
// lower it further but never raises it.
const (
	TierMetadata = 1 // ids, timestamps, names, status, durations, tokens, cost, git SHAs
	TierDetails  = 2 // + prompts, tool inputs, diffs, commit messages, PR URLs
	TierFull     = 3 // + tool outputs and model responses
)

// MaxBatchEvents is the largest batch a collector must accept in one request.
const MaxBatchEvents = 1000

// Batch is the body of POST /v1/hooks.
type Batch struct {
	Events []Event `json:"events"`
}

// Event is one captured or derived fact about a Claude Code session.
//
// ID is stable: it is derived from what the event is, never from when it was sent, so the
// same fact captured twice, re-sent after a failed delivery or imported later from the
// transcript has the same ID and the server stores it once.
type Event struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	SessionID string    `json:"session_id"`
	Time      time.Time `json:"time"` // when it happened: capture time for hooks, transcript time for usage
	Tier      int       `json:"tier"`

	// Correlation keys copied out of the payload so receivers need not parse it.
	HookEvent string `json:"hook_event,omitempty"` // hook_event_name, for KindHook
	PromptID  string `json:"prompt_id,omitempty"`
	ToolUseID string `json:"tool_use_id,omitempty"`
	ToolName  string `json:"tool_name,omitempty"`
	AgentID   string `json:"agent_id,omitempty"` // set inside a subagent
	// PromptOrigin marks a UserPromptSubmit nobody typed (PromptOrigin in prompt.go).
	PromptOrigin string `json:"prompt_origin,omitempty"`

	// Who and where, from the hook's config (set at init).
	User string `json:"user,omitempty"`
	Host string `json:"host,omitempty"`

	// Payload is the hook's stdin JSON after the privacy tier and secret redaction.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Redactions counts replaced secrets per rule name; the values are never kept.
	Redactions map[string]int `json:"redactions,omitempty"`

	// LinesAdded and LinesRemoved count an edit's diff lines at capture time, so tier 1
	// keeps line counts even though it drops the diff itself.
	LinesAdded   int `json:"lines_added,omitempty"`
	LinesRemoved int `json:"lines_removed,omitempty"`

	Git         *GitState    `json:"git,omitempty"` // HEAD as seen at capture time
	Usage       *Usage       `json:"usage,omitempty"`
	CostState   *CostState   `json:"cost_state,omitempty"`
	Commit      *Commit      `json:"commit,omitempty"`
	Branch      *Branch      `json:"branch,omitempty"`
	PullRequest *PullRequest `json:"pull_request,omitempty"`
	OTel        *OTel        `json:"otel,omitempty"` // the OTel kinds (otel.go)
}

// GitState is the repository state the hook saw when it captured an event.
type GitState struct {
	Root   string `json:"root,omitempty"`
	Remote string `json:"remote,omitempty"` // normalised: github.com/owner/repo, no credentials
	Branch string `json:"branch,omitempty"`
	Head   string `json:"head,omitempty"` // full SHA
}

// Usage is the token usage of one API response (one message.id + requestId), counted once.
type Usage struct {
	MessageID  string `json:"message_id"`
	RequestID  string `json:"request_id,omitempty"`
	Model      string `json:"model"`
	StopReason string `json:"stop_reason,omitempty"`
	Speed      string `json:"speed,omitempty"`
	Sidechain  bool   `json:"sidechain,omitempty"`

	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"` // 5m + 1h when the split is known
	CacheCreation5mTokens    int64 `json:"cache_creation_5m_input_tokens"`
	CacheCreation1hTokens    int64 `json:"cache_creation_1h_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	WebSearchRequests        int64 `json:"web_search_requests,omitempty"`

	ToolUseIDs []string `json:"tool_use_ids,omitempty"` // tool calls this response requested
	Text       string   `json:"text,omitempty"`         // assistant text; tier 3 only
}

// CacheWrites is the response's cache-write tokens: the 5m + 1h split when it is known
// (Claude Code has reported writes only through the split), else the plain total.
func (u *Usage) CacheWrites() int64 {
	if split := u.CacheCreation5mTokens + u.CacheCreation1hTokens; split > u.CacheCreationInputTokens {
		return split
	}
	return u.CacheCreationInputTokens
}

// Total is every token of the response; of two readings of one API response, the one
// with the larger Total is the final one.
func (u *Usage) Total() int64 {
	return u.InputTokens + u.OutputTokens + u.CacheWrites() + u.CacheReadInputTokens
}

// CostState is Claude Code's own running totals (the transcript's cost-state line).
type CostState struct {
	TotalCostUSD float64               `json:"total_cost_usd"`
	LinesAdded   int64                 `json:"lines_added"`
	LinesRemoved int64                 `json:"lines_removed"`
	ModelUsage   map[string]ModelUsage `json:"model_usage,omitempty"`
}

// ModelUsage is one model's totals inside a CostState.
type ModelUsage struct {
	InputTokens              int64   `json:"input_tokens"`
	OutputTokens             int64   `json:"output_tokens"`
	CacheCreationInputTokens int64   `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64   `json:"cache_read_input_tokens"`
	CostUSD                  float64 `json:"cost_usd"`

	// The split of cache writes by lifetime and the web searches, when Claude Code reports them.
	CacheCreation5mTokens int64 `json:"cache_creation_5m_input_tokens,omitempty"`
	CacheCreation1hTokens int64 `json:"cache_creation_1h_input_tokens,omitempty"`
	WebSearchRequests     int64 `json:"web_search_requests,omitempty"`
}

// Commit is a commit that a successful Bash tool call produced (HEAD moved).
type Commit struct {
	SHA          string    `json:"sha"`
	Message      string    `json:"message,omitempty"` // tier 2 and above
	Branch       string    `json:"branch,omitempty"`
	Repo         string    `json:"repo,omitempty"`
	CommittedAt  time.Time `json:"committed_at"`
	Files        []string  `json:"files,omitempty"` // tier 2 and above
	FilesChanged int       `json:"files_changed"`
	LinesAdded   int       `json:"lines_added"`
	LinesRemoved int       `json:"lines_removed"`
}

// Branch records a branch being created or checked out.
type Branch struct {
	Name   string `json:"name"`
	From   string `json:"from,omitempty"`
	Action string `json:"action"` // "created" or "switched"
}

// PullRequest is a forge URL for a pull or merge request seen in tool output.
type PullRequest struct {
	URL    string `json:"url,omitempty"` // tier 2 and above
	Forge  string `json:"forge"`         // github, gitlab, bitbucket
	Owner  string `json:"owner"`
	Repo   string `json:"repo"`
	Number int    `json:"number"`
}

// ID derives a stable event ID from the parts that say what an event is.
//
// Hook events use NewHookID; derived events pass their natural keys, e.g.
// ID(KindUsage, session, messageID, requestID) or ID(KindCommit, session, sha).
func ID(parts ...string) string {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return "evt_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// HookID derives a hook event's ID.
//
// Events with a natural key (a tool call's tool_use_id, a prompt's prompt_id, a
// subagent's agent_id) use it, so a transcript import that rebuilds them produces the same
// ID; the rest hash the raw payload, so the same stdin captured twice is stored once.
func HookID(sessionID, hookEvent, toolUseID, promptID, agentID string, raw []byte) string {
	switch {
	case toolUseID != "":
		return ID(KindHook, sessionID, hookEvent, toolUseID)
	case hookEvent == "UserPromptSubmit" && promptID != "":
		return ID(KindHook, sessionID, hookEvent, promptID)
	case (hookEvent == "SubagentStart" || hookEvent == "SubagentStop") && agentID != "":
		return ID(KindHook, sessionID, hookEvent, agentID)
	}
	sum := sha256.Sum256(raw)
	return ID(KindHook, sessionID, hookEvent, hex.EncodeToString(sum[:]))
}

// Validate reports the first problem that makes an event unusable, or nil.
// Receivers reject such events permanently: sending them again cannot help.
func (e *Event) Validate() error {
	switch {
	case e.ID == "":
		return fieldError("id", "is required")
	case len(e.ID) > 128:
		return fieldError("id", "is longer than 128 characters")
	case e.Kind == "":
		return fieldError("kind", "is required")
	case e.SessionID == "":
		return fieldError("session_id", "is required")
	case len(e.SessionID) > 128:
		return fieldError("session_id", "is longer than 128 characters")
	case e.Time.IsZero():
		return fieldError("time", "is required")
	case e.Tier < TierMetadata || e.Tier > TierFull:
		return fieldError("tier", "must be 1, 2 or 3")
	case e.Kind == KindHook && e.HookEvent == "":
		return fieldError("hook_event", "is required on hook events")
	case e.Kind == KindUsage && e.Usage == nil:
		return fieldError("usage", "is required on usage events")
	case e.Kind == KindCommit && (e.Commit == nil || e.Commit.SHA == ""):
		return fieldError("commit.sha", "is required on commit events")
	case e.Kind == KindPullRequest && e.PullRequest == nil:
		return fieldError("pull_request", "is required on pull_request events")
	case e.Kind == KindBranch && (e.Branch == nil || e.Branch.Name == ""):
		return fieldError("branch.name", "is required on branch events")
	case e.Kind == KindCostState && e.CostState == nil:
		return fieldError("cost_state", "is required on cost_state events")
	case IsOTel(e.Kind) && (e.OTel == nil || e.OTel.Name == ""):
		return fieldError("otel.name", "is required on "+e.Kind+" events")
	case e.Kind == KindMetric && e.OTel.Metric == nil:
		return fieldError("otel.metric", "is required on metric events")
	case e.Kind == KindSpan && (e.OTel.Span == nil || e.OTel.Span.SpanID == ""):
		return fieldError("otel.span.span_id", "is required on span events")
	}
	if len(e.Payload) > 0 && !json.Valid(e.Payload) {
		return fieldError("payload", "is not valid JSON")
	}
	return e.checkRanges(time.Now())
}

// Ranges every numeric field must fall in. They are far above anything real (a response
// of ten billion tokens, a million dollars) and keep every sum the server makes over
// millions of events inside int64, so no stored value can make an aggregate fail.
const (
	MaxTokens     = 10_000_000_000     // per response, per kind
	MaxTotal      = 1_000_000_000_000  // cumulative counts (a cost-state's per-model tokens)
	MaxCostUSD    = 1_000_000          // exclusive
	MaxCount      = 1_000_000_000      // lines, files, PR numbers, web searches
	maxClockAhead = 7 * 24 * time.Hour // how far after the server's clock an event may be
)

// EarliestTime is the earliest time an event may carry.
var EarliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// checkRanges rejects numbers no real event has: negative counts, token counts that
// would overflow a sum, costs that are not finite, times far from now.
func (e *Event) checkRanges(now time.Time) error {
	if e.Time.Before(EarliestTime) || e.Time.After(now.Add(maxClockAhead)) {
		return fieldError("time", "is outside "+EarliestTime.Format("2006")+" to a week from now")
	}
	checks := e.numbers()
	for _, c := range checks {
		if c.v < 0 || c.v > c.max {
			return fieldError(c.field, fmt.Sprintf("must be between 0 and %d", c.max))
		}
	}
	if o := e.OTel; o != nil {
		if err := checkCost("otel.cost_usd", o.CostUSD); err != nil {
			return err
		}
		if m := o.Metric; m != nil && (math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || math.Abs(m.Value) >= MaxTotal) {
			return fieldError("otel.metric.value", fmt.Sprintf("must be finite and under %d", int64(MaxTotal)))
		}
	}
	if cs := e.CostState; cs != nil {
		if err := checkCost("cost_state.total_cost_usd", cs.TotalCostUSD); err != nil {
			return err
		}
		for model, mu := range cs.ModelUsage {
			if err := checkCost("cost_state.model_usage."+model+".cost_usd", mu.CostUSD); err != nil {
				return err
			}
		}
	}
	return nil
}

type number struct {
	field  string
	v, max int64
}

// numbers lists the event's integer fields with their bounds.
func (e *Event) numbers() []number {
	out := []number{{"lines_added", int64(e.LinesAdded), MaxCount}, {"lines_removed", int64(e.LinesRemoved), MaxCount}}
	if u := e.Usage; u != nil {
		out = append(out, number{"usage.input_tokens", u.InputTokens, MaxTokens},
			number{"usage.output_tokens", u.OutputTokens, MaxTokens},
			number{"usage.cache_creation_input_tokens", u.CacheCreationInputTokens, MaxTokens},
			number{"usage.cache_creation_5m_input_tokens", u.CacheCreation5mTokens, MaxTokens},
			number{"usage.cache_creation_1h_input_tokens", u.CacheCreation1hTokens, MaxTokens},
			number{"usage.cache_read_input_tokens", u.CacheReadInputTokens, MaxTokens},
			number{"usage.web_search_requests", u.WebSearchRequests, MaxCount})
	}
	if c := e.Commit; c != nil {
		out = append(out, number{"commit.files_changed", int64(c.FilesChanged), MaxCount},
			number{"commit.lines_added", int64(c.LinesAdded), MaxCount},
			number{"commit.lines_removed", int64(c.LinesRemoved), MaxCount})
	}
	if p := e.PullRequest; p != nil {
		out = append(out, number{"pull_request.number", int64(p.Number), MaxCount})
	}
	if o := e.OTel; o != nil {
		out = append(out, number{"otel.duration_ms", o.DurationMS, MaxTotal},
			number{"otel.ttft_ms", o.TTFTMS, MaxTotal},
			number{"otel.attempt", o.Attempt, MaxCount},
			number{"otel.status_code", o.StatusCode, 999},
			number{"otel.length", o.Length, MaxTotal})
	}
	if cs := e.CostState; cs != nil {
		out = append(out, number{"cost_state.lines_added", cs.LinesAdded, MaxCount},
			number{"cost_state.lines_removed", cs.LinesRemoved, MaxCount})
		for model, mu := range cs.ModelUsage {
			f := "cost_state.model_usage." + model + "."
			out = append(out, number{f + "input_tokens", mu.InputTokens, MaxTotal},
				number{f + "output_tokens", mu.OutputTokens, MaxTotal},
				number{f + "cache_creation_input_tokens", mu.CacheCreationInputTokens, MaxTotal},
				number{f + "cache_read_input_tokens", mu.CacheReadInputTokens, MaxTotal},
				number{f + "cache_creation_5m_input_tokens", mu.CacheCreation5mTokens, MaxTotal},
				number{f + "cache_creation_1h_input_tokens", mu.CacheCreation1hTokens, MaxTotal},
				number{f + "web_search_requests", mu.WebSearchRequests, MaxCount})
		}
	}
	return out
}

func checkCost(field string, v float64) error {
	if math.IsNaN(v) || v < 0 || v >= MaxCostUSD {
		return fieldError(field, fmt.Sprintf("must be at least 0 and under %d", MaxCostUSD))
	}
	return nil
}

// FieldError says which field of an event is wrong.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + " " + e.Problem }

func fieldError(field, problem string) error { return &FieldError{Field: field, Problem: problem} }

// IsToolEvent reports whether a hook event concerns one tool call.
func IsToolEvent(hookEvent string) bool {
	switch hookEvent {
	case "PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest", "PermissionDenied":
		return true
	}
	return strings.HasPrefix(hookEvent, "PostToolUse")
}
