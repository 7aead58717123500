package projection

import (
	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// callAcc is what the hook events of one tool_use_id say about it. Each field is one
// rule of the old in-order fold, restated as a pick by canonical place.
type callAcc struct {
	id       string
	seen     order        // its earliest event: its place among calls, its start without a PreToolUse
	pre      pick[bool]   // the earliest PreToolUse: its start
	name     pick[string] // the latest name
	agentID  pick[string] // the latest subagent that made it
	promptID pick[string] // the first prompt ID
	// The input is the same on every event of a call: the latest PreToolUse's, or without
	// one the first other event's (tier 2 and above).
	preInput, input pick[toolInput]
	lines           pick[[2]int]  // the latest counts a hook reported (added, removed)
	closed          pick[closing] // the latest closing event decides the status
	diff            pick[[]agenttrace.DiffHunk]
	output          pick[string]
	spawn           pick[string] // the agentId the latest successful Agent call launched
	// OTel's tool_decision (decision, source) and tool_result; the hooks' closing wins.
	decision   pick[[2]string]
	otelClosed pick[closing]
}

// closing is what a PostToolUse, PostToolUseFailure or PermissionDenied says.
type closing struct {
	status     string
	durationMS int64
	err        string
}

func (f *fold) call(id string, at order) *callAcc {
	ca, ok := f.calls[id]
	if !ok {
		ca = &callAcc{id: id, seen: at}
		f.calls[id] = ca
	}
	if at.before(ca.seen) {
		ca.seen = at
	}
	f.changed.calls[id] = true
	return ca
}

// onEvent folds what every hook event of a call may carry.
func (ca *callAcc) onEvent(he *hookEvent) {
	e, h := he.e, &he.h
	if name := firstNonEmpty(e.ToolName, h.ToolName); name != "" {
		ca.name.latest(he.at, name)
	}
	if agent := firstNonEmpty(e.AgentID, h.AgentID); agent != "" {
		ca.agentID.latest(he.at, agent)
	}
	if he.promptID != "" {
		ca.promptID.earliest(he.at, he.promptID)
	}
	if e.LinesAdded != 0 || e.LinesRemoved != 0 {
		ca.lines.latest(he.at, [2]int{e.LinesAdded, e.LinesRemoved})
	}
	if e.Tier < event.TierDetails {
		return
	}
	// Decode the input only when this event could win the input rule.
	pre := he.name == "PreToolUse"
	if pre && ca.preInput.ok && !ca.preInput.at.before(he.at) {
		return
	}
	if !pre && (ca.preInput.ok || ca.input.ok && !he.at.before(ca.input.at)) {
		return
	}
	in := parseToolInput(h.ToolInput)
	if in.Command == "" && in.FilePath == "" && in.Pattern == "" && in.Description == "" {
		return
	}
	if pre {
		ca.preInput.latest(he.at, in)
	} else {
		ca.input.earliest(he.at, in)
	}
}

func (f *fold) onPreToolUse(he *hookEvent) {
	if he.call != nil {
		he.call.pre.earliest(he.at, true)
	}
}

func (f *fold) onToolError(he *hookEvent) {
	if he.call == nil {
		return
	}
	c := closing{status: agenttrace.ToolError, durationMS: durationOf(&he.h)}
	if he.e.Tier >= event.TierDetails {
		c.err = firstNonEmpty(he.h.Error, he.h.Reason)
		if c.err == "" && he.name == "PermissionDenied" {
			c.err = "permission denied"
		}
	}
	he.call.closed.latest(he.at, c)
}

func (f *fold) onToolOK(he *hookEvent) {
	ca := he.call
	if ca == nil {
		return
	}
	ca.closed.latest(he.at, closing{status: agenttrace.ToolOK, durationMS: durationOf(&he.h)})
	resp := parseToolResponse(he.h.ToolResponse)
	if resp.AgentID != "" {
		ca.spawn.latest(he.at, resp.AgentID)
	}
	if he.e.Tier >= event.TierDetails {
		var in toolInput
		if resp.Type == "create" {
			in = parseToolInput(he.h.ToolInput)
		}
		ca.diff.latest(he.at, resp.diff(in))
	}
	if he.e.Tier >= event.TierFull {
		ca.output.latest(he.at, truncateOutput(resp.output()))
	}
}

func durationOf(h *hookPayload) int64 {
	if h.DurationMS != nil && *h.DurationMS >= 0 {
		return *h.DurationMS
	}
	return 0
}

// toolCall is the call as the fold knows it, before nesting and prompt attribution.
func (ca *callAcc) toolCall() agenttrace.ToolCall {
	c := agenttrace.ToolCall{ID: ca.id, Name: ca.name.v, Status: agenttrace.ToolPending,
		StartedAt: ca.seen.t, AgentID: ca.agentID.v, Diff: ca.diff.v, Output: ca.output.v}
	if ca.pre.ok {
		c.StartedAt = ca.pre.at.t
	}
	in := ca.input.v
	if ca.preInput.ok {
		in = ca.preInput.v
	}
	c.Command, c.FilePath, c.Pattern, c.Description = in.Command, in.FilePath, in.Pattern, in.Description
	c.Decision, c.DecisionSource = ca.decision.v[0], ca.decision.v[1]
	closed := ca.closed
	if !closed.ok {
		closed = ca.otelClosed
	} else if closed.v.durationMS == 0 && ca.otelClosed.ok {
		closed.v.durationMS = ca.otelClosed.v.durationMS // hooks before 2.1 report none
	}
	if !closed.ok && c.Decision == "reject" {
		c.Status = agenttrace.ToolRejected
	}
	if closed.ok {
		end := closed.at.t
		c.Status, c.Error, c.EndedAt = closed.v.status, closed.v.err, &end
		c.DurationMS = closed.v.durationMS
		if c.DurationMS == 0 {
			c.DurationMS = end.Sub(c.StartedAt).Milliseconds()
		}
	}
	if ca.lines.ok {
		c.LinesAdded, c.LinesRemoved = ca.lines.v[0], ca.lines.v[1]
	} else {
		c.LinesAdded, c.LinesRemoved = DiffLines(c.Diff)
	}
	return c
}
