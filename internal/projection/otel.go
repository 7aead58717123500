package projection

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/gitinfo/forge"
)

// otelFold is what Claude Code's own telemetry (the OTel kinds) adds to a session. It
// joins the hooks' and transcripts' facts on prompt.id, tool_use_id and request_id, so
// one session reported by both is one session, and an API request reported by both is
// counted once: the transcript's reading wins, OTel's api_request adds its cost,
// duration and time to first token.
type otelFold struct {
	// claimed maps a request ID to the transcript usage keys that read it: such a
	// request is counted from the transcript, never from its api_request.
	claimed   map[string]map[string]bool
	requests  map[string]*event.Event // requestKey → the api_request kept (betterUsage)
	errors    map[string]*event.Event // api_error event ID → the event
	subagents map[string]*pick[agenttrace.Subagent]
	metrics   map[string]*event.Event // metric event ID → the point, for the metrics summed
	commits   map[string]*pick[agenttrace.Commit]
}

func newOTelFold() otelFold {
	return otelFold{claimed: map[string]map[string]bool{}, requests: map[string]*event.Event{},
		errors: map[string]*event.Event{}, subagents: map[string]*pick[agenttrace.Subagent]{},
		metrics: map[string]*event.Event{}, commits: map[string]*pick[agenttrace.Commit]{}}
}

// The metrics the session's summary sums; every other point is kept as an event only.
const (
	metricActiveTime = "active_time.total"
	metricPRCount    = "pull_request.count"
)

// redactedPrompt is what Claude Code sends for a prompt's text without
// OTEL_LOG_USER_PROMPTS: no text, not a prompt that says so.
const redactedPrompt = "<REDACTED>"

// requestKey names the API request an api_request reports: its request ID, else (an
// auxiliary request without one) the event itself.
func requestKey(e *event.Event) string {
	if e.OTel != nil && e.OTel.RequestID != "" {
		return e.OTel.RequestID
	}
	if e.Usage != nil && e.Usage.RequestID != "" {
		return e.Usage.RequestID
	}
	return "\x02" + e.ID
}

// otelUsageKey is the usage key (fold.usage) of a request counted from its api_request.
func otelUsageKey(rk string) string { return "\x03" + rk }

// claimRequest notes that the transcript usage under key reads request rid. A request an
// api_request counted until now leaves the usage rows (the view takes its row out).
func (f *fold) claimRequest(rid, key string) {
	if rid == "" {
		return
	}
	if f.otel.claimed[rid] == nil {
		f.otel.claimed[rid] = map[string]bool{}
	}
	f.otel.claimed[rid][key] = true
	if _, ok := f.usage[otelUsageKey(rid)]; ok {
		delete(f.usage, otelUsageKey(rid))
		delete(f.changed.usage, otelUsageKey(rid))
		f.changed.usageGone[otelUsageKey(rid)] = true
	}
}

// otelPrompt notes an OTel event under its prompt (prompt.id), as a hook event is.
func (f *fold) otelPrompt(e *event.Event) *promptAcc {
	if e.PromptID == "" {
		return nil
	}
	return f.prompt(e.PromptID, e.Time)
}

func (f *fold) onAPIRequest(e *event.Event) {
	if e.OTel == nil {
		return
	}
	f.otelPrompt(e) // every copy, winning or not, as a hook event does
	c := *e
	u := event.Usage{}
	if e.Usage != nil {
		u = *e.Usage
	}
	u.RequestID = firstNonEmpty(u.RequestID, e.OTel.RequestID)
	u.Model = firstNonEmpty(u.Model, e.OTel.Model)
	c.Usage = &u
	rk := requestKey(&c)
	if old, ok := f.otel.requests[rk]; ok && !betterUsage(&c, old) {
		return
	}
	f.otel.requests[rk] = &c
	f.changed.otelSums = true
	if keys := f.otel.claimed[rk]; len(keys) > 0 {
		for k := range keys { // the transcript's rows gain OTel's details
			f.changed.usage[k] = true
		}
		return
	}
	f.usage[otelUsageKey(rk)] = &c
	f.changed.usage[otelUsageKey(rk)] = true
}

func (f *fold) onAPIError(e *event.Event) {
	if e.OTel == nil {
		return
	}
	c := *e
	f.otel.errors[e.ID] = &c
	f.changed.errors[e.ID] = true
	f.changed.otelSums = true
	f.otelPrompt(e)
}

// isAttemptError reports whether an api_error is one failed attempt, not the summary
// that retries ran out (api_retries_exhausted), which would count a failure twice.
func isAttemptError(e *event.Event) bool { return e.OTel.Name != "api_retries_exhausted" }

func (f *fold) onUserPrompt(e *event.Event) {
	pa := f.otelPrompt(e)
	if pa == nil || e.OTel == nil {
		return
	}
	text := ""
	if e.Tier >= event.TierDetails && e.OTel.Text != redactedPrompt {
		text = e.OTel.Text
	}
	pa.otelSubmit.earliest(orderOf(e), text)
}

func (f *fold) onAssistantResponse(e *event.Event) {
	pa := f.otelPrompt(e)
	if pa == nil || e.OTel == nil || e.Tier < event.TierFull {
		return
	}
	pa.otelResponse.latest(orderOf(e), e.OTel.Text)
}

