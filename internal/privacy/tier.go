package privacy

import (
	"encoding/json"

	"github.com/agent-trace/agent-trace/event"
)

// A spec is an allow-list for one JSON object: the fields it names survive from the tier
// they give; every other field is dropped below tier 3, so a field a new Claude Code
// version adds cannot leak before someone decides which tier it belongs to.
type spec map[string]field

type field struct {
	tier int  // lowest tier that keeps the field
	enum bool // kept at tier 1 only while the value looks like an enum (source, reason); text needs tier 2
	sub  spec // filter inside an object or inside each object of an array; nil keeps the subtree whole
}

var (
	meta    = field{tier: event.TierMetadata}
	enum    = field{tier: event.TierDetails, enum: true}
	details = field{tier: event.TierDetails}
	full    = field{tier: event.TierFull}
)

func object(tier int, sub spec) field { return field{tier: tier, sub: sub} }

// payloadSpec covers every field Claude Code 2.1.x documents on hook input.
var payloadSpec = spec{
	// Common fields.
	"session_id":            meta,
	"transcript_path":       meta, // the deliverer tails it; it is made of cwd and session id
	"cwd":                   meta,
	"hook_event_name":       meta,
	"prompt_id":             meta,
	"permission_mode":       enum,
	"effort":                object(event.TierMetadata, spec{"level": enum}),
	"agent_id":              meta,
	"agent_type":            meta,
	"agent_transcript_path": meta,
	"model":                 meta,

	// SessionStart, SessionEnd, compaction, notifications: enums and counters.
	"source":                      enum,
	"reason":                      enum, // an enum on SessionEnd, free text on PermissionDenied
	"trigger":                     enum,
	"notification_type":           enum,
	"seconds_since_last_response": meta,
	"context_tokens":              meta,
	"prompt_cache_likely_expired": meta,
	"estimated_cache_write_usd":   meta,
	"stop_hook_active":            meta,
	"session_title":               details,
	"message":                     details,
	"title":                       details,
	"custom_instructions":         details,
	"compact_summary":             full,
	"last_assistant_message":      full,
	"error":                       enum, // an enum on StopFailure, the failure's text on PostToolUseFailure
	"error_details":               details,
	"background_tasks": object(event.TierMetadata, spec{
		"id": meta, "type": enum, "status": enum, "agent_type": meta,
		"description": details, "command": details, "name": details, "server": details, "tool": details,
	}),
	"session_crons": object(event.TierMetadata, spec{
		"id": meta, "schedule": meta, "recurring": meta, "prompt": details,
	}),

	// Prompts and tools.
	"prompt":                 details,
	"tool_name":              meta,
	"tool_use_id":            meta,
	"duration_ms":            meta,
	"is_interrupt":           meta,
	"tool_input":             details,
	"tool_response":          object(event.TierMetadata, spec{}), // replaced per tool by toolResponseSpec
	"permission_suggestions": details,
	"tool_calls": object(event.TierMetadata, spec{ // PostToolBatch: the results are what the model saw
		"tool_name": meta, "tool_use_id": meta, "tool_input": details, "tool_response": full,
	}),

	// Rarer events, kept by the same rule: ids and enums at 1, text and paths at 2.
	"file_path": details, "memory_type": enum, "load_reason": enum, "globs": details,
	"trigger_file_path": details, "parent_file_path": details,
	"old_cwd": meta, "new_cwd": meta, "directory": meta, "worktree_path": meta, "name": details,
	"task_id": meta, "task_subject": details, "task_description": details,
	"teammate_name": meta, "team_name": meta,
	"mcp_server_name": meta, "mode": enum, "url": details, "elicitation_id": meta, "requested_schema": details,
	"expansion_type": enum, "command_name": meta, "command_args": details, "command_source": enum,
	"event": enum, "turn_id": meta, "message_id": meta, "index": meta, "final": meta, "delta": full,
}

var editResponse = spec{
	"type": enum, "filePath": details, "oldString": details, "newString": details,
	"structuredPatch": details, "edits": details, "replaceAll": meta, "userModified": meta,
	// content (what Write wrote, also in tool_input) and originalFile (the file before) are
	// file bodies: tier 3.
}

