package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/server"
)

func TestCheckNewToken(t *testing.T) {
	ok := server.Token{ID: "t1", Name: "ci", Scope: server.ScopeIngest}
	for _, tc := range []struct {
		name  string
		tok   server.Token
		hash  string
		valid bool
	}{
		{"ok", ok, "h", true},
		{"no hash", ok, "", false},
		{"no name", server.Token{ID: "t1", Scope: server.ScopeRead}, "h", false},
		{"bad scope", server.Token{ID: "t1", Name: "ci", Scope: "root"}, "h", false},
	} {
		err := checkNewToken(tc.tok, tc.hash)
		if (err == nil) != tc.valid || (err != nil && !errors.Is(err, server.ErrInvalid)) {
			t.Errorf("%s: err = %v, want valid %v", tc.name, err, tc.valid)
		}
	}
}

func TestGroupColumn(t *testing.T) {
	for _, tc := range []struct{ by, want string }{
		{server.GroupBySession, "session_id"}, {server.GroupByModel, "model"},
		{server.GroupByUser, `"user"`}, {server.GroupByRepo, "repo"},
	} {
		if got, err := GroupColumn(tc.by, `"user"`); got != tc.want || err != nil {
			t.Errorf("GroupColumn(%q) = %q, %v; want %q", tc.by, got, err, tc.want)
		}
	}
	if _, err := GroupColumn("day", "user"); !errors.Is(err, server.ErrInvalid) {
		t.Errorf("unknown group_by: err = %v, want ErrInvalid", err)
	}
}

func TestNewTokenCreatedTime(t *testing.T) {
	now := func() time.Time { return time.UnixMilli(5000) }
	tok := server.Token{ID: "t1", Name: "ci", Scope: server.ScopeAdmin}
	if got, err := NewToken(tok, "h", now); got != 5000 || err != nil {
		t.Errorf("without CreatedAt = %d, %v; want 5000 (now)", got, err)
	}
	tok.CreatedAt = time.UnixMilli(42)
	if got, err := NewToken(tok, "h", now); got != 42 || err != nil {
		t.Errorf("with CreatedAt = %d, %v; want 42", got, err)
	}
	if _, err := NewToken(tok, "", now); !errors.Is(err, server.ErrInvalid) {
		t.Errorf("without hash: err = %v, want ErrInvalid", err)
	}
}
