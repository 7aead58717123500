package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// testUsers: users are created once, listed by name, and disabling one revokes exactly
// their live tokens at once (in the same write), is idempotent, and is ErrNotFound for
// an unknown name.
func testUsers(t *testing.T, s agenttrace.Store) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, u := range []agenttrace.User{
		{Name: "carol", Team: "b", CreatedAt: t0}, {Name: "alice", Team: "a", CreatedAt: t0}, {Name: "bob", Team: "a", CreatedAt: t0},
	} {
		if err := s.CreateUser(ctx(t), u); err != nil {
			t.Fatalf("create user %d: %v", i, err)
		}
	}
	for _, bad := range []agenttrace.User{{Name: "alice", Team: "b"}, {Team: "a"}} {
		if err := s.CreateUser(ctx(t), bad); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("CreateUser(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	for _, tok := range []agenttrace.Token{
		{ID: "tok_a1", Name: "a1", Scope: agenttrace.ScopeIngest, User: "alice", Team: "a"},
		{ID: "tok_a2", Name: "a2", Scope: agenttrace.ScopeReadOwn, User: "alice"},
		{ID: "tok_b1", Name: "b1", Scope: agenttrace.ScopeIngest, User: "bob", Team: "a"},
	} {
		if err := s.CreateToken(ctx(t), tok, "hash-"+tok.ID); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DisableUser(ctx(t), "alice")
	if err != nil || n != 2 {
		t.Errorf("DisableUser(alice) = %d, %v; want 2 tokens revoked", n, err)
	}
	for hash, live := range map[string]bool{"hash-tok_a1": false, "hash-tok_a2": false, "hash-tok_b1": true} {
		if _, err := s.TokenBySecretHash(ctx(t), hash); (err == nil) != live {
			t.Errorf("%s: lookup %v, want live %v", hash, err, live)
		}
	}
	if n, err := s.DisableUser(ctx(t), "alice"); err != nil || n != 0 {
		t.Errorf("DisableUser(alice) again = %d, %v; want 0, nil", n, err)
	}
	if _, err := s.DisableUser(ctx(t), "nobody"); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("DisableUser(nobody) = %v, want ErrNotFound", err)
	}
	users, err := s.Users(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Name+"/"+u.Team+"/"+map[bool]string{true: "disabled", false: "active"}[u.DisabledAt != nil])
		if !u.CreatedAt.Equal(t0) {
			t.Errorf("%s created at %v, want %v", u.Name, u.CreatedAt, t0)
		}
	}
	want := []string{"alice/a/disabled", "bob/a/active", "carol/b/active"}
	if !slices.Equal(got, want) {
		t.Errorf("users = %q, want %q", got, want)
	}
}
