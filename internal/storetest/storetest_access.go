package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// testDashboardSessions: a session reads back with its token until it expires, its token
// is revoked (directly or by disabling the user) or it is deleted; deleting twice is
// ErrNotFound; the sweep erases exactly the expired sessions and those of revoked tokens.
func testDashboardSessions(t *testing.T, s agenttrace.Store) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := s.CreateUser(ctx(t), agenttrace.User{Name: "dora", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []agenttrace.Token{
		{ID: "tok_r", Name: "r", Scope: agenttrace.ScopeRead, CreatedAt: t0},
		{ID: "tok_x", Name: "x", Scope: agenttrace.ScopeRead, CreatedAt: t0},
		{ID: "tok_d", Name: "d", Scope: agenttrace.ScopeReadOwn, User: "dora", CreatedAt: t0},
	} {
		if err := s.CreateToken(ctx(t), tok, "hash-"+tok.ID); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(hash, tokenID string, ttl time.Duration) {
		t.Helper()
		ds := agenttrace.DashboardSession{TokenID: tokenID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(ttl), UserAgent: "ua"}
		if err := s.CreateDashboardSession(ctx(t), hash, ds); err != nil {
			t.Fatalf("create session %s: %v", hash, err)
		}
	}
	mk("s-live", "tok_r", time.Hour)
	mk("s-old", "tok_r", time.Minute)
	mk("s-revoked", "tok_x", time.Hour)
	mk("s-disabled", "tok_d", time.Hour)
	mk("s-logout", "tok_r", time.Hour)
	if err := s.CreateDashboardSession(ctx(t), "", agenttrace.DashboardSession{TokenID: "tok_r"}); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("create without hash = %v, want ErrInvalid", err)
	}

	now := t0.Add(10 * time.Minute)
	ds, tok, err := s.DashboardSession(ctx(t), "s-live", now)
	if err != nil || tok.ID != "tok_r" || tok.Scope != agenttrace.ScopeRead || ds.TokenID != "tok_r" ||
		!ds.ExpiresAt.Equal(t0.Add(time.Hour)) || !ds.CreatedAt.Equal(t0) || ds.UserAgent != "ua" {
		t.Errorf("DashboardSession(s-live) = %+v, %+v, %v", ds, tok, err)
	}
	if err := s.TouchDashboardSession(ctx(t), "s-live", now); err != nil {
		t.Fatal(err)
	}
	if ds, _, _ := s.DashboardSession(ctx(t), "s-live", now); !ds.LastSeenAt.Equal(now) {
		t.Errorf("last seen %v after touch, want %v", ds.LastSeenAt, now)
	}
	if err := s.TouchDashboardSession(ctx(t), "s-unknown", now); err != nil {
		t.Errorf("touch unknown = %v, want nil", err)
	}
	if err := s.RevokeToken(ctx(t), "tok_x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableUser(ctx(t), "dora"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDashboardSession(ctx(t), "s-logout"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDashboardSession(ctx(t), "s-logout"); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("delete twice = %v, want ErrNotFound", err)
	}
	for _, hash := range []string{"s-old", "s-revoked", "s-disabled", "s-logout", "s-unknown"} {
		if _, _, err := s.DashboardSession(ctx(t), hash, now); !errors.Is(err, agenttrace.ErrNotFound) {
			t.Errorf("DashboardSession(%s) = %v, want ErrNotFound", hash, err)
		}
	}
	n, err := s.DeleteExpiredDashboardSessions(ctx(t), now)
	if got, want := n, 3; err != nil || got != want { // s-old, s-revoked, s-disabled
		t.Errorf("sweep = %d, %v; want %d", got, err, want)
	}
	if _, _, err := s.DashboardSession(ctx(t), "s-live", now); err != nil {
		t.Errorf("s-live after the sweep: %v", err)
	}
}

// testAudit: entries read back newest first with every field, page by cursor, filter by
// action and time range, refuse bad limits, cursors and entries, and are pruned by age.
func testAudit(t *testing.T, s agenttrace.Store) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var entries []agenttrace.AuditEntry
	for i := range 7 {
		action := agenttrace.AuditTokenCreate
		if i%2 == 1 {
			action = agenttrace.AuditRequestDenied
		}
		entries = append(entries, agenttrace.AuditEntry{Time: t0.Add(time.Duration(i) * time.Hour), Actor: "tok_a",
			ActorName: "a", ActorUser: "ann", Action: action, Target: "t" + string(rune('0'+i)), Outcome: agenttrace.AuditOK,
			Detail: "d", Remote: "192.0.2.1", Count: i})
	}
	if err := s.AppendAudit(ctx(t), entries[:3]...); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx(t), entries[3:]...); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx(t), agenttrace.AuditEntry{Time: t0, Outcome: agenttrace.AuditOK}); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("append without action = %v, want ErrInvalid", err)
	}
	var got []string
	cursor := ""
	for range 10 {
		page, err := s.Audit(ctx(t), agenttrace.AuditFilter{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			got = append(got, e.Target)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if want := "t6 t5 t4 t3 t2 t1 t0"; strings.Join(got, " ") != want {
		t.Errorf("pages = %v, want %s", got, want)
	}
	page, err := s.Audit(ctx(t), agenttrace.AuditFilter{Action: agenttrace.AuditRequestDenied, From: t0.Add(2 * time.Hour), To: t0.Add(5 * time.Hour)})
	if err != nil || len(page.Entries) != 1 || page.NextCursor != "" {
		t.Fatalf("filtered = %+v, %v; want t3 alone", page, err)
	}
	want := entries[3]
	want.ID = page.Entries[0].ID
	if g := page.Entries[0]; g != want {
		t.Errorf("entry = %+v, want %+v", g, want)
	}
	if page, _ := s.Audit(ctx(t), agenttrace.AuditFilter{Limit: 1}); page.Entries[0].Count != 6 {
		t.Errorf("count = %d, want 6", page.Entries[0].Count)
	}
	if page, _ := s.Audit(ctx(t), agenttrace.AuditFilter{Action: agenttrace.AuditTokenCreate, To: t0.Add(time.Minute)}); len(page.Entries) != 1 || page.Entries[0].Count != 1 {
		t.Errorf("an entry appended with count 0 reads back as %+v, want count 1", page.Entries)
	}
	for _, f := range []agenttrace.AuditFilter{{Limit: 201}, {Limit: -1}, {Cursor: "not a cursor"}} {
		if _, err := s.Audit(ctx(t), f); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("Audit(%+v) = %v, want ErrInvalid", f, err)
		}
	}
	n, err := s.PruneAudit(ctx(t), t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Errorf("prune = %d, %v; want 2", n, err)
	}
	if page, _ := s.Audit(ctx(t), agenttrace.AuditFilter{}); len(page.Entries) != 5 {
		t.Errorf("%d entries after pruning, want 5", len(page.Entries))
	}
}
