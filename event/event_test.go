package event

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestUsageTotal(t *testing.T) {
	tests := []struct {
		name        string
		u           Usage
		writes, all int64
	}{
		{"no split", Usage{InputTokens: 1, OutputTokens: 2, CacheCreationInputTokens: 30, CacheReadInputTokens: 400}, 30, 433},
		{"split equals total", Usage{CacheCreationInputTokens: 30, CacheCreation5mTokens: 10, CacheCreation1hTokens: 20}, 30, 30},
		// Claude Code once reported writes only through the split (total 0).
		{"split only", Usage{InputTokens: 1, CacheCreation5mTokens: 10, CacheCreation1hTokens: 20}, 30, 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.u.CacheWrites(); got != tt.writes {
				t.Errorf("CacheWrites() = %d, want %d", got, tt.writes)
			}
			if got := tt.u.Total(); got != tt.all {
				t.Errorf("Total() = %d, want %d", got, tt.all)
			}
		})
	}
}

func TestHookIDStable(t *testing.T) {
	raw := []byte(`{"session_id":"s","hook_event_name":"Stop"}`)
	if a, b := HookID("s", "Stop", "", "", "", raw), HookID("s", "Stop", "", "", "", raw); a != b {
		t.Errorf("same payload, IDs %s and %s", a, b)
	}
	if a, b := HookID("s", "PreToolUse", "t1", "p", "", raw), HookID("s", "PostToolUse", "t1", "p", "", raw); a == b {
		t.Error("PreToolUse and PostToolUse of one call share an ID")
	}
	if a, b := HookID("s", "UserPromptSubmit", "", "p1", "", []byte("x")), HookID("s", "UserPromptSubmit", "", "p1", "", []byte("y")); a != b {
		t.Error("a prompt's ID depends on its payload bytes, so an import would not match live capture")
	}
}

// No event may carry a number that could break a sum or mean nothing: each out-of-range
// field is named.
func TestValidateRanges(t *testing.T) {
	now := time.Now()
	base := func() Event {
		return Event{ID: "e", Kind: KindUsage, SessionID: "s", Time: now, Tier: TierMetadata,
			Usage: &Usage{MessageID: "m", Model: "x", InputTokens: 10}}
	}
	tests := []struct {
		field string
		edit  func(e *Event)
	}{
		{"usage.input_tokens", func(e *Event) { e.Usage.InputTokens = math.MaxInt64 }},
		{"usage.output_tokens", func(e *Event) { e.Usage.OutputTokens = -1_000_000_000 }},
		{"usage.cache_read_input_tokens", func(e *Event) { e.Usage.CacheReadInputTokens = MaxTokens + 1 }},
		{"commit.lines_added", func(e *Event) {
			e.Kind, e.Usage, e.Commit = KindCommit, nil, &Commit{SHA: "abc", LinesAdded: math.MinInt32}
		}},
		{"commit.files_changed", func(e *Event) { e.Kind, e.Usage, e.Commit = KindCommit, nil, &Commit{SHA: "abc", FilesChanged: -1} }},
		{"cost_state.total_cost_usd", func(e *Event) { e.Kind, e.Usage, e.CostState = KindCostState, nil, &CostState{TotalCostUSD: 1e308} }},
		{"cost_state.total_cost_usd", func(e *Event) {
			e.Kind, e.Usage, e.CostState = KindCostState, nil, &CostState{TotalCostUSD: math.NaN()}
		}},
		{"lines_added", func(e *Event) { e.LinesAdded = -2147483648 }},
		{"pull_request.number", func(e *Event) { e.Kind, e.Usage, e.PullRequest = KindPullRequest, nil, &PullRequest{Number: -5} }},
		{"time", func(e *Event) { e.Time = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC) }},
		{"time", func(e *Event) { e.Time = now.Add(30 * 24 * time.Hour) }},
	}
	ok := base()
	if err := ok.Validate(); err != nil {
		t.Fatalf("a valid event: %v", err)
	}
	for _, tt := range tests {
		e := base()
		tt.edit(&e)
		err := e.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: Validate = %v, want an error naming %s", tt.field, err, tt.field)
		}
	}
}
