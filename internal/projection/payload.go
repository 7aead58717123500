package projection

import (
	"encoding/json"
	"strings"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// hookPayload is the part of a Claude Code hook payload the projection reads. Payloads
// come from many Claude Code versions, so decoding is tolerant: a field of an unexpected
// type is dropped, never the whole payload.
type hookPayload struct {
	HookEventName        string          `json:"hook_event_name"`
	CWD                  string          `json:"cwd"`
	PromptID             string          `json:"prompt_id"`
	Prompt               string          `json:"prompt"`
	ToolName             string          `json:"tool_name"`
	ToolUseID            string          `json:"tool_use_id"`
	AgentID              string          `json:"agent_id"`
	ToolInput            json.RawMessage `json:"tool_input"`
	ToolResponse         json.RawMessage `json:"tool_response"`
	Error                string          `json:"error"`
	Reason               string          `json:"reason"`
	DurationMS           *int64          `json:"duration_ms"`
	LastAssistantMessage string          `json:"last_assistant_message"`
	Version              string          `json:"version"`
	ClaudeCodeVersion    string          `json:"claude_code_version"`
}

func parseHook(raw json.RawMessage) hookPayload {
	var h hookPayload
	if len(raw) == 0 {
		return h
	}
	if err := json.Unmarshal(raw, &h); err == nil {
		return h
	}
	h = hookPayload{}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return h
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(m[k], &s)
		return s
	}
	h.HookEventName = str("hook_event_name")
	h.CWD = str("cwd")
	h.PromptID = str("prompt_id")
	h.Prompt = str("prompt")
	h.ToolName = str("tool_name")
	h.ToolUseID = str("tool_use_id")
	h.AgentID = str("agent_id")
	h.ToolInput = m["tool_input"]
	h.ToolResponse = m["tool_response"]
	h.Error = str("error")
	if h.Error == "" && len(m["error"]) > 0 && string(m["error"]) != "null" {
		h.Error = string(m["error"])
	}
	h.Reason = str("reason")
	var d float64
	if json.Unmarshal(m["duration_ms"], &d) == nil && m["duration_ms"] != nil {
		n := int64(d)
		h.DurationMS = &n
	}
	h.LastAssistantMessage = str("last_assistant_message")
	h.Version = str("version")
	h.ClaudeCodeVersion = str("claude_code_version")
	return h
}

type toolInput struct {
	Command     string
	FilePath    string
	Pattern     string
	Description string
	Content     string
}

// toolInputFields is the fast path of parseToolInput: every field a string.
type toolInputFields struct {
	Command      string `json:"command"`
	FilePath     string `json:"file_path"`
	NotebookPath string `json:"notebook_path"`
	Path         string `json:"path"`
	Pattern      string `json:"pattern"`
	Query        string `json:"query"`
	URL          string `json:"url"`
	Description  string `json:"description"`
	Content      string `json:"content"`
}

func parseToolInput(raw json.RawMessage) toolInput {
	var in toolInput
	if len(raw) == 0 || raw[0] != '{' {
		return in
	}
	var f toolInputFields
	if json.Unmarshal(raw, &f) == nil {
		return toolInput{
			Command:     f.Command,
			FilePath:    firstNonEmpty(f.FilePath, f.NotebookPath, f.Path),
			Pattern:     firstNonEmpty(f.Pattern, f.Query, f.URL),
			Description: f.Description,
			Content:     f.Content,
		}
	}
	// Some field is not a string (an MCP tool's input, say): take the strings there are.
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return in
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			var s string
			if json.Unmarshal(m[k], &s) == nil && s != "" {
				return s
			}
		}
		return ""
	}
	in.Command = str("command")
	in.FilePath = str("file_path", "notebook_path", "path")
	in.Pattern = str("pattern", "query", "url")
	in.Description = str("description")
	in.Content = str("content")
	return in
}

// toolResponse is what the projection reads from a PostToolUse tool_response, whose
// shape depends on the tool.
type toolResponse struct {
	Type            string                `json:"type"`
	Content         json.RawMessage       `json:"content"`
	StructuredPatch []agenttrace.DiffHunk `json:"structuredPatch"`
	Stdout          string                `json:"stdout"`
	Stderr          string                `json:"stderr"`
	File            *struct {
		Content string `json:"content"`
	} `json:"file"`
	AgentID   string   `json:"agentId"`
	Filenames []string `json:"filenames"`
	Result    string   `json:"result"`
	text      string   // a response that is a bare string
}

func parseToolResponse(raw json.RawMessage) toolResponse {
	var r toolResponse
	if len(raw) == 0 {
		return r
	}
	switch raw[0] {
	case '"':
		_ = json.Unmarshal(raw, &r.text)
		return r
	case '{':
	default:
		return r
	}
	if json.Unmarshal(raw, &r) == nil {
		return r
	}
	// One field had an unexpected type: take the fields one by one.
	r = toolResponse{}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return r
	}
	_ = json.Unmarshal(m["type"], &r.Type)
	r.Content = m["content"]
	_ = json.Unmarshal(m["structuredPatch"], &r.StructuredPatch)
	_ = json.Unmarshal(m["stdout"], &r.Stdout)
	_ = json.Unmarshal(m["stderr"], &r.Stderr)
	_ = json.Unmarshal(m["file"], &r.File)
	_ = json.Unmarshal(m["agentId"], &r.AgentID)
	_ = json.Unmarshal(m["filenames"], &r.Filenames)
	_ = json.Unmarshal(m["result"], &r.Result)
	return r
}

// diff is the call's edit as a structuredPatch; a Write that created a file reports an
// empty patch, so its content becomes one hunk of added lines.
func (r toolResponse) diff(in toolInput) []agenttrace.DiffHunk {
	if len(r.StructuredPatch) > 0 {
		out := make([]agenttrace.DiffHunk, len(r.StructuredPatch))
		copy(out, r.StructuredPatch)
		return out
	}
	if r.Type == "create" {
		content := r.contentString()
		if content == "" {
			content = in.Content
		}
		return CreateHunk(content)
	}
	return nil
}

func (r toolResponse) contentString() string {
	if len(r.Content) == 0 || r.Content[0] != '"' {
		return ""
	}
	var s string
	_ = json.Unmarshal(r.Content, &s)
	return s
}

// output is the tool's result as a person would read it (tier 3).
func (r toolResponse) output() string {
	switch {
	case r.text != "":
		return r.text
	case r.Stdout != "" || r.Stderr != "":
		if r.Stderr == "" {
			return r.Stdout
		}
		if r.Stdout == "" {
			return r.Stderr
		}
		return r.Stdout + "\n" + r.Stderr
	case r.File != nil:
		return r.File.Content
	case r.Result != "":
		return r.Result
	case len(r.Filenames) > 0:
		return strings.Join(r.Filenames, "\n")
	}
	if s := r.contentString(); s != "" && r.Type != "create" && r.Type != "update" {
		return s
	}
	// Agent results carry text blocks.
	if len(r.Content) > 0 && r.Content[0] == '[' {
		var blocks []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal(r.Content, &blocks) == nil {
			var parts []string
			for _, b := range blocks {
				if b.Type == "text" && b.Text != "" {
					parts = append(parts, b.Text)
				}
			}
			return strings.Join(parts, "\n")
		}
	}
	return ""
}
