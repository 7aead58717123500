package sqlstore

import (
	"strings"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// ToolCallRow is one tool_calls row: a tool call (a subagent's too) of the prompt at
// PromptIdx, as the Tools page aggregates it. Rows are rewritten with their prompt, so
// a batch writes the calls of the prompts it changed and no others.
type ToolCallRow struct {
	PromptIdx  int
	ID         string // tool_use_id
	Name       string
	MCPServer  string // the server of an MCP tool (mcp__server__tool), else ""
	Status     string
	StartedMS  int64
	DurationMS int64
	// Command is a failed Bash call's first line (tier 2 and above, already redacted),
	// cut to maxCommand bytes, for "the commands that fail most"; "" otherwise.
	Command string
}

const maxCommand = 200

// toolCallRows flattens the calls of prompt idx, subagents' calls included.
func toolCallRows(idx int, calls []agenttrace.ToolCall, out []ToolCallRow) []ToolCallRow {
	for _, c := range calls {
		r := ToolCallRow{PromptIdx: idx, ID: c.ID, Name: c.Name, MCPServer: MCPServer(c.Name), Status: c.Status,
			StartedMS: c.StartedAt.UnixMilli(), DurationMS: c.DurationMS}
		if c.Status == agenttrace.ToolError && c.Command != "" {
			r.Command = firstLine(c.Command, maxCommand)
		}
		out = append(toolCallRows(idx, c.Children, out), r)
	}
	return out
}

// MCPServer is the server of an MCP tool name (mcp__github__create_issue → github).
func MCPServer(name string) string {
	rest, ok := strings.CutPrefix(name, "mcp__")
	if !ok {
		return ""
	}
	server, _, _ := strings.Cut(rest, "__")
	return server
}

func firstLine(s string, max int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") // drop a rune cut in two
	}
	return s
}
