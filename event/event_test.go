package event

import "testing"

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
