package transcript

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// rawLine is the part of a transcript line this package reads. Claude Code's transcript
// format is internal and changes between versions, so every field is optional and
// unknown line types are skipped.
type rawLine struct {
	Type              string          `json:"type"`
	SessionID         string          `json:"sessionId"`
	PromptID          string          `json:"promptId"`
	AgentID           string          `json:"agentId"`
	IsSidechain       bool            `json:"isSidechain"`
	IsMeta            bool            `json:"isMeta"`
	IsCompactSummary  bool            `json:"isCompactSummary"`
	IsAPIErrorMessage bool            `json:"isApiErrorMessage"`
	RequestID         string          `json:"requestId"`
	Timestamp         string          `json:"timestamp"`
	Cwd               string          `json:"cwd"`
	PermissionMode    string          `json:"permissionMode"`
	Message           *rawMessage     `json:"message"`
	ToolUseResult     json.RawMessage `json:"toolUseResult"`

	// cost-state lines
	TotalCostUSD      float64                  `json:"totalCostUSD"`
	TotalLinesAdded   int64                    `json:"totalLinesAdded"`
	TotalLinesRemoved int64                    `json:"totalLinesRemoved"`
	ModelUsage        map[string]rawModelUsage `json:"modelUsage"`
}

type rawMessage struct {
	ID         string          `json:"id"`
	Role       string          `json:"role"`
	Model      string          `json:"model"`
	Content    json.RawMessage `json:"content"`
	StopReason string          `json:"stop_reason"`
	Usage      *rawUsage       `json:"usage"`
}

type rawUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	CacheCreation            *struct {
		Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	ServerToolUse *struct {
		WebSearchRequests int64 `json:"web_search_requests"`
	} `json:"server_tool_use"`
	Speed string `json:"speed"`
}

type rawModelUsage struct {
	InputTokens                         int64   `json:"inputTokens"`
	OutputTokens                        int64   `json:"outputTokens"`
	CacheReadInputTokens                int64   `json:"cacheReadInputTokens"`
	CacheCreationInputTokens            int64   `json:"cacheCreationInputTokens"`
	CacheCreationEphemeral5mInputTokens int64   `json:"cacheCreationEphemeral5mInputTokens"`
	CacheCreationEphemeral1hInputTokens int64   `json:"cacheCreationEphemeral1hInputTokens"`
	WebSearchRequests                   int64   `json:"webSearchRequests"`
	CostUSD                             float64 `json:"costUSD"`
}

// block is one content block of a message.
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`          // tool_use
	Name      string          `json:"name"`        // tool_use
	Input     json.RawMessage `json:"input"`       // tool_use
	ToolUseID string          `json:"tool_use_id"` // tool_result
	Content   json.RawMessage `json:"content"`     // tool_result: a string or blocks
	IsError   bool            `json:"is_error"`    // tool_result
}

// blocks decodes message content, which is either a plain string (a typed prompt) or an
// array of blocks. A string comes back as one text block.
func blocks(content json.RawMessage) []block {
	c := bytes.TrimSpace(content)
	if len(c) == 0 {
		return nil
	}
	if c[0] == '"' {
		var s string
		if json.Unmarshal(c, &s) != nil {
			return nil
		}
		return []block{{Type: "text", Text: s}}
	}
	var bs []block
	if json.Unmarshal(c, &bs) != nil {
		return nil
	}
	return bs
}

// plainText returns the text of a tool_result's content (a string or text blocks).
func plainText(content json.RawMessage) string {
	var parts []string
	for _, b := range blocks(content) {
		if b.Type == "text" && b.Text != "" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// total is the size ccusage's dedup rule compares: the line with the largest wins.
func (u *rawUsage) total() int64 {
	return u.InputTokens + u.OutputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

// mayMatter is a cheap pre-filter: a line that names none of the types this package
// reads is skipped without decoding. Claude Code writes several large lines per request
// (system prompt snapshots, request shapes) that would otherwise dominate parsing time.
// Claude Code writes compact JSON; the spaced form is accepted too.
func mayMatter(line []byte) bool {
	for _, p := range typePatterns {
		if bytes.Contains(line, p) {
			return true
		}
	}
	return false
}

var typePatterns = [][]byte{
	[]byte(`"type":"assistant"`), []byte(`"type":"user"`), []byte(`"type":"cost-state"`),
	[]byte(`"type": "assistant"`), []byte(`"type": "user"`), []byte(`"type": "cost-state"`),
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
