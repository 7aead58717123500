// Package capture is the hook's fast path: one Claude Code hook payload becomes
// agent-trace events. It parses the payload, applies the user's privacy tier and secret
// redaction (package privacy), counts edit lines, reads HEAD from .git files and derives
// pull request events from Bash output, and touches neither the network nor a git
// subprocess. The spool and the deliverer take it from there.
package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/gitinfo/forge"
	"github.com/agent-trace/agent-trace/internal/gitinfo/head"
	"github.com/agent-trace/agent-trace/internal/privacy"
)

// MaxPayloadBytes is the largest payload an event carries. Claude Code payloads carry
// whole file contents and command outputs, so the limit is generous; a larger one (up to
// MaxReadBytes) has its longest strings cut until it fits, so the event survives. It is
// half the collector's default body limit (api.DefaultMaxBodyBytes), so an event always
// fits in a request of its own: a larger one would be refused for good.
const MaxPayloadBytes = 4 << 20

// ErrBadPayload is wrapped by every error Build returns for input that can never become
// an event. Retrying the same bytes cannot help.
var ErrBadPayload = errors.New("bad hook payload")

func badPayload(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPayload, fmt.Sprintf(format, args...))
}

// Build turns one hook payload, exactly as Claude Code wrote it on stdin, into events: the
// hook event itself first, then the facts derived from it (pull requests found in Bash
// output). The payload is tiered and redacted before it is stored on any event, so what
// Build returns may be written to disk as is.
//
// cfg.Tier outside 1..3 is treated as tier 1: when in doubt, keep less.
func Build(raw []byte, cfg agentconfig.Config, now time.Time) ([]event.Event, error) {
	payload, err := parse(raw)
	if err != nil {
		return nil, err
	}
	tier := cfg.Tier
	if tier < event.TierMetadata || tier > event.TierFull {
		tier = event.TierMetadata
	}

	str := func(k string) string { s, _ := payload[k].(string); return s }
	sessionID, hookEvent := str("session_id"), str("hook_event_name")
	if sessionID == "" {
		return nil, badPayload("session_id is missing or not a string")
	}
	if hookEvent == "" {
		return nil, badPayload("hook_event_name is missing or not a string")
	}
	toolUseID, promptID, agentID, toolName := str("tool_use_id"), str("prompt_id"), str("agent_id"), str("tool_name")

	ev := event.Event{
		ID:        event.HookID(sessionID, hookEvent, toolUseID, promptID, agentID, raw),
		Kind:      event.KindHook,
		SessionID: sessionID,
		Time:      now.UTC(),
		Tier:      tier,
		HookEvent: hookEvent,
		PromptID:  promptID,
		ToolUseID: toolUseID,
		ToolName:  toolName,
		AgentID:   agentID,
		User:      cfg.User,
		Host:      cfg.Host,
	}
	if hookEvent == "PostToolUse" {
		ev.LinesAdded, ev.LinesRemoved = countLines(toolName, payload)
	}
	if hookEvent == "UserPromptSubmit" {
		ev.PromptOrigin = event.PromptOrigin(str("prompt"))
	}

	counts := map[string]int{}
	kept := privacy.RedactValue(privacy.ApplyTier(payload, tier), counts).(map[string]any)
	ev.Payload, err = encodeFitted(kept)
	if err != nil {
		return nil, err
	}
	// The correlation keys are ids, but they are copied onto the event outside the payload,
	// so they get the same redaction as everything else.
	for _, p := range []*string{&ev.SessionID, &ev.PromptID, &ev.ToolUseID, &ev.ToolName, &ev.AgentID, &ev.User, &ev.Host} {
		*p = privacy.Redact(*p, counts)
	}
	if len(counts) > 0 {
		ev.Redactions = counts
	}

	if wantsGit(hookEvent, toolName) {
		if cwd := str("cwd"); cwd != "" {
			// Not a repository (or an unreadable one) is normal: the event simply has no git.
			if gs, err := head.Read(cwd); err == nil {
				ev.Git = &gs
			}
		}
	}
	if err := ev.Validate(); err != nil {
		return nil, badPayload("%v", err)
	}

	events := []event.Event{ev}
	if hookEvent == "PostToolUse" && toolName == "Bash" {
		for _, pr := range pullRequests(payload) {
			pr.URL = privacy.Redact(pr.URL, nil)
			if tier < event.TierDetails {
				pr.URL = ""
			}
			events = append(events, event.Event{
				ID:          event.ID(event.KindPullRequest, sessionID, pr.Forge, pr.Owner+"/"+pr.Repo, fmt.Sprint(pr.Number)),
				Kind:        event.KindPullRequest,
				SessionID:   ev.SessionID,
				Time:        ev.Time,
				Tier:        tier,
				PromptID:    ev.PromptID,
				ToolUseID:   ev.ToolUseID,
				ToolName:    ev.ToolName,
				AgentID:     ev.AgentID,
				User:        ev.User,
				Host:        ev.Host,
				Git:         ev.Git,
				PullRequest: &pr,
			})
		}
	}
	return events, nil
}