var agentResponse = spec{
	"status": enum, "agentId": meta, "isAsync": meta, "resolvedModel": meta, "modelsUsed": meta,
	"totalTokens": meta, "totalDurationMs": meta, "totalToolUseCount": meta, "usage": meta,
	"canReadOutputFile": meta, "canContinueAgent": meta,
	"description": details, "prompt": details, "subagent_type": details, "outputFile": details,
	// content, the subagent's answer, is a model response: tier 3.
}

// toolResponseSpec keeps, per tool, the result fields that are metadata or diffs. Output
// bodies (Bash stdout and stderr, file contents read, search results) stay at tier 3.
var toolResponseSpec = map[string]spec{
	"Edit": editResponse, "MultiEdit": editResponse, "Write": editResponse, "NotebookEdit": editResponse,
	"Agent": agentResponse, "Task": agentResponse,
	"Bash": {
		"interrupted": meta, "isImage": meta, "noOutputExpected": meta, "backgroundTaskId": meta,
		"returnCodeInterpretation": details,
		"gitOperation": object(event.TierMetadata, spec{
			"commit": object(event.TierMetadata, spec{"sha": meta, "kind": enum, "branch": meta}),
			"pr":     object(event.TierMetadata, spec{"number": meta, "action": enum, "url": details}),
			"branch": details, "push": details,
		}),
	},
	"Read": {
		"type": enum,
		"file": object(event.TierMetadata, spec{"filePath": details, "numLines": meta, "startLine": meta, "totalLines": meta}),
	},
	"Grep": {"mode": enum, "numFiles": meta, "numLines": meta, "numMatches": meta, "durationMs": meta, "truncated": meta},
	"Glob": {"numFiles": meta, "durationMs": meta, "truncated": meta},
	// The fetched page and the search results are output (tier 3); the URL and the query
	// are what the model asked for (tier 2, like tool_input).
	"WebFetch":  {"bytes": meta, "code": meta, "codeText": enum, "durationMs": meta, "url": details},
	"WebSearch": {"durationSeconds": meta, "query": details},
}

// enumLike reports whether s looks like an enum value: a letter, then up to 63 letters,
// digits, '_' or '-'. Free text has spaces or punctuation.
func enumLike(s string) bool {
	if len(s) == 0 || len(s) > 64 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWordByte(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

// isEnum reports whether v can only be an enum value, never text: a short identifier-like
// string, a boolean or a number.
func isEnum(v any) bool {
	switch v := v.(type) {
	case string:
		return enumLike(v)
	case bool, json.Number, float64, nil:
		return true
	}
	return false
}

// ApplyTier returns the payload as the tier allows it. The input is not modified.
func ApplyTier(p map[string]any, tier int) map[string]any {
	if tier >= event.TierFull {
		return p
	}
	out := filterObject(p, payloadSpec, tier)
	if resp, ok := p["tool_response"]; ok {
		delete(out, "tool_response")
		name, _ := p["tool_name"].(string)
		if sp, ok := toolResponseSpec[name]; ok {
			if v, keep := filterValue(resp, object(event.TierMetadata, sp), tier); keep {
				out["tool_response"] = v
			}
		}
	}
	return out
}

func filterObject(m map[string]any, sp spec, tier int) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		f, ok := sp[k]
		if !ok {
			continue
		}
		if v, keep := filterValue(v, f, tier); keep {
			out[k] = v
		}
	}
	return out
}

func filterValue(v any, f field, tier int) (any, bool) {
	if tier < f.tier && !(f.enum && isEnum(v)) {
		return nil, false
	}
	if f.sub == nil {
		return v, true
	}
	switch v := v.(type) {
	case map[string]any:
		out := filterObject(v, f.sub, tier)
		if len(out) == 0 && len(v) > 0 {
			return nil, false
		}
		return out, true
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out = append(out, filterObject(m, f.sub, tier))
			}
		}
		return out, true
	case nil:
		return nil, true
	}
	// A scalar where an object was documented: an unknown shape, so only tier 3 keeps it.
	return nil, false
}
