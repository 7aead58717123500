package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

func TestCheckNewToken(t *testing.T) {
	ok := agenttrace.Token{ID: "t1", Name: "ci", Scope: agenttrace.ScopeIngest}
	for _, tc := range []struct {
		name  string
		tok   agenttrace.Token
		hash  string
		valid bool
	}{
		{"ok", ok, "h", true},
		{"no hash", ok, "", false},
		{"no name", agenttrace.Token{ID: "t1", Scope: agenttrace.ScopeRead}, "h", false},
		{"bad scope", agenttrace.Token{ID: "t1", Name: "ci", Scope: "root"}, "h", false},
	} {
		err := checkNewToken(tc.tok, tc.hash)
		if (err == nil) != tc.valid || (err != nil && !errors.Is(err, agenttrace.ErrInvalid)) {
			t.Errorf("%s: err = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

func TestGroupColumn(t *testing.T) {
	for _, tc := range []struct{ by, want string }{
		{agenttrace.GroupBySession, "session_id"}, {agenttrace.GroupByModel, "model"},
		{agenttrace.GroupByUser, `"user"`}, {agenttrace.GroupByRepo, "repo"},
	} {
		if got, err := GroupColumn(tc.by, `"user"`); got != tc.want || err != nil {
			t.Errorf("GroupColumn(%q) = %q, %v; want %q", tc.by, got, err, tc.want)
		}
	}
	if _, err := GroupColumn("day", "user"); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("unknown group_by: err = %v, want ErrInvalid", err)
	}
}

func TestNewTokenCreatedTime(t *testing.T) {
	now := func() time.Time { return time.UnixMilli(5000) }
	tok := agenttrace.Token{ID: "t1", Name: "ci", Scope: agenttrace.ScopeAdmin}
	if got, err := NewToken(tok, "h", now); got != 5000 || err != nil {
		t.Errorf("without CreatedAt = %d, %v; want 5000 (now)", got, err)
	}
	tok.CreatedAt = time.UnixMilli(42)
	if got, err := NewToken(tok, "h", now); got != 42 || err != nil {
		t.Errorf("with CreatedAt = %d, %v; want 42", got, err)
	}
	if _, err := NewToken(tok, "", now); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("without hash: err = %v, want ErrInvalid", err)
	}
}
