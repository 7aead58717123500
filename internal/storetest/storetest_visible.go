package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// testVisibleUsers: a context restricted by agenttrace.WithVisibleUsers sees only those
// users' sessions in every read: list (text search too), detail, events, commits, pull
// requests, summary and daily cost; another user's session is not found.
func testVisibleUsers(t *testing.T, s agenttrace.Store) {
	all := ingestGenerated(t, s, 5, 40, 40)
	users := []string{GenUsers[0], GenUsers[1]}
	rctx := agenttrace.WithVisibleUsers(ctx(t), users)
	var mine, theirs []string
	for id, sess := range all {
		if slices.Contains(users, sess.User) {
			mine = append(mine, id)
		} else {
			theirs = append(theirs, id)
		}
	}
	if len(mine) == 0 || len(theirs) == 0 {
		t.Fatalf("generated %d visible and %d hidden sessions; the test proves nothing", len(mine), len(theirs))
	}
	got := listAllCtx(t, rctx, s, agenttrace.SessionFilter{Limit: 7})
	if len(got) != len(mine) {
		t.Errorf("restricted list: %d sessions, want %d", len(got), len(mine))
	}
	for _, sum := range got {
		if !slices.Contains(users, sum.User) {
			t.Errorf("restricted list shows %s of %s", sum.ID, sum.User)
		}
	}
	if _, err := s.Session(rctx, mine[0]); err != nil {
		t.Errorf("visible session: %v", err)
	}
	if _, err := s.Session(rctx, theirs[0]); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("hidden session: %v, want ErrNotFound", err)
	}
	if _, err := s.Events(rctx, theirs[0], "", 10); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("hidden session's events: %v, want ErrNotFound", err)
	}
	checkVisibleGit(t, rctx, s, all, users)
	checkVisibleTotals(t, rctx, s, all, users)
	none := agenttrace.WithVisibleUsers(ctx(t), nil)
	if page, err := s.ListSessions(none, agenttrace.SessionFilter{}); err != nil || len(page.Sessions) != 0 {
		t.Errorf("restricted to nobody: %d sessions, %v; want none", len(page.Sessions), err)
	}
}

