package fakeanthropic

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url+"/v1/messages", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return resp
}

// TestStreamFollowsScript checks the streamed events of a scripted tool_use turn: their
// order, the reassembled tool input, and the usage in message_start and message_delta.
func TestStreamFollowsScript(t *testing.T) {
	s := New("claude-opus-5-5", Conversation{Marker: "MARK", Turns: []Turn{
		{Text: "Running it.", ToolUses: []ToolUse{{Name: "Bash", Input: map[string]any{"command": "echo hi"}}}, Usage: Usage{InputTokens: 10, OutputTokens: 7, CacheReadInputTokens: 3}},
		{Text: "Done.", Usage: Usage{InputTokens: 2, OutputTokens: 1}},
	}})
	defer s.Close()

	resp := post(t, s.URL, `{"model":"m","stream":true,"tools":[{"name":"Bash"}],"messages":[{"role":"user","content":[{"type":"text","text":"context\nMARK do it"}]}]}`)
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Type"); got != "text/event-stream" {
		t.Fatalf("Content-Type = %q", got)
	}
	var types []string
	var text, input strings.Builder
	var startUsage, deltaUsage Usage
	var toolID string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		var ev struct {
			Type    string `json:"type"`
			Message struct {
				Usage Usage `json:"usage"`
			} `json:"message"`
			ContentBlock struct {
				Type, ID, Name string
			} `json:"content_block"`
			Delta struct {
				Type, Text  string
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			} `json:"delta"`
			Usage Usage `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line[len("data: "):]), &ev); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		types = append(types, ev.Type)
		switch ev.Type {
		case "message_start":
			startUsage = ev.Message.Usage
		case "content_block_start":
			if ev.ContentBlock.Type == "tool_use" {
				toolID = ev.ContentBlock.ID
			}
		case "content_block_delta":
			text.WriteString(ev.Delta.Text)
			input.WriteString(ev.Delta.PartialJSON)
		case "message_delta":
			deltaUsage = ev.Usage
			if ev.Delta.StopReason != "tool_use" {
				t.Errorf("stop_reason = %q, want tool_use", ev.Delta.StopReason)
			}
		}
	}
	want := "message_start content_block_start content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	if text.String() != "Running it." {
		t.Errorf("text = %q", text.String())
	}
	if input.String() != `{"command":"echo hi"}` {
		t.Errorf("tool input = %q", input.String())
	}
	if startUsage.InputTokens != 10 || startUsage.CacheReadInputTokens != 3 || deltaUsage.OutputTokens != 7 {
		t.Errorf("usage: start %+v, delta %+v", startUsage, deltaUsage)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Turn != 0 || reqs[0].Marker != "MARK" || len(reqs[0].ToolUseIDs) != 1 || reqs[0].ToolUseIDs[0] != toolID {
		t.Errorf("recorded %+v, tool id %q", reqs, toolID)
	}
}

// TestPickTurnsAndSideRequests: the turn follows the assistant messages already exchanged;
// a request offering no tools (a title request quoting the prompt) is not the conversation.
func TestPickTurnsAndSideRequests(t *testing.T) {
	s := New("claude-opus-5-5", Conversation{Marker: "MARK", Turns: []Turn{
		{Text: "first", Usage: Usage{InputTokens: 1}},
		{Text: "second", Usage: Usage{InputTokens: 2}},
	}})
	defer s.Close()
	bodies := []string{
		`{"stream":false,"tools":[{"name":"Bash"}],"messages":[{"role":"user","content":"MARK go"},{"role":"assistant","content":"first"},{"role":"user","content":"more"}]}`,
		`{"stream":false,"messages":[{"role":"user","content":"Write a title for: MARK go"}]}`,
	}
	var texts []string
	for _, b := range bodies {
		resp := post(t, s.URL, b)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m struct {
			Content []struct{ Text string } `json:"content"`
			Usage   Usage                   `json:"usage"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || len(m.Content) == 0 {
			t.Fatalf("response %s: %v", raw, err)
		}
		texts = append(texts, m.Content[0].Text)
	}
	if got, want := strings.Join(texts, ","), "second,OK"; got != want {
		t.Errorf("answers = %s, want %s", got, want)
	}
	if u := s.TotalUsage(); u.InputTokens != 2 {
		t.Errorf("total usage = %+v, want only the scripted turn's", u)
	}
}

func TestUnknownPathsAreRecorded(t *testing.T) {
	s := New("m")
	defer s.Close()
	resp, err := http.Get(s.URL + "/v1/something")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d, want 404", resp.StatusCode)
	}
	if r := s.Requests(); len(r) != 1 || r[0].Path != "/v1/something" {
		t.Errorf("requests = %+v", r)
	}
}
