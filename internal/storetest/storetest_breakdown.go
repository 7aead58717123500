package storetest

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// testBreakdown: per user, per repository and per repository and branch, each row holds
// the totals of exactly its sessions (projected independently here), and the rows add
// up to the store's Summary.
func testBreakdown(t *testing.T, s agenttrace.Store) {
	want := map[string]map[[2]string]*agenttrace.BreakdownRow{}
	var batch []event.Event
	gen := Generate(23, 30, 40)
	team := teamsFor(t, s, gen)
	for _, evs := range gen {
		sess := projection.Project(evs, TestPricer{})
		for by, key := range map[string][2]string{
			agenttrace.BreakdownByUser:   {sess.User, ""},
			agenttrace.BreakdownByTeam:   {team[sess.User], ""},
			agenttrace.BreakdownByRepo:   {sess.Repo, ""},
			agenttrace.BreakdownByBranch: {sess.Repo, sess.Branch},
		} {
			if want[by] == nil {
				want[by] = map[[2]string]*agenttrace.BreakdownRow{}
			}
			if want[by][key] == nil {
				want[by][key] = &agenttrace.BreakdownRow{}
			}
			addToRow(want[by][key], sess.SessionSummary)
		}
		batch = append(batch, evs...)
	}
	MustIngest(t, s, batch)
	sum, err := s.Summary(ctx(t), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for by, groups := range want {
		if len(groups) < 2 {
			t.Fatalf("generated data has %d groups by %s; the test proves less", len(groups), by)
		}
		rows, err := s.Breakdown(ctx(t), agenttrace.BreakdownFilter{By: by})
		if err != nil {
			t.Fatalf("breakdown by %s: %v", by, err)
		}
		checkBreakdown(t, by, rows, groups, sum)
	}
	checkBreakdownOf(t, s)
	if _, err := s.Breakdown(ctx(t), agenttrace.BreakdownFilter{By: "host"}); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("breakdown by host: %v, want ErrInvalid", err)
	}
	if rows, err := s.Breakdown(ctx(t), agenttrace.BreakdownFilter{From: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), By: agenttrace.BreakdownByUser}); err != nil || len(rows) != 0 {
		t.Errorf("breakdown of an empty range: %v, %v", rows, err)
	}
}

// checkBreakdownOf: a breakdown of one repository's (or one person's) sessions has
// exactly the rows of the whole breakdown that belong to it, with the same totals.
func checkBreakdownOf(t *testing.T, s agenttrace.Store) {
	t.Helper()
	branches, err := s.Breakdown(ctx(t), agenttrace.BreakdownFilter{By: agenttrace.BreakdownByBranch})
	if err != nil || len(branches) == 0 {
		t.Fatalf("breakdown by branch: %v, %v", branches, err)
	}
	repo := branches[0].Repo
	want := slices.DeleteFunc(slices.Clone(branches), func(r agenttrace.BreakdownRow) bool { return r.Repo != repo })
	got, err := s.Breakdown(ctx(t), agenttrace.BreakdownFilter{By: agenttrace.BreakdownByBranch, Repo: repo})
	if err != nil || !slices.EqualFunc(got, want, sameBreakdownRow) || len(want) == len(branches) {
		t.Errorf("branches of %s: %+v, %v; want %+v (of %d rows)", repo, got, err, want, len(branches))
	}
	users, err := s.Breakdown(ctx(t), agenttrace.BreakdownFilter{By: agenttrace.BreakdownByUser})
	if err != nil || len(users) < 2 {
		t.Fatalf("breakdown by user: %v, %v", users, err)
	}
	got, err = s.Breakdown(ctx(t), agenttrace.BreakdownFilter{By: agenttrace.BreakdownByUser, User: users[1].User})
	if err != nil || len(got) != 1 || !sameBreakdownRow(got[0], users[1]) {
		t.Errorf("breakdown of %s: %+v, %v; want %+v", users[1].User, got, err, users[1])
	}
}

