// Package fakeanthropic is a scripted stand-in for the Anthropic Messages API, good enough
// to drive the real Claude Code CLI through a session in tests without a network.
//
// A Script maps a conversation, recognised by a marker string in its first user message,
// to the assistant turns the model should answer with: turn N is chosen by how many
// assistant messages the request already carries. Each turn is streamed as the real API
// streams it (message_start, content blocks with text and tool_use deltas, message_delta
// with usage, message_stop), so the CLI writes its transcript and computes its cost exactly
// as it would against the real service. Requests no script recognises (title generation,
// token counting, model lists) get a short answer with zero usage, and every request is
// recorded so a test can see what the CLI asked for.
package fakeanthropic

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
)

// Usage is what one response reports. The CLI sums these into its own totals.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	// CacheCreation splits CacheCreationInputTokens by cache lifetime, as the API does
	// when the request asked for 1-hour caching; nil sends no split.
	CacheCreation *CacheCreation `json:"cache_creation,omitempty"`
}

// CacheCreation is the API's split of cache writes by lifetime.
type CacheCreation struct {
	Ephemeral5mInputTokens int64 `json:"ephemeral_5m_input_tokens"`
	Ephemeral1hInputTokens int64 `json:"ephemeral_1h_input_tokens"`
}

// ToolUse is one tool_use block the model asks the CLI to run.
type ToolUse struct {
	Name  string
	Input map[string]any
	// ID is filled in by the server when empty; Turn.ToolIDs reports it.
	ID string
}

// Turn is one assistant response.
type Turn struct {
	Text     string    // optional text block, sent before any tool_use blocks
	ToolUses []ToolUse // tool_use blocks; when empty the turn ends the conversation
	Usage    Usage
}

// Conversation is a scripted exchange. Marker must occur in the text of the request's first
// user message (Claude Code prepends context to it, so an exact match would be fragile).
type Conversation struct {
	Marker string
	Turns  []Turn
}

// Request is one request the CLI sent, kept for assertions and debugging.
type Request struct {
	Method, Path string
	Stream       bool
	Model        string
	Tools        int    // how many tools the request offered the model
	Marker       string // the conversation it matched; empty when none did
	Turn         int    // the turn answered, -1 when unscripted
	MessageID    string // the id of the message sent back
	Usage        Usage  // the usage reported back
	ToolUseIDs   []string
	// ToolResults are the tool_result blocks of the request's last message: what the CLI
	// sends back for the tools the previous turn asked for.
	ToolResults []ToolResult
	ToolNames   []string // the tools the request offered, by name
}

// ToolResult is one tool_result block: the tool_use it answers and its text.
type ToolResult struct {
	ToolUseID string
	Text      string
	IsError   bool
}

// Server is a running fake API.
type Server struct {
	*httptest.Server

	// Model is the model name reported in responses; the CLI prices by it.
	Model string

	// prefix makes message, request and tool_use IDs unique across servers, as the real
	// API's are: consumers key usage by message ID and tool calls by tool_use ID.
	prefix        string
	mu            sync.Mutex
	conversations []Conversation
	requests      []Request
	seq           atomic.Int64
}

