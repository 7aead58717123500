package otlp_test

import (
	"maps"
	"sync"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/otlp"
)

// counter sums what the store reported storing, through the receiver's Notify hook.
type counter struct {
	mu                 sync.Mutex
	stored, duplicates int
}

func (c *counter) notify(res agenttrace.IngestResult, _ []event.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stored += res.Stored
	c.duplicates += res.Duplicates
}

func (c *counter) reset() (stored, duplicates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stored, duplicates = c.stored, c.duplicates
	c.stored, c.duplicates = 0, 0
	return stored, duplicates
}

// Every recorded session, in the encoding it was recorded in, stores one event per log
// record, data point and span (counted in the recordings' CATALOG and .meta files), and
// sending it all again stores nothing new.
func TestRecordedSessions(t *testing.T) {
	commit := map[string]int{"api_request": 5, "assistant_response": 2, "otel_event": 36, "span": 18,
		"tool_decision": 4, "tool_result": 4, "user_prompt": 1}
	with := func(m map[string]int, metrics int) map[string]int {
		out := maps.Clone(m)
		out["metric"] = metrics
		return out
	}
	utils := map[string]int{"api_request": 6, "assistant_response": 2, "otel_event": 56, "span": 20,
		"tool_decision": 4, "tool_result": 4, "user_prompt": 2}
	tests := []struct {
		encoding, session string
		want              map[string]int
	}{
		// The metric points differ per recording: each run exported a different number
		// of one-second intervals.
		{"http_json", "commit", with(commit, 22)},
		{"http_json", "utils", with(utils, 31)},
		{"http_json", "pr", map[string]int{"api_request": 5, "assistant_response": 1, "metric": 22, "otel_event": 36,
			"span": 18, "tool_decision": 4, "tool_result": 4, "user_prompt": 1}},
		{"http_json", "subagent", map[string]int{"api_request": 5, "assistant_response": 3, "metric": 28, "otel_event": 36,
			"span": 13, "subagent_completed": 1, "tool_decision": 2, "tool_result": 2, "user_prompt": 2}},
		{"http_json", "apierror", map[string]int{"api_error": 2, "metric": 2, "otel_event": 18, "span": 2, "user_prompt": 1}},
		{"http_json", "denied", map[string]int{"api_request": 5, "assistant_response": 2, "metric": 13, "otel_event": 28,
			"span": 13, "tool_decision": 3, "tool_result": 1, "user_prompt": 1}},
		{"http_json_optin", "utils", with(utils, 38)},
		{"http_json_gzip", "commit", with(commit, 24)},
		{"http_protobuf", "commit", with(commit, 17)},
		{"http_protobuf_gzip", "commit", with(commit, 22)},
		{"grpc", "commit", with(commit, 24)},
		{"grpc_gzip", "commit", with(commit, 22)},
	}
	for _, tt := range tests {
		t.Run(tt.encoding+"/"+tt.session, func(t *testing.T) {
			var c counter
			s := mustServer(t, otlp.Options{Tier: event.TierFull, Notify: c.notify})
			payloads := loadPayloads(t, tt.encoding, tt.session)
			send := senders[tt.encoding]
			for _, p := range payloads {
				if n := send(t, s, p); n != 0 {
					t.Errorf("%s: %d rejected, want 0", p.Name, n)
				}
			}
			got := s.kinds(t)
			if !maps.Equal(got, tt.want) {
				t.Errorf("stored kinds = %v, want %v", got, tt.want)
			}
			total := 0
			for _, n := range tt.want {
				total += n
			}
			if stored, _ := c.reset(); stored != total {
				t.Errorf("stored %d events, want %d", stored, total)
			}
			if s.Recv.LastReceived().IsZero() {
				t.Error("LastReceived is zero after storing")
			}

			for _, p := range payloads {
				send(t, s, p)
			}
			if stored, dups := c.reset(); stored != 0 || dups != total {
				t.Errorf("sending again: stored %d, duplicates %d; want 0 and %d", stored, dups, total)
			}
			if got := s.kinds(t); !maps.Equal(got, tt.want) {
				t.Errorf("after sending again, stored kinds = %v, want %v", got, tt.want)
			}
		})
	}
}
