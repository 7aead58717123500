package projection

import (
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// hookEvent is one hook event with its payload decoded once for every handler.
type hookEvent struct {
	e        *event.Event
	h        hookPayload
	name     string // hook_event_name
	promptID string
	at       order
	call     *callAcc // the tool call it belongs to; nil for other hook events
}

// hookHandlers folds what a hook event says beyond the prompt and tool call it belongs
// to (onHook folds those for every hook event). A new hook event is one more entry.
var hookHandlers = map[string]func(*fold, *hookEvent){
	"SessionStart":       (*fold).onSessionStart,
	"SessionEnd":         (*fold).onSessionEnd,
	"UserPromptSubmit":   (*fold).onPromptSubmit,
	"Stop":               (*fold).onStop,
	"PreToolUse":         (*fold).onPreToolUse,
	"PostToolUse":        (*fold).onToolOK,
	"PostToolUseFailure": (*fold).onToolError,
	"PermissionDenied":   (*fold).onToolError,
}

// sessionHooks are the hook events that belong to the session, not to a prompt.
var sessionHooks = map[string]bool{"SessionStart": true, "SessionEnd": true}

func (f *fold) onHook(e *event.Event) {
	h := parseHook(e.Payload)
	he := &hookEvent{e: e, h: h, name: firstNonEmpty(e.HookEvent, h.HookEventName),
		promptID: firstNonEmpty(e.PromptID, h.PromptID), at: orderOf(e)}
	if h.CWD != "" {
		f.cwd.earliest(he.at, h.CWD)
	}
	if v := firstNonEmpty(h.ClaudeCodeVersion, h.Version); v != "" {
		f.version.latest(he.at, v)
	}
	if he.promptID != "" && !sessionHooks[he.name] {
		f.prompt(he.promptID, e.Time)
	}
	if toolUseID := firstNonEmpty(e.ToolUseID, h.ToolUseID); toolUseID != "" && event.IsToolEvent(he.name) {
		he.call = f.call(toolUseID, he.at)
		he.call.onEvent(he)
	}
	if fn := hookHandlers[he.name]; fn != nil {
		fn(f, he)
	}
}

// Status is decided by event times, never arrival: a SessionStart after the latest
// SessionEnd is a resume.
func (f *fold) onSessionStart(he *hookEvent) {
	if t := he.e.Time; t.After(f.lastStart) {
		f.lastStart = t
	}
}

func (f *fold) onSessionEnd(he *hookEvent) {
	if t := he.e.Time; !f.hasEnd || t.After(f.lastEnd) {
		f.lastEnd, f.hasEnd = t, true
	}
}

// promptAcc is what the hook events of one prompt_id say about it.
type promptAcc struct {
	first, last time.Time
	submit      pick[string] // the first UserPromptSubmit, with its text when the tier allows
	injected    pick[string] // the first UserPromptSubmit's event.PromptOrigin: "" when typed
	stop        pick[string] // the latest Stop of tier 3: the prompt's final answer
	// OTel's user_prompt and assistant_response: used where the hooks said nothing.
	otelSubmit, otelResponse pick[string]
}

// start is when the prompt was submitted, or its first event when no submit was seen.
// The hook's submit wins over OTel's user_prompt, so a session both report starts its
// prompts where the hooks alone would.
func (pa *promptAcc) start() time.Time {
	if pa.submit.ok {
		return pa.submit.at.t
	}
	if pa.otelSubmit.ok {
		return pa.otelSubmit.at.t
	}
	return pa.first
}

// text and response are the hooks', else OTel's.
func (pa *promptAcc) text() string {
	if pa.submit.ok {
		return pa.submit.v
	}
	return pa.otelSubmit.v
}

// origin is what kind of injected turn the prompt is (event.PromptOrigin), "" for a
// prompt someone typed: the hook marks it, and older events are read from their text.
func (pa *promptAcc) origin() string {
	if pa.injected.ok {
		return pa.injected.v
	}
	return event.PromptOrigin(pa.otelSubmit.v)
}

func (pa *promptAcc) response() string {
	if pa.stop.ok {
		return pa.stop.v
	}
	return pa.otelResponse.v
}

func (f *fold) prompt(id string, t time.Time) *promptAcc {
	pa, ok := f.prompts[id]
	if !ok {
		pa = &promptAcc{first: t}
		f.prompts[id] = pa
	}
	if t.Before(pa.first) {
		pa.first = t
	}
	if t.After(pa.last) {
		pa.last = t
	}
	f.changed.prompts[id] = true
	return pa
}

func (f *fold) onPromptSubmit(he *hookEvent) {
	if he.promptID == "" {
		return
	}
	text := ""
	if he.e.Tier >= event.TierDetails {
		text = he.h.Prompt
	}
	pa := f.prompts[he.promptID]
	pa.submit.earliest(he.at, text)
	pa.injected.earliest(he.at, firstNonEmpty(he.e.PromptOrigin, event.PromptOrigin(text)))
}

func (f *fold) onStop(he *hookEvent) {
	if he.promptID == "" || he.e.Tier < event.TierFull {
		return
	}
	f.prompts[he.promptID].stop.latest(he.at, he.h.LastAssistantMessage)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