// New starts a fake API on a loopback port serving the given conversations.
func New(model string, conversations ...Conversation) *Server {
	var b [6]byte
	_, _ = rand.Read(b[:])
	s := &Server{Model: model, conversations: conversations, prefix: hex.EncodeToString(b[:])}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// TotalUsage sums the usage reported in every response, scripted or not.
func (s *Server) TotalUsage() Usage {
	var u Usage
	for _, r := range s.Requests() {
		u.InputTokens += r.Usage.InputTokens
		u.OutputTokens += r.Usage.OutputTokens
		u.CacheCreationInputTokens += r.Usage.CacheCreationInputTokens
		u.CacheReadInputTokens += r.Usage.CacheReadInputTokens
	}
	return u
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type messagesRequest struct {
	Model    string    `json:"model"`
	Stream   bool      `json:"stream"`
	Messages []message `json:"messages"`
	Tools    []struct {
		Name string `json:"name"`
	} `json:"tools"`
}

// toolResults are the tool_result blocks of the last message, their content flattened
// to text (a string, or text blocks).
func (r messagesRequest) toolResults() []ToolResult {
	if len(r.Messages) == 0 {
		return nil
	}
	var blocks []struct {
		Type      string          `json:"type"`
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
		IsError   bool            `json:"is_error"`
	}
	if json.Unmarshal(r.Messages[len(r.Messages)-1].Content, &blocks) != nil {
		return nil
	}
	var out []ToolResult
	for _, b := range blocks {
		if b.Type == "tool_result" {
			out = append(out, ToolResult{ToolUseID: b.ToolUseID, IsError: b.IsError,
				Text: message{Content: b.Content}.text()})
		}
	}
	return out
}

// text flattens a message's content (a string or a list of blocks) into its text parts.
func (m message) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Content, &blocks) != nil {
		return ""
	}
	var b strings.Builder
	for _, bl := range blocks {
		if bl.Type == "text" {
			b.WriteString(bl.Text)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path := r.URL.Path
	switch {
	case r.Method == http.MethodPost && path == "/v1/messages":
		s.messages(w, body)
	case r.Method == http.MethodPost && path == "/v1/messages/count_tokens":
		s.record(Request{Method: r.Method, Path: path, Turn: -1})
		writeJSON(w, map[string]any{"input_tokens": 100})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/v1/models"):
		s.record(Request{Method: r.Method, Path: path, Turn: -1})
		writeJSON(w, map[string]any{
			"data":     []any{map[string]any{"type": "model", "id": s.Model, "display_name": s.Model, "created_at": "2026-01-01T00:00:00Z"}},
			"has_more": false, "first_id": s.Model, "last_id": s.Model,
		})
	default:
		// Unknown endpoints are recorded so a test can report what the CLI wanted.
		s.record(Request{Method: r.Method, Path: path, Turn: -1})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"type":"error","error":{"type":"not_found_error","message":"not found"}}`)
	}
}

func (s *Server) messages(w http.ResponseWriter, body []byte) {
	var req messagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"invalid_request_error","message":%q}}`, err.Error())
		return
	}
	turn, marker, idx := s.pick(req)
	n := s.seq.Add(1)
	msgID := fmt.Sprintf("msg_fake%s%04d", s.prefix, n)
	for i := range turn.ToolUses {
		if turn.ToolUses[i].ID == "" {
			turn.ToolUses[i].ID = fmt.Sprintf("toolu_fake%s%04d%d", s.prefix, n, i)
		}
	}
	rec := Request{Method: http.MethodPost, Path: "/v1/messages", Stream: req.Stream, Model: req.Model,
		Tools: len(req.Tools), Marker: marker, Turn: idx, MessageID: msgID, Usage: turn.Usage,
		ToolResults: req.toolResults()}
	for _, t := range req.Tools {
		rec.ToolNames = append(rec.ToolNames, t.Name)
	}
	for _, tu := range turn.ToolUses {
		rec.ToolUseIDs = append(rec.ToolUseIDs, tu.ID)
	}
	s.record(rec)

	stop := "end_turn"
	if len(turn.ToolUses) > 0 {
		stop = "tool_use"
	}
	w.Header().Set("request-id", fmt.Sprintf("req_fake%s%04d", s.prefix, n))
	if !req.Stream {
		var content []any
		if turn.Text != "" {
			content = append(content, map[string]any{"type": "text", "text": turn.Text})
		}
		for _, tu := range turn.ToolUses {
			content = append(content, map[string]any{"type": "tool_use", "id": tu.ID, "name": tu.Name, "input": tu.Input})
		}
		writeJSON(w, map[string]any{
			"id": msgID, "type": "message", "role": "assistant", "model": s.Model,
			"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": turn.Usage,
		})
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	bw := bufio.NewWriter(w)
	send := func(typ string, v map[string]any) {
		v["type"] = typ
		b, _ := json.Marshal(v)
		fmt.Fprintf(bw, "event: %s\ndata: %s\n\n", typ, b)
	}
	// message_start carries the input side of the usage and a provisional output count,
	// as the real API does; message_delta carries the final counts.
	start := turn.Usage
	start.OutputTokens = 1
	send("message_start", map[string]any{"message": map[string]any{
		"id": msgID, "type": "message", "role": "assistant", "model": s.Model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": start,
	}})
	index := 0
	if turn.Text != "" {
		send("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "text", "text": ""}})
		// Two deltas, so the CLI has to assemble the text like it does for real streams.
		half := len(turn.Text) / 2
		send("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "text_delta", "text": turn.Text[:half]}})
		send("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "text_delta", "text": turn.Text[half:]}})
		send("content_block_stop", map[string]any{"index": index})
		index++
	}
	for _, tu := range turn.ToolUses {
		input, _ := json.Marshal(tu.Input)
		send("content_block_start", map[string]any{"index": index, "content_block": map[string]any{
			"type": "tool_use", "id": tu.ID, "name": tu.Name, "input": map[string]any{}}})
		half := len(input) / 2
		send("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "input_json_delta", "partial_json": string(input[:half])}})
		send("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "input_json_delta", "partial_json": string(input[half:])}})
		send("content_block_stop", map[string]any{"index": index})
		index++
	}
	send("message_delta", map[string]any{
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": turn.Usage,
	})
	send("message_stop", map[string]any{})
	bw.Flush()
}

// pick finds the scripted turn for a request: the conversation whose marker is in the first
// user message, and the turn numbered by the assistant messages already exchanged.
//
// Only requests that offer tools can match: the CLI's side requests (a session title, say)
// quote the user's prompt, marker included, but offer no tools.
func (s *Server) pick(req messagesRequest) (Turn, string, int) {
	if len(req.Messages) > 0 && len(req.Tools) > 0 {
		first := req.Messages[0].text()
		assistants := 0
		for _, m := range req.Messages {
			if m.Role == "assistant" {
				assistants++
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conversations {
			if c.Marker != "" && strings.Contains(first, c.Marker) && assistants < len(c.Turns) {
				t := c.Turns[assistants]
				t.ToolUses = append([]ToolUse(nil), t.ToolUses...)
				return t, c.Marker, assistants
			}
		}
	}
	// Side requests (titles, summaries) report no usage, so the session's totals are the
	// scripted turns' and nothing else.
	return Turn{Text: "OK"}, "", -1
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