func sameBreakdownRow(a, b agenttrace.BreakdownRow) bool {
	return a.User == b.User && a.Repo == b.Repo && a.Branch == b.Branch && a.Sessions == b.Sessions &&
		a.Usage == b.Usage && math.Abs(a.CostUSD-b.CostUSD) < 1e-9 && a.Unpriced == b.Unpriced && a.Commits == b.Commits
}

// teamsFor records the generated sessions' users with teams, red and blue in turn,
// leaving the first user unrecorded (in no team), and returns each user's team.
func teamsFor(t *testing.T, s agenttrace.Store, gen [][]event.Event) map[string]string {
	var users []string
	for _, evs := range gen {
		if u := evs[0].User; u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	slices.Sort(users)
	team := map[string]string{}
	for i, u := range users[min(1, len(users)):] {
		team[u] = []string{"red", "blue"}[i%2]
		if err := s.CreateUser(ctx(t), agenttrace.User{Name: u, Team: team[u]}); err != nil {
			t.Fatalf("create user %s: %v", u, err)
		}
	}
	return team
}

func addToRow(r *agenttrace.BreakdownRow, s agenttrace.SessionSummary) {
	r.Add(agenttrace.Summary{Sessions: 1, Prompts: s.PromptCount, ToolCalls: s.ToolCallCount, ToolErrors: s.ErrorCount,
		Commits: s.CommitCount, PullRequests: s.PRCount, LinesAdded: s.LinesAdded, LinesRemoved: s.LinesRemoved,
		Usage: agenttrace.Usage{InputTokens: s.Usage.InputTokens, OutputTokens: s.Usage.OutputTokens,
			CacheCreationInputTokens: s.Usage.CacheCreationInputTokens, CacheReadInputTokens: s.Usage.CacheReadInputTokens}})
	if s.CostUSD == nil {
		r.Unpriced++
	} else {
		r.CostUSD += *s.CostUSD
	}
	if s.StartedAt.After(r.LastStartedAt) {
		r.LastStartedAt = s.StartedAt.Truncate(time.Millisecond)
	}
}

func checkBreakdown(t *testing.T, by string, rows []agenttrace.BreakdownRow, want map[[2]string]*agenttrace.BreakdownRow, sum agenttrace.Summary) {
	t.Helper()
	if len(rows) != len(want) {
		t.Errorf("by %s: %d rows, want %d", by, len(rows), len(want))
	}
	var sessions, prompts int
	var input int64
	for i, got := range rows {
		key := [2]string{got.Repo, got.Branch}
		switch by {
		case agenttrace.BreakdownByUser:
			key = [2]string{got.User, ""}
		case agenttrace.BreakdownByTeam:
			key = [2]string{got.Team, ""}
		}
		w := want[key]
		if w == nil {
			t.Errorf("by %s: unexpected row %v", by, key)
			continue
		}
		if i > 0 && got.CostUSD > rows[i-1].CostUSD {
			t.Errorf("by %s: row %d costs more than the one before it", by, i)
		}
		if math.Abs(got.CostUSD-w.CostUSD) > 1e-6 || got.Unpriced != w.Unpriced || !got.LastStartedAt.Equal(w.LastStartedAt) {
			t.Errorf("by %s %v: cost %v unpriced %d last %v; want %v %d %v", by, key, got.CostUSD, got.Unpriced, got.LastStartedAt, w.CostUSD, w.Unpriced, w.LastStartedAt)
		}
		g := got
		g.User, g.Team, g.Repo, g.Branch, g.CostUSD, g.CostPerCommitUSD, g.LastStartedAt = "", "", "", "", 0, nil, time.Time{}
		w2 := *w
		w2.CostUSD, w2.LastStartedAt = 0, time.Time{}
		EqualJSON(t, "breakdown "+by, g, w2)
		sessions, prompts, input = sessions+got.Sessions, prompts+got.Prompts, input+got.Usage.InputTokens
	}
	if sessions != sum.Sessions || prompts != sum.Prompts || input != sum.Usage.InputTokens {
		t.Errorf("by %s: rows add up to %d sessions, %d prompts, %d input tokens; Summary says %d, %d, %d",
			by, sessions, prompts, input, sum.Sessions, sum.Prompts, sum.Usage.InputTokens)
	}
}