func checkVisibleGit(t *testing.T, rctx context.Context, s agenttrace.Store, all map[string]*agenttrace.Session, users []string) {
	t.Helper()
	want := allCommits(all, func(c agenttrace.Commit) bool { return slices.Contains(users, c.User) })
	var got []string
	f := agenttrace.CommitFilter{Limit: 200}
	for {
		page, err := s.Commits(rctx, f)
		if err != nil {
			t.Fatalf("restricted commits: %v", err)
		}
		for _, c := range page.Commits {
			got = append(got, c.SHA)
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if len(got) != len(want) {
		t.Errorf("restricted commits: %d, want %d", len(got), len(want))
	}
	prs, err := s.PullRequests(rctx, agenttrace.CommitFilter{Limit: 200})
	if err != nil {
		t.Fatalf("restricted pull requests: %v", err)
	}
	for _, p := range prs.PullRequests {
		if !slices.Contains(users, p.User) {
			t.Errorf("restricted pull requests show one of %s", p.User)
		}
	}
}

func checkVisibleTotals(t *testing.T, rctx context.Context, s agenttrace.Store, all map[string]*agenttrace.Session, users []string) {
	t.Helper()
	from, to := GenEnd.Add(-200*24*time.Hour), GenEnd.Add(24*time.Hour)
	wantSessions, wantCommits := 0, 0
	for _, sess := range all {
		if slices.Contains(users, sess.User) {
			wantSessions++
			wantCommits += sess.CommitCount
		}
	}
	sum, err := s.Summary(rctx, from, to)
	if err != nil {
		t.Fatalf("restricted summary: %v", err)
	}
	if got, want := sum.Sessions, wantSessions; got != want {
		t.Errorf("restricted summary: %d sessions, want %d", got, want)
	}
	if got, want := sum.Commits, wantCommits; got != want {
		t.Errorf("restricted summary: %d commits, want %d", got, want)
	}
	days, err := s.DailyCost(rctx, from, to, agenttrace.GroupByUser)
	if err != nil {
		t.Fatalf("restricted daily cost: %v", err)
	}
	if len(days) == 0 {
		t.Error("restricted daily cost: no rows; the test proves nothing")
	}
	for _, d := range days {
		if !slices.Contains(users, d.Key) {
			t.Errorf("restricted daily cost has a row of %s", d.Key)
		}
	}
	rows, err := s.Breakdown(rctx, agenttrace.BreakdownFilter{From: from, To: to, By: agenttrace.BreakdownByUser})
	if err != nil {
		t.Fatalf("restricted breakdown: %v", err)
	}
	breakdownSessions := 0
	for _, r := range rows {
		breakdownSessions += r.Sessions
		if !slices.Contains(users, r.User) {
			t.Errorf("restricted breakdown has a row of %s", r.User)
		}
	}
	if breakdownSessions != wantSessions {
		t.Errorf("restricted breakdown: %d sessions, want %d", breakdownSessions, wantSessions)
	}
	wantCalls := 0
	for _, sess := range all {
		if slices.Contains(users, sess.User) && !sess.StartedAt.Before(from) && sess.StartedAt.Before(to) {
			wantCalls += sess.ToolCallCount
		}
	}
	tools, err := s.Tools(rctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatalf("restricted tools: %v", err)
	}
	calls := 0
	for _, st := range tools.Tools {
		calls += st.Calls
	}
	if calls != wantCalls || wantCalls == 0 {
		t.Errorf("restricted tools: %d calls, want the %d of the visible sessions", calls, wantCalls)
	}
}

// testSessionUsers: Owners.SessionUsers names the user of each stored session asked
// about and leaves out unknown ones.
func testSessionUsers(t *testing.T, s agenttrace.Store) {
	all := ingestGenerated(t, s, 6, 5, 10)
	var ids []string
	for id := range all {
		ids = append(ids, id)
	}
	got, err := s.SessionUsers(ctx(t), append(ids, "no-such-session"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Errorf("SessionUsers: %d entries, want %d", len(got), len(all))
	}
	for id, sess := range all {
		if got[id] != sess.User {
			t.Errorf("SessionUsers[%s] = %q, want %q", id, got[id], sess.User)
		}
	}
	if empty, err := s.SessionUsers(ctx(t), nil); err != nil || len(empty) != 0 {
		t.Errorf("SessionUsers(nil) = %v, %v; want empty", empty, err)
	}
}

// testTokenUsers: tokens keep their user and team; RevokeUserTokens revokes exactly the
// live tokens of one user; scopes that need a user or team refuse a token without.
func testTokenUsers(t *testing.T, s agenttrace.Store) {
	toks := []agenttrace.Token{
		{ID: "tok_1", Name: "a1", Scope: agenttrace.ScopeIngest, User: "alice", Team: "red"},
		{ID: "tok_2", Name: "a2", Scope: agenttrace.ScopeReadOwn, User: "alice"},
		{ID: "tok_3", Name: "b1", Scope: agenttrace.ScopeReadTeam, User: "bob", Team: "red"},
		{ID: "tok_4", Name: "old", Scope: agenttrace.ScopeRead},
	}
	for i, tok := range toks {
		if err := s.CreateToken(ctx(t), tok, "hash-"+tok.ID); err != nil {
			t.Fatalf("create token %d: %v", i, err)
		}
	}
	for _, bad := range []agenttrace.Token{
		{ID: "tok_x", Name: "x", Scope: agenttrace.ScopeReadOwn},
		{ID: "tok_y", Name: "y", Scope: agenttrace.ScopeReadTeam, User: "bob"},
		{ID: "tok_z", Name: "z", Scope: agenttrace.ScopeIngest, Team: "red"},
	} {
		if err := s.CreateToken(ctx(t), bad, "hash-"+bad.ID); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("CreateToken(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	got, err := s.TokenBySecretHash(ctx(t), "hash-tok_1")
	if err != nil || got.User != "alice" || got.Team != "red" {
		t.Errorf("lookup: %+v, %v; want user alice, team red", got, err)
	}
	n, err := s.RevokeUserTokens(ctx(t), "alice")
	if err != nil || n != 2 {
		t.Errorf("RevokeUserTokens(alice) = %d, %v; want 2", n, err)
	}
	for _, tc := range []struct {
		hash string
		live bool
	}{{"hash-tok_1", false}, {"hash-tok_2", false}, {"hash-tok_3", true}, {"hash-tok_4", true}} {
		_, err := s.TokenBySecretHash(ctx(t), tc.hash)
		if got := err == nil; got != tc.live {
			t.Errorf("%s live = %v (%v), want %v", tc.hash, got, err, tc.live)
		}
	}
	if n, err := s.RevokeUserTokens(ctx(t), "nobody"); err != nil || n != 0 {
		t.Errorf("RevokeUserTokens(nobody) = %d, %v; want 0, nil", n, err)
	}
}

// listAllCtx pages through ListSessions with ctx.
func listAllCtx(t *testing.T, c context.Context, s agenttrace.Store, f agenttrace.SessionFilter) []agenttrace.SessionSummary {
	t.Helper()
	var out []agenttrace.SessionSummary
	for pages := 0; pages < 1000; pages++ {
		page, err := s.ListSessions(c, f)
		if err != nil {
			t.Fatalf("list sessions: %v", err)
		}
		out = append(out, page.Sessions...)
		if page.NextCursor == "" {
			return out
		}
		f.Cursor = page.NextCursor
	}
	t.Fatal("pagination does not end")
	return nil
}
