package projection_test

import (
	"encoding/json"
	"os"
	"sort"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// otelFixtureNames are the sessions of /work/shared/fixtures/otel-claude-code-2.1.332
// (http_json) whose hooks/, transcript/ and git-log.txt are copied to testdata/otel.
var otelFixtureNames = []string{"apierror", "commit", "denied", "subagent", "utils"}

// otelFixture is one recorded session as hooks and transcripts report it, and the OTel
// events Claude Code sent beside them, built by hand from the hook payloads and the
// transcript usage with the attribute shapes of the recording's CATALOG.md (the OTLP
// receiver's converter lives on another branch).
type otelFixture struct {
	name  string
	hooks []event.Event // hook, usage, cost state, commit events
	otel  []event.Event
}

func loadOTelFixtures() []otelFixture {
	var out []otelFixture
	for _, name := range otelFixtureNames {
		f, err := storetest.LoadFixture(os.DirFS("testdata/otel"), name)
		if err != nil {
			panic(err) // a broken testdata file is a bug in this package
		}
		out = append(out, otelFixture{name: name, hooks: f.Events, otel: otelEventsFor(f.SessionID, f.Events)})
	}
	return out
}

// hookFields is what the OTel builder reads of a hook payload.
type hookFields struct {
	Prompt       string         `json:"prompt"`
	ToolInput    map[string]any `json:"tool_input"`
	Error        string         `json:"error"`
	DurationMS   int64          `json:"duration_ms"`
	AgentID      string         `json:"agent_id"`
	AgentType    string         `json:"agent_type"`
	LastAssisant string         `json:"last_assistant_message"`
}

// otelEventsFor builds what Claude Code's telemetry reports of a session: user_prompt per
// UserPromptSubmit, tool_decision per PreToolUse (reject when the call never closed, as
// in the denied session), tool_result per close (with the commit a `git commit` made),
// api_request per transcript usage (same request_id and tokens), subagent_completed per
// SubagentStop, api_error and api_retries_exhausted for a prompt no response answered,
// and active_time points.
func otelEventsFor(sid string, evs []event.Event) []event.Event {
	b := &otelBuilder{sid: sid, closed: map[string]bool{}, commits: map[string]*event.Commit{}, answered: map[string]bool{}}
	for _, e := range evs {
		switch {
		case e.Kind == event.KindHook && (e.HookEvent == "PostToolUse" || e.HookEvent == "PostToolUseFailure"):
			b.closed[e.ToolUseID] = true
		case e.Kind == event.KindCommit:
			b.commits[e.ToolUseID] = e.Commit
		case e.Kind == event.KindUsage && e.PromptID != "":
			b.answered[e.PromptID] = true
		}
	}
	for _, e := range evs {
		b.add(e)
	}
	return b.out
}

type otelBuilder struct {
	sid      string
	closed   map[string]bool
	commits  map[string]*event.Commit
	answered map[string]bool
	out      []event.Event
	last     time.Time
}

func (b *otelBuilder) emit(kind string, src event.Event, o event.OTel, key ...string) *event.Event {
	e := event.Event{ID: event.OTelID(kind, b.sid, key...), Kind: kind, SessionID: b.sid,
		Time: src.Time.Add(100 * time.Microsecond), Tier: event.TierFull, PromptID: src.PromptID,
		ToolUseID: src.ToolUseID, ToolName: src.ToolName, AgentID: src.AgentID, User: src.User, OTel: &o}
	b.out = append(b.out, e)
	if e.Time.After(b.last) {
		b.last = e.Time
	}
	return &b.out[len(b.out)-1]
}

func (b *otelBuilder) add(e event.Event) {
	if e.Kind == event.KindUsage {
		b.addRequest(e)
		return
	}
	if e.Kind != event.KindHook {
		return
	}
	var h hookFields
	_ = json.Unmarshal(e.Payload, &h)
	switch e.HookEvent {
	case "UserPromptSubmit":
		b.emit(event.KindUserPrompt, e, event.OTel{Name: "user_prompt", Length: int64(len(h.Prompt)), Text: h.Prompt}, e.PromptID)
		if !b.answered[e.PromptID] {
			b.addErrors(e)
		}
	case "PreToolUse":
		o := event.OTel{Name: "tool_decision", Decision: "accept", Source: "config", Parameters: toolParams(h.ToolInput)}
		if !b.closed[e.ToolUseID] {
			o.Decision, o.Source = "reject", "user_reject"
		}
		b.emit(event.KindToolDecision, e, o, e.ToolUseID)
	case "PostToolUse", "PostToolUseFailure":
		b.addResult(e, &h)
	case "SubagentStop":
		b.emit(event.KindSubagentCompleted, e, event.OTel{Name: "subagent_completed", Model: "claude-opus-5-5",
			DurationMS: 1200, Attrs: map[string]string{"agent_type": h.AgentType, "total_tokens": "4200",
				"total_tool_uses": "1"}}, h.AgentID)
	case "SessionEnd":
		b.addActiveTime(e)
	}
}

func (b *otelBuilder) addResult(e event.Event, h *hookFields) {
	ok := e.HookEvent == "PostToolUse"
	o := event.OTel{Name: "tool_result", Success: &ok, DurationMS: max(h.DurationMS, 7), Error: h.Error,
		Parameters: toolParams(h.ToolInput)}
	if c := b.commits[e.ToolUseID]; c != nil {
		o.CommitSHA, o.Branch = c.SHA, c.Branch
	}
	b.emit(event.KindToolResult, e, o, e.ToolUseID)
}

// toolParams is tool_parameters as Claude Code sends it (OTEL_LOG_TOOL_DETAILS).
func toolParams(in map[string]any) map[string]any {
	p := map[string]any{}
	for from, to := range map[string]string{"command": "bash_command", "description": "description", "file_path": "file_path"} {
		if v, ok := in[from].(string); ok {
			p[to] = v
		}
	}
	if c, ok := p["bash_command"]; ok {
		p["full_command"] = c
	}
	return p
}

func (b *otelBuilder) addRequest(u event.Event) {
	if u.Usage.RequestID == "" {
		return
	}
	usage := *u.Usage
	usage.MessageID, usage.ToolUseIDs, usage.Text = "", nil, "" // OTel knows none of these
	src := u
	src.ToolUseID, src.ToolName = "", ""
	qs := "main"
	if u.Usage.Sidechain {
		qs = "subagent"
	}
	e := b.emit(event.KindAPIRequest, src, event.OTel{Name: "api_request", RequestID: u.Usage.RequestID,
		Model: u.Usage.Model, QuerySource: qs, CostUSD: 0.01, DurationMS: 265, TTFTMS: 76}, u.Usage.RequestID)
	e.Usage = &usage
}

// addErrors is the apierror session's telemetry: one failed attempt (529), then retries
// exhausted.
func (b *otelBuilder) addErrors(prompt event.Event) {
	b.emit(event.KindAPIError, prompt, event.OTel{Name: "api_error", Model: "claude-opus-5-5", StatusCode: 529,
		Attempt: 1, DurationMS: 40, Error: "scripted failure 529", QuerySource: "main"}, prompt.PromptID, "1")
	b.emit(event.KindAPIError, prompt, event.OTel{Name: "api_retries_exhausted", Model: "claude-opus-5-5",
		StatusCode: 529, Attempt: 2, Error: "scripted failure 529", QuerySource: "main"}, prompt.PromptID, "exhausted")
}

// addActiveTime sends active_time.total as delta points: user 1.5 s, then cli 0.75 s
// twice.
func (b *otelBuilder) addActiveTime(end event.Event) {
	for i, p := range []struct {
		typ string
		v   float64
	}{{"user", 1.5}, {"cli", 0.75}, {"cli", 0.75}} {
		e := b.emit(event.KindMetric, end, event.OTel{Name: "active_time.total", Attrs: map[string]string{"type": p.typ},
			Metric: &event.MetricPoint{Value: p.v, Unit: "s", Start: end.Time.Add(time.Duration(i) * time.Second),
				Series: "type=" + p.typ}}, "active", p.typ, time.Duration(i).String())
		e.PromptID = ""
		e.Time = end.Time.Add(time.Duration(i+1) * time.Second)
	}
}

// otelPropertySessions are the OTel fixtures as the property tests see them: hooks and
// OTel together, and OTel alone.
func otelPropertySessions() map[string][]event.Event {
	out := map[string][]event.Event{}
	for _, f := range loadOTelFixtures() {
		both := append(append([]event.Event(nil), f.hooks...), f.otel...)
		sort.SliceStable(both, func(i, j int) bool { return both[i].Time.Before(both[j].Time) })
		out["otel/"+f.name+"+hooks"] = both
		out["otel/"+f.name+"-only"] = append([]event.Event(nil), f.otel...)
	}
	return out
}