// encodeFitted encodes the tiered, redacted payload, cutting its longest strings when
// the encoding is over MaxPayloadBytes (each cut string says its original size).
func encodeFitted(kept map[string]any) (json.RawMessage, error) {
	enc, err := privacy.Marshal(kept)
	if err != nil || len(enc) <= MaxPayloadBytes {
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		return enc, nil
	}
	size := func(v map[string]any) int {
		b, err := privacy.Marshal(v)
		if err != nil {
			return MaxPayloadBytes + 1
		}
		return len(b)
	}
	fitted, _ := fit(kept, MaxPayloadBytes, size)
	if enc, err = privacy.Marshal(fitted); err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	if len(enc) > MaxPayloadBytes { // only keys and structure are left: nothing to keep
		return nil, badPayload("%d bytes after cutting every string is over the %d byte limit", len(enc), MaxPayloadBytes)
	}
	return enc, nil
}

// parse decodes a payload that must be exactly one JSON object. Numbers stay json.Number
// so ids and counters survive re-encoding digit for digit.
func parse(raw []byte) (map[string]any, error) {
	if len(raw) > MaxReadBytes {
		return nil, badPayload("%d bytes is over the %d byte limit", len(raw), MaxReadBytes)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, badPayload("empty input")
	}
	if trimmed[0] != '{' {
		return nil, badPayload("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var payload map[string]any
	if err := dec.Decode(&payload); err != nil {
		return nil, badPayload("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badPayload("invalid JSON: data after the object")
	}
	if payload == nil {
		return nil, badPayload("not a JSON object")
	}
	return payload, nil
}

// wantsGit says which events record HEAD: the session's edges, each turn's end and both
// sides of every Bash call, the only tool that can move HEAD.
func wantsGit(hookEvent, toolName string) bool {
	switch hookEvent {
	case "SessionStart", "Stop", "SessionEnd":
		return true
	case "PreToolUse", "PostToolUse", "PostToolUseFailure":
		return toolName == "Bash"
	}
	return false
}

// countLines counts an edit's diff lines from the tool's own result, before the tier can
// drop it. A created file has an empty structuredPatch, so its lines are its content's.
// Lines are counted as git counts them, so a trailing newline does not add one.
func countLines(toolName string, p map[string]any) (added, removed int) {
	switch toolName {
	case "Edit", "MultiEdit", "Write", "NotebookEdit":
	default:
		return 0, 0
	}
	resp, _ := p["tool_response"].(map[string]any)
	if resp == nil {
		return 0, 0
	}
	hunks, _ := resp["structuredPatch"].([]any)
	for _, h := range hunks {
		hm, _ := h.(map[string]any)
		lines, _ := hm["lines"].([]any)
		for _, l := range lines {
			s, _ := l.(string)
			switch {
			case strings.HasPrefix(s, "+"):
				added++
			case strings.HasPrefix(s, "-"):
				removed++
			}
		}
	}
	if len(hunks) == 0 && resp["type"] == "create" {
		content, _ := resp["content"].(string)
		if content == "" {
			input, _ := p["tool_input"].(map[string]any)
			content, _ = input["content"].(string)
		}
		added = textLines(content)
	}
	return added, removed
}

func textLines(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

// pullRequests finds the PR/MR URLs a Bash call printed, and the one Claude Code itself
// reports in gitOperation.pr, once each.
func pullRequests(p map[string]any) []event.PullRequest {
	resp, _ := p["tool_response"].(map[string]any)
	if resp == nil {
		return nil
	}
	var text strings.Builder
	for _, k := range []string{"stdout", "stderr"} {
		if s, ok := resp[k].(string); ok {
			text.WriteString(s)
			text.WriteByte('\n')
		}
	}
	if op, ok := resp["gitOperation"].(map[string]any); ok {
		if pr, ok := op["pr"].(map[string]any); ok {
			if u, ok := pr["url"].(string); ok {
				text.WriteString(u)
			}
		}
	}
	if text.Len() == 0 {
		return nil
	}
	found := forge.Find(text.String())
	seen := map[string]bool{}
	out := found[:0]
	for _, pr := range found {
		k := fmt.Sprint(pr.Forge, "\x00", pr.Owner, "\x00", pr.Repo, "\x00", pr.Number)
		if !seen[k] {
			seen[k] = true
			out = append(out, pr)
		}
	}
	return out
}