func (f *fold) onSubagentCompleted(e *event.Event) {
	if e.OTel == nil || e.AgentID == "" {
		return
	}
	a := e.OTel.Attrs
	s := agenttrace.Subagent{AgentID: e.AgentID, Type: a["agent_type"], Model: firstNonEmpty(a["final_model"], e.OTel.Model),
		TotalTokens: atoi(a["total_tokens"]), ToolUses: atoi(a["total_tool_uses"]), DurationMS: e.OTel.DurationMS}
	p := f.otel.subagents[e.AgentID]
	if p == nil {
		p = &pick[agenttrace.Subagent]{}
		f.otel.subagents[e.AgentID] = p
	}
	p.latest(orderOf(e), s)
	f.changed.otelSums = true
}

func (f *fold) onMetric(e *event.Event) {
	if e.OTel == nil || e.OTel.Metric == nil || (e.OTel.Name != metricActiveTime && e.OTel.Name != metricPRCount) {
		return
	}
	c := *e
	f.otel.metrics[e.ID] = &c
	f.changed.otelSums = true
}

func (f *fold) onToolDecision(e *event.Event) {
	ca := f.otelCall(e)
	if ca == nil {
		return
	}
	ca.decision.latest(orderOf(e), [2]string{e.OTel.Decision, e.OTel.Source})
}

// onToolResult closes a call as OTel saw it (hooks' PostToolUse wins where both are),
// and records the commit a `git commit` made and the PR URLs its parameters name.
func (f *fold) onToolResult(e *event.Event) {
	ca := f.otelCall(e)
	if ca == nil {
		return
	}
	c := closing{status: agenttrace.ToolOK, durationMS: max(e.OTel.DurationMS, 0)}
	if e.OTel.Success != nil && !*e.OTel.Success {
		c.status = agenttrace.ToolError
		if e.Tier >= event.TierDetails {
			c.err = e.OTel.Error
		}
	}
	ca.otelClosed.latest(orderOf(e), c)
	if e.OTel.CommitSHA != "" {
		f.onOTelCommit(e)
	}
	if e.Tier >= event.TierDetails {
		for _, p := range forge.Find(paramText(e.OTel.Parameters)) {
			pe := *e
			pe.PullRequest = &p
			f.onPullRequest(&pe)
		}
	}
}

// otelCall folds what every OTel event of a tool call says: name, subagent, prompt, and
// its input at tier 2 and above.
func (f *fold) otelCall(e *event.Event) *callAcc {
	if e.OTel == nil || e.ToolUseID == "" {
		return nil
	}
	at := orderOf(e)
	f.otelPrompt(e)
	ca := f.call(e.ToolUseID, at)
	if e.ToolName != "" {
		ca.name.latest(at, e.ToolName)
	}
	if e.AgentID != "" {
		ca.agentID.latest(at, e.AgentID)
	}
	if e.PromptID != "" {
		ca.promptID.earliest(at, e.PromptID)
	}
	if in := paramsInput(e.OTel.Parameters); e.Tier >= event.TierDetails && in != (toolInput{}) {
		ca.input.earliest(at, in)
	}
	return ca
}

// onOTelCommit keeps a commit a tool_result reports (its SHA and branch). The deliverer's
// commit event for the same SHA, which knows the message and files, wins (gitOutcomes).
func (f *fold) onOTelCommit(e *event.Event) {
	sha := e.OTel.CommitSHA
	cm := agenttrace.Commit{SHA: sha, SessionID: e.SessionID, PromptID: e.PromptID, ToolUseID: e.ToolUseID,
		Branch: e.OTel.Branch, CommittedAt: e.Time, User: e.User}
	if e.Git != nil {
		cm.Repo = e.Git.Remote
	}
	p := f.otel.commits[sha]
	if p == nil {
		p = &pick[agenttrace.Commit]{}
		f.otel.commits[sha] = p
	}
	p.earliest(orderOf(e), cm)
	f.noteBranch(e.OTel.Branch, branchAt{at: orderOf(e), seq: 1})
	f.changed.gitKeys[commitKey(sha)] = true
}

// paramsInput is the input summary OTel's tool_parameters give (Bash: bash_command,
// full_command, description; file tools: file_path).
func paramsInput(p map[string]any) toolInput {
	s := func(k string) string {
		v, _ := p[k].(string)
		return v
	}
	return toolInput{Command: firstNonEmpty(s("full_command"), s("bash_command"), s("command")),
		FilePath: firstNonEmpty(s("file_path"), s("notebook_path"), s("path")), Pattern: s("pattern"),
		Description: s("description")}
}

// paramText is every string among a tool's parameters, in key order, for finding URLs.
func paramText(p map[string]any) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintln(&b, p[k])
	}
	return b.String()
}

func atoi(s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		return 0
	}
	return n
}

// commitPicks are the session's commits: the deliverer's commit events, and the commits
// only OTel's tool_result reported.
func (f *fold) commitPicks() []*pick[agenttrace.Commit] {
	out := make([]*pick[agenttrace.Commit], 0, len(f.commits)+len(f.otel.commits))
	for _, p := range f.commits {
		out = append(out, p)
	}
	for sha, p := range f.otel.commits {
		if _, ok := f.commits[sha]; !ok {
			out = append(out, p)
		}
	}
	return out
}
