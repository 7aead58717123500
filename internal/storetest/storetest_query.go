package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// ingestGenerated stores generated sessions and returns their projections by ID.
func ingestGenerated(t *testing.T, s agenttrace.Store, seed int64, sessions, events int) map[string]*agenttrace.Session {
	t.Helper()
	out := map[string]*agenttrace.Session{}
	var batch []event.Event
	for _, evs := range Generate(seed, sessions, events) {
		out[evs[0].SessionID] = projection.Project(evs, TestPricer{})
		batch = append(batch, evs...)
		if len(batch) >= 500 {
			MustIngest(t, s, batch)
			batch = nil
		}
	}
	if len(batch) > 0 {
		MustIngest(t, s, batch)
	}
	return out
}

func ingestFixtures(t *testing.T, s agenttrace.Store) map[string]*agenttrace.Session {
	t.Helper()
	out := map[string]*agenttrace.Session{}
	for _, f := range Fixtures() {
		MustIngest(t, s, f.Events)
		out[f.SessionID] = projection.Project(f.Events, TestPricer{})
	}
	return out
}

// listAll pages through ListSessions and fails on a repeated row.
func listAll(t *testing.T, s agenttrace.Store, f agenttrace.SessionFilter) []agenttrace.SessionSummary {
	t.Helper()
	var out []agenttrace.SessionSummary
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("pagination does not end")
		}
		page, err := s.ListSessions(ctx(t), f)
		if err != nil {
			t.Fatalf("list sessions %+v: %v", f, err)
		}
		if f.Limit > 0 && len(page.Sessions) > f.Limit {
			t.Fatalf("page of %d rows, limit %d", len(page.Sessions), f.Limit)
		}
		for _, sum := range page.Sessions {
			if seen[sum.ID] {
				t.Fatalf("session %s listed twice", sum.ID)
			}
			seen[sum.ID] = true
			out = append(out, sum)
		}
		if page.NextCursor == "" {
			return out
		}
		if len(page.Sessions) == 0 {
			t.Fatal("an empty page with a next cursor")
		}
		f.Cursor = page.NextCursor
	}
}

func ids(sums []agenttrace.SessionSummary) []string {
	out := make([]string, len(sums))
	for i, s := range sums {
		out[i] = s.ID
	}
	return out
}

func sortKey(s *agenttrace.Session, by string) float64 {
	switch by {
	case "cost":
		if s.CostUSD == nil {
			return -1
		}
		return *s.CostUSD
	case "duration":
		return float64(s.DurationMS)
	}
	return float64(s.StartedAt.UnixMilli())
}

// expectOrder is the IDs of sessions that pass keep, in the order a listing sorted by
// `by` must return them.
func expectOrder(all map[string]*agenttrace.Session, by string, desc bool, keep func(*agenttrace.Session) bool) []string {
	var out []*agenttrace.Session
	for _, s := range all {
		if keep == nil || keep(s) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := sortKey(out[i], by), sortKey(out[j], by)
		if a != b {
			return (a < b) != desc
		}
		return (out[i].ID < out[j].ID) != desc
	})
	r := make([]string, len(out))
	for i, s := range out {
		r[i] = s.ID
	}
	return r
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s:\n got %d: %v\nwant %d: %v", what, len(got), got, len(want), want)
	}
}

func testEvents(t *testing.T, s agenttrace.Store) {
	f := Fixtures()[0]
	MustIngest(t, s, f.Events)
	var got []event.Event
	cur := ""
	for {
		page, err := s.Events(ctx(t), f.SessionID, cur, 3)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Events...)
		if page.NextCursor == "" {
			break
		}
		cur = page.NextCursor
	}
	if len(got) != uniqueCount(f.Events) {
		t.Fatalf("paged %d events, want %d", len(got), uniqueCount(f.Events))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if b.Time.Before(a.Time) || (b.Time.Equal(a.Time) && b.ID <= a.ID) {
			t.Fatalf("events out of order at %d: %s %s then %s %s", i, a.Time, a.ID, b.Time, b.ID)
		}
	}
	// Events come back as they were sent.
	byID := map[string]event.Event{}
	for _, e := range f.Events {
		byID[e.ID] = e
	}
	for _, e := range got {
		EqualJSON(t, "event "+e.ID, e, byID[e.ID])
	}
	if _, err := s.Events(ctx(t), f.SessionID, "", -1); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("negative limit: %v, want ErrInvalid", err)
	}
	if _, err := s.Events(ctx(t), f.SessionID, "%%garbage", 10); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("garbage cursor: %v, want ErrInvalid", err)
	}
}

func testListPagination(t *testing.T, s agenttrace.Store) {
	all := ingestGenerated(t, s, 11, 7, 12)
	for _, desc := range []bool{true, false} {
		want := expectOrder(all, "started_at", desc, nil)
		for _, limit := range []int{1, 2, 3, 7, 8, 200} {
			got := listAll(t, s, agenttrace.SessionFilter{Desc: desc, Limit: limit})
			equalStrings(t, "pages", ids(got), want)
		}
	}
	// An exact multiple ends without an empty trailing page.
	page, err := s.ListSessions(ctx(t), agenttrace.SessionFilter{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Sessions) != 7 || page.NextCursor != "" {
		t.Errorf("limit 7 of 7: %d rows, next %q; want 7 and no cursor", len(page.Sessions), page.NextCursor)
	}
	// Zero means the default page size.
	page, err = s.ListSessions(ctx(t), agenttrace.SessionFilter{})
	if err != nil || len(page.Sessions) != 7 {
		t.Errorf("default limit: %d rows, %v", len(page.Sessions), err)
	}
	for _, f := range []agenttrace.SessionFilter{
		{Limit: 201}, {Limit: -1}, {Cursor: "not a cursor!"}, {Sort: "colour"}, {Status: "sleeping"},
	} {
		if _, err := s.ListSessions(ctx(t), f); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("ListSessions(%+v) = %v, want ErrInvalid", f, err)
		}
	}
	// A cursor from one sort order is not valid for another.
	page, err = s.ListSessions(ctx(t), agenttrace.SessionFilter{Limit: 2, Sort: "cost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListSessions(ctx(t), agenttrace.SessionFilter{Limit: 2, Sort: "duration", Cursor: page.NextCursor}); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("cursor reused for another sort: %v, want ErrInvalid", err)
	}
}

// testCursorConcurrentInserts pages through sessions while new ones arrive: every session
// that existed when paging began is listed exactly once.
func testCursorConcurrentInserts(t *testing.T, s agenttrace.Store) {
	gen := Generate(21, 30, 10)
	before := map[string]bool{}
	for _, evs := range gen[:15] {
		MustIngest(t, s, evs)
		before[evs[0].SessionID] = true
	}
	f := agenttrace.SessionFilter{Desc: true, Limit: 4}
	seen := map[string]bool{}
	next := 15
	for {
		page, err := s.ListSessions(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sum := range page.Sessions {
			if seen[sum.ID] {
				t.Fatalf("session %s listed twice", sum.ID)
			}
			seen[sum.ID] = true
		}
		// Between pages, new sessions arrive, older and newer than the cursor.
		for k := 0; k < 3 && next < len(gen); k++ {
			MustIngest(t, s, gen[next])
			next++
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	for id := range before {
		if !seen[id] {
			t.Errorf("session %s, stored before paging began, was skipped", id)
		}
	}
}

func testListFilters(t *testing.T, s agenttrace.Store) {
	all := ingestGenerated(t, s, 5, 40, 30)
	for id, sess := range ingestFixtures(t, s) {
		all[id] = sess
	}
	// The generated and recorded sessions are days old: without an end they read as idle.
	// One still going makes the active filter prove something.
	live := liveSession("live-0000-4000-8000-000000000001", time.Now().Add(-time.Minute))
	MustIngest(t, s, live)
	if sess, err := s.Session(ctx(t), live[0].SessionID); err != nil {
		t.Fatal(err)
	} else {
		all[sess.ID] = sess
	}
	for _, sess := range all { // what the store shows, by the default idle time
		agenttrace.MarkIdle(&sess.SessionSummary, time.Now().Add(-agenttrace.DefaultIdleAfter))
	}
	var anySession *agenttrace.Session
	for _, sess := range all {
		if anySession == nil || sess.ID < anySession.ID {
			anySession = sess
		}
	}
	yes, no := true, false
	mid := GenEnd.Add(-45 * 24 * time.Hour)
	genFile := lastTwo(agenttrace.TouchedFiles(anyWithFiles(all))[0])
	touched := func(q string) func(*agenttrace.Session) bool {
		return func(s *agenttrace.Session) bool {
			for _, f := range agenttrace.TouchedFiles(s) {
				if agenttrace.PathMatches(f, strings.TrimPrefix(q, "./")) {
					return true
				}
			}
			return false
		}
	}
	hasPrompt := func(sess *agenttrace.Session, q string) bool {
		for _, p := range sess.Prompts {
			if strings.Contains(strings.ToLower(p.Text), strings.ToLower(q)) {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name string
		f    agenttrace.SessionFilter
		keep func(*agenttrace.Session) bool
	}{
		{"user", agenttrace.SessionFilter{User: "alice"}, func(s *agenttrace.Session) bool { return s.User == "alice" }},
		{"repo", agenttrace.SessionFilter{Repo: GenRepos[1]}, func(s *agenttrace.Session) bool { return s.Repo == GenRepos[1] }},
		{"branch", agenttrace.SessionFilter{Branch: "feature/greeting"}, func(s *agenttrace.Session) bool {
			return contains(s.Branches, "feature/greeting") || s.Branch == "feature/greeting"
		}},
		{"branch main", agenttrace.SessionFilter{Branch: "main"}, func(s *agenttrace.Session) bool {
			return contains(s.Branches, "main") || s.Branch == "main"
		}},
		{"status ended", agenttrace.SessionFilter{Status: agenttrace.StatusEnded}, func(s *agenttrace.Session) bool { return s.Status == agenttrace.StatusEnded }},
		{"status active", agenttrace.SessionFilter{Status: agenttrace.StatusActive}, func(s *agenttrace.Session) bool { return s.Status == agenttrace.StatusActive }},
		{"status idle", agenttrace.SessionFilter{Status: agenttrace.StatusIdle}, func(s *agenttrace.Session) bool { return s.Status == agenttrace.StatusIdle }},
		{"model", agenttrace.SessionFilter{Model: "claude-sonnet-5-5"}, func(s *agenttrace.Session) bool { return contains(s.Models, "claude-sonnet-5-5") }},
		{"has commits", agenttrace.SessionFilter{HasCommits: &yes}, func(s *agenttrace.Session) bool { return s.CommitCount > 0 }},
		{"no commits", agenttrace.SessionFilter{HasCommits: &no}, func(s *agenttrace.Session) bool { return s.CommitCount == 0 }},
		{"from", agenttrace.SessionFilter{From: mid}, func(s *agenttrace.Session) bool { return !s.StartedAt.Before(mid) }},
		{"to", agenttrace.SessionFilter{To: mid}, func(s *agenttrace.Session) bool { return s.StartedAt.Before(mid) }},
		{"from to exact", agenttrace.SessionFilter{From: anySession.StartedAt, To: anySession.StartedAt.Add(time.Millisecond)},
			func(s *agenttrace.Session) bool {
				return s.StartedAt.UnixMilli() == anySession.StartedAt.UnixMilli()
			}},
		{"query", agenttrace.SessionFilter{Query: "PAGINATION"}, func(s *agenttrace.Session) bool { return hasPrompt(s, "pagination") }},
		{"query subagent", agenttrace.SessionFilter{Query: "with a subagent"}, func(s *agenttrace.Session) bool { return hasPrompt(s, "with a subagent") }},
		{"query wildcard is literal", agenttrace.SessionFilter{Query: "%"}, func(s *agenttrace.Session) bool { return hasPrompt(s, "%") }},
		{"query quotes are literal", agenttrace.SessionFilter{Query: `say "hi" 100%`}, func(s *agenttrace.Session) bool { return hasPrompt(s, `say "hi" 100%`) }},
		{"file base name", agenttrace.SessionFilter{File: "utils.py"}, touched("utils.py")},
		{"file absolute", agenttrace.SessionFilter{File: "/home/dev/src/demo/hello.py"}, touched("/home/dev/src/demo/hello.py")},
		{"file relative", agenttrace.SessionFilter{File: "./" + genFile}, touched(genFile)},
		{"file name part is literal", agenttrace.SessionFilter{File: "tils.py"}, touched("tils.py")},
		{"combined", agenttrace.SessionFilter{Repo: GenRepos[0], Status: agenttrace.StatusEnded, HasCommits: &no},
			func(s *agenttrace.Session) bool {
				return s.Repo == GenRepos[0] && s.Status == agenttrace.StatusEnded && s.CommitCount == 0
			}},
		{"nothing", agenttrace.SessionFilter{User: "nobody"}, func(s *agenttrace.Session) bool { return false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Desc, tc.f.Limit = true, 9
			want := expectOrder(all, "started_at", true, tc.keep)
			if len(want) == 0 && tc.name != "nothing" && !strings.HasSuffix(tc.name, "literal") {
				t.Fatalf("the data has no session for this filter; the test proves nothing")
			}
			equalStrings(t, tc.name, ids(listAll(t, s, tc.f)), want)
		})
	}
}

// anyWithFiles is the first session by ID of those that touched a file.
func anyWithFiles(all map[string]*agenttrace.Session) *agenttrace.Session {
	var found *agenttrace.Session
	for _, sess := range all {
		if len(agenttrace.TouchedFiles(sess)) > 0 && (found == nil || sess.ID < found.ID) {
			found = sess
		}
	}
	return found
}

// lastTwo is a path's last two elements ("pkg/file.go"): a path relative to a checkout.
func lastTwo(p string) string {
	parts := strings.Split(p, "/")
	return strings.Join(parts[max(len(parts)-2, 0):], "/")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func testListSorts(t *testing.T, s agenttrace.Store) {
	all := ingestGenerated(t, s, 9, 25, 20)
	for id, sess := range ingestFixtures(t, s) {
		all[id] = sess
	}
	for _, by := range []string{"started_at", "cost", "duration"} {
		for _, desc := range []bool{true, false} {
			got := listAll(t, s, agenttrace.SessionFilter{Sort: by, Desc: desc, Limit: 7})
			equalStrings(t, by, ids(got), expectOrder(all, by, desc, nil))
		}
	}
}

func allCommits(all map[string]*agenttrace.Session, keep func(agenttrace.Commit) bool) []string {
	var cs []agenttrace.Commit
	for _, s := range all {
		for _, c := range s.Commits {
			if keep == nil || keep(c) {
				cs = append(cs, c)
			}
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.CommittedAt.UnixMilli() != b.CommittedAt.UnixMilli() {
			return a.CommittedAt.After(b.CommittedAt)
		}
		if a.SHA != b.SHA {
			return a.SHA > b.SHA
		}
		return a.SessionID > b.SessionID
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.SessionID + "/" + c.SHA
	}
	return out
}

func listCommits(t *testing.T, s agenttrace.Store, f agenttrace.CommitFilter) []string {
	t.Helper()
	var out []string
	for n := 0; n < 10000; n++ {
		page, err := s.Commits(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Commits {
			out = append(out, c.SessionID+"/"+c.SHA)
		}
		if page.NextCursor == "" {
			return out
		}
		f.Cursor = page.NextCursor
	}
	t.Fatal("commit pagination does not end")
	return nil
}

func testCommits(t *testing.T, s agenttrace.Store) {
	all := ingestGenerated(t, s, 3, 30, 60)
	for id, sess := range ingestFixtures(t, s) {
		all[id] = sess
	}
	mid := GenEnd.Add(-45 * 24 * time.Hour)
	var someSession string
	for _, sess := range all {
		if len(sess.Commits) > 0 && (someSession == "" || sess.ID < someSession) {
			someSession = sess.ID
		}
	}
	tests := []struct {
		name string
		f    agenttrace.CommitFilter
		keep func(agenttrace.Commit) bool
	}{
		{"all", agenttrace.CommitFilter{}, nil},
		{"repo", agenttrace.CommitFilter{Repo: FixtureRepo}, func(c agenttrace.Commit) bool { return c.Repo == FixtureRepo }},
		{"user", agenttrace.CommitFilter{User: FixtureUser}, func(c agenttrace.Commit) bool { return c.User == FixtureUser }},
		{"session", agenttrace.CommitFilter{SessionID: someSession}, func(c agenttrace.Commit) bool { return c.SessionID == someSession }},
		{"from", agenttrace.CommitFilter{From: mid}, func(c agenttrace.Commit) bool { return !c.CommittedAt.Before(mid) }},
		{"to", agenttrace.CommitFilter{To: mid}, func(c agenttrace.Commit) bool { return c.CommittedAt.Before(mid) }},
		{"sha", agenttrace.CommitFilter{SHA: FixtureSHA}, func(c agenttrace.Commit) bool { return c.SHA == FixtureSHA }},
		{"sha prefix any case", agenttrace.CommitFilter{SHA: strings.ToUpper(FixtureSHA[:7])},
			func(c agenttrace.Commit) bool { return strings.HasPrefix(c.SHA, FixtureSHA[:7]) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := allCommits(all, tc.keep)
			if len(want) == 0 {
				t.Fatal("no commit matches; the test proves nothing")
			}
			tc.f.Limit = 2
			equalStrings(t, "commits", listCommits(t, s, tc.f), want)
		})
	}
	// Commits come back as projected.
	page, err := s.Commits(ctx(t), agenttrace.CommitFilter{Repo: FixtureRepo, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Commits {
		var want agenttrace.Commit
		for _, pc := range all[c.SessionID].Commits {
			if pc.SHA == c.SHA {
				want = pc
			}
		}
		EqualJSON(t, "commit "+c.SHA, c, want)
	}
	if _, err := s.Commits(ctx(t), agenttrace.CommitFilter{Limit: 500}); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("limit 500: %v, want ErrInvalid", err)
	}
	for _, sha := range []string{"abc", "f5e6%", "xyz1234", strings.Repeat("a", 41)} {
		if _, err := s.Commits(ctx(t), agenttrace.CommitFilter{SHA: sha}); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("sha %q: %v, want ErrInvalid", sha, err)
		}
	}
}

func testPullRequests(t *testing.T, s agenttrace.Store) {
	all := ingestGenerated(t, s, 3, 30, 60)
	for id, sess := range ingestFixtures(t, s) {
		all[id] = sess
	}
	var want []agenttrace.PullRequest
	for _, sess := range all {
		want = append(want, sess.PullRequests...)
	}
	if len(want) < 2 {
		t.Fatalf("only %d pull requests generated; the test proves little", len(want))
	}
	var got []agenttrace.PullRequest
	f := agenttrace.CommitFilter{Limit: 1}
	for n := 0; ; n++ {
		if n > 10000 {
			t.Fatal("pagination does not end")
		}
		page, err := s.PullRequests(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.PullRequests...)
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d pull requests, want %d", len(got), len(want))
	}
	for i := 1; i < len(got); i++ {
		if got[i].SeenAt.After(got[i-1].SeenAt) {
			t.Fatalf("pull requests not newest first at %d", i)
		}
	}
	key := func(p agenttrace.PullRequest) string { return fmt.Sprint(p.SessionID, p.Forge, p.Repo, p.Number) }
	byKey := map[string]agenttrace.PullRequest{}
	for _, p := range want {
		byKey[key(p)] = p
	}
	for _, p := range got {
		EqualJSON(t, "pull request", p, byKey[key(p)])
	}
	fx := Fixtures()
	var prSession string
	for _, f := range fx {
		if f.Name == "pull-request" {
			prSession = f.SessionID
		}
	}
	page, err := s.PullRequests(ctx(t), agenttrace.CommitFilter{SessionID: prSession})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.PullRequests) != 1 || page.PullRequests[0].Number != 42 || page.PullRequests[0].Repo != "example/demo" {
		t.Errorf("fixture pull request: %+v", page.PullRequests)
	}
	page, err = s.PullRequests(ctx(t), agenttrace.CommitFilter{User: "nobody"})
	if err != nil || len(page.PullRequests) != 0 {
		t.Errorf("user filter: %d rows, %v", len(page.PullRequests), err)
	}
}

func testDailyCost(t *testing.T, s agenttrace.Store) {
	var usages []agenttrace.PricedUsage
	repoOf := map[string]string{}
	sessions := Generate(23, 10, 40) // several models, fast mode, web searches
	for _, f := range Fixtures() {
		sessions = append(sessions, f.Events)
	}
	for _, evs := range sessions {
		MustIngest(t, s, evs)
		sess, us := projection.ProjectWithUsage(evs, TestPricer{})
		for i := range us {
			repoOf[us[i].EventID] = sess.Repo
			us[i].PromptID = sess.ID // reused below as the session key
		}
		usages = append(usages, us...)
	}
	// Also an unpriced model: it counts tokens, adds no cost.
	odd := usageEvent("s-odd", "odd1", time.Date(2026, 11, 25, 23, 59, 59, 0, time.UTC), 10, 10)
	odd.Usage.Model = "mystery-model"
	MustIngest(t, s, []event.Event{odd})
	usages = append(usages, agenttrace.PricedUsage{EventID: odd.ID, Time: odd.Time, PromptID: "s-odd", Model: "mystery-model",
		User: "u", Usage: agenttrace.Usage{InputTokens: 10, OutputTokens: 10}})

	newest := usages[0].Time
	oldest := usages[0].Time
	for _, u := range usages {
		if u.Time.After(newest) {
			newest = u.Time
		}
		if u.Time.Before(oldest) {
			oldest = u.Time
		}
	}
	from := oldest.Truncate(24 * time.Hour)
	to := newest.Truncate(24 * time.Hour).Add(24 * time.Hour) // the newest day included
	for _, group := range []string{agenttrace.GroupBySession, agenttrace.GroupByModel, agenttrace.GroupByUser, agenttrace.GroupByRepo} {
		t.Run(group, func(t *testing.T) {
			type k struct{ day, key string }
			want := map[k]agenttrace.DailyCost{}
			for _, u := range usages {
				key := map[string]string{agenttrace.GroupBySession: u.PromptID, agenttrace.GroupByModel: u.Model,
					agenttrace.GroupByUser: u.User, agenttrace.GroupByRepo: repoOf[u.EventID]}[group]
				kk := k{u.Time.UTC().Format("2006-01-02"), key}
				d := want[kk]
				d.Day, d.Key = kk.day, kk.key
				d.Usage = d.Usage.Add(u.Usage)
				if u.CostUSD != nil {
					d.CostUSD += *u.CostUSD
				}
				want[kk] = d
			}
			got, err := s.DailyCost(ctx(t), from, to, group)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
			}
			for i, d := range got {
				if i > 0 && (d.Day < got[i-1].Day || (d.Day == got[i-1].Day && d.Key <= got[i-1].Key)) {
					t.Errorf("rows not in day, key order at %d", i)
				}
				w := want[k{d.Day, d.Key}]
				if d.Usage != w.Usage || math.Abs(d.CostUSD-w.CostUSD) > 1e-9 {
					t.Errorf("%s %s: %+v, want %+v", d.Day, d.Key, d, w)
				}
			}
			if last := got[len(got)-1].Day; last != newest.UTC().Format("2006-01-02") {
				t.Errorf("newest day %s missing; last row is %s", newest.UTC().Format("2006-01-02"), last)
			}
		})
	}
	// [from, to) excludes the last day when to is its midnight.
	got, err := s.DailyCost(ctx(t), from, newest.Truncate(24*time.Hour), agenttrace.GroupByModel)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range got {
		if d.Day == newest.UTC().Format("2006-01-02") {
			t.Errorf("day %s is outside [from, to)", d.Day)
		}
	}
	if _, err := s.DailyCost(ctx(t), from, to, "planet"); !errors.Is(err, agenttrace.ErrInvalid) {
		t.Errorf("unknown group_by: %v, want ErrInvalid", err)
	}
}

func testSummary(t *testing.T, s agenttrace.Store) {
	all := ingestFixtures(t, s)
	var want agenttrace.Summary
	for _, sess := range all {
		want.Sessions++
		want.Prompts += sess.PromptCount
		want.ToolCalls += sess.ToolCallCount
		want.ToolErrors += sess.ErrorCount
		want.Commits += sess.CommitCount
		want.PullRequests += sess.PRCount
		want.LinesAdded += sess.LinesAdded
		want.LinesRemoved += sess.LinesRemoved
		want.Usage = want.Usage.Add(sess.Usage)
		want.CostUSD += *sess.CostUSD
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := s.Summary(ctx(t), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if got.CostPerCommitUSD == nil || math.Abs(*got.CostPerCommitUSD-want.CostUSD/float64(want.Commits)) > 1e-9 {
		t.Errorf("cost per commit %v, want %v", got.CostPerCommitUSD, want.CostUSD/float64(want.Commits))
	}
	if math.Abs(got.CostUSD-want.CostUSD) > 1e-9 {
		t.Errorf("cost %v, want %v", got.CostUSD, want.CostUSD)
	}
	got.CostUSD, want.CostUSD = 0, 0
	got.CostPerCommitUSD = nil
	EqualJSON(t, "summary", got, want)

	// One day holds one fixture session.
	for _, sess := range all {
		day := sess.StartedAt.Truncate(24 * time.Hour)
		got, err := s.Summary(ctx(t), day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got.Sessions != 1 || got.Prompts != sess.PromptCount || got.Usage != sess.Usage {
			t.Errorf("summary of %s's day: %+v", sess.ID, got)
		}
	}
	// An unpriced model is listed, not silently priced at 0.
	odd := usageEvent("s-odd", "odd1", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 10, 10)
	odd.Usage.Model = "mystery-model"
	MustIngest(t, s, []event.Event{odd})
	got, err = s.Summary(ctx(t), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sessions != len(all)+1 || !contains(got.UnpricedModels, "mystery-model") {
		t.Errorf("summary with an unpriced model: %+v", got)
	}
	empty, err := s.Summary(ctx(t), to, to.Add(time.Hour))
	if err != nil || empty.Sessions != 0 || empty.CostPerCommitUSD != nil {
		t.Errorf("empty range: %+v, %v", empty, err)
	}
}

// testSummaryGenerated totals generated sessions (several models, some unpriced, fast
// mode, web searches) and checks every field against their projections.
func testSummaryGenerated(t *testing.T, s agenttrace.Store) {
	var want agenttrace.Summary
	unpriced := map[string]bool{}
	var batch []event.Event
	for _, evs := range Generate(17, 20, 60) {
		sess, usages := projection.ProjectWithUsage(evs, TestPricer{})
		want.Sessions++
		want.Prompts += sess.PromptCount
		want.ToolCalls += sess.ToolCallCount
		want.ToolErrors += sess.ErrorCount
		want.Commits += sess.CommitCount
		want.PullRequests += sess.PRCount
		want.LinesAdded += sess.LinesAdded
		want.LinesRemoved += sess.LinesRemoved
		want.Usage = want.Usage.Add(sess.Usage)
		for _, u := range usages {
			if u.CostUSD != nil {
				want.CostUSD += *u.CostUSD
			} else {
				unpriced[u.Model] = true
			}
		}
		batch = append(batch, evs...)
	}
	MustIngest(t, s, batch)
	for m := range unpriced {
		want.UnpricedModels = append(want.UnpricedModels, m)
	}
	sort.Strings(want.UnpricedModels)
	if want.Usage.WebSearchRequests == 0 || len(want.UnpricedModels) == 0 {
		t.Fatalf("generated data lacks web searches or unpriced models; the test proves less")
	}
	got, err := s.Summary(ctx(t), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got.CostUSD-want.CostUSD) > 1e-6 {
		t.Errorf("cost %v, want %v", got.CostUSD, want.CostUSD)
	}
	got.CostUSD, want.CostUSD = 0, 0
	got.CostPerCommitUSD = nil
	EqualJSON(t, "summary", got, want)
}

func testDeleteSession(t *testing.T, s agenttrace.Store) {
	fx := Fixtures()
	var victim, other Fixture
	for _, f := range fx {
		switch f.Name {
		case "pull-request":
			victim = f
		case "commit":
			other = f
		}
	}
	MustIngest(t, s, victim.Events)
	MustIngest(t, s, other.Events)
	keep := MustSession(t, s, other.SessionID)
	if err := s.DeleteSession(ctx(t), victim.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx(t), victim.SessionID); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("session after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Events(ctx(t), victim.SessionID, "", 10); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("events after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx(t), victim.SessionID); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	list := listAll(t, s, agenttrace.SessionFilter{Limit: 10})
	equalStrings(t, "sessions left", ids(list), []string{other.SessionID})
	if page, _ := s.Commits(ctx(t), agenttrace.CommitFilter{SessionID: victim.SessionID}); len(page.Commits) != 0 {
		t.Errorf("commits left: %+v", page.Commits)
	}
	if page, _ := s.PullRequests(ctx(t), agenttrace.CommitFilter{}); len(page.PullRequests) != 0 {
		t.Errorf("pull requests left: %+v", page.PullRequests)
	}
	costs, err := s.DailyCost(ctx(t), time.Time{}, time.Time{}, agenttrace.GroupBySession)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range costs {
		if d.Key == victim.SessionID {
			t.Errorf("usage rows left: %+v", d)
		}
	}
	page, err := s.ListSessions(ctx(t), agenttrace.SessionFilter{Query: projection.Project(victim.Events, nil).FirstPrompt})
	if err != nil || len(page.Sessions) != 0 {
		t.Errorf("prompt text left searchable: %v %v", page.Sessions, err)
	}
	EqualJSON(t, "the other session", MustSession(t, s, other.SessionID), keep)

	// Erased means erased: sending the events again stores them as new.
	res := MustIngest(t, s, victim.Events)
	if res.Stored != uniqueCount(victim.Events) {
		t.Errorf("re-ingest after delete stored %d, want %d", res.Stored, uniqueCount(victim.Events))
	}
}

func testDeleteBefore(t *testing.T, s agenttrace.Store) {
	all := ingestFixtures(t, s)
	var lasts []time.Time
	for _, sess := range all {
		lasts = append(lasts, sess.LastEventAt)
	}
	sort.Slice(lasts, func(i, j int) bool { return lasts[i].Before(lasts[j]) })
	cut := lasts[2].Add(time.Hour) // three sessions end before it
	var wantLeft []string
	for id, sess := range all {
		if !sess.LastEventAt.Before(cut) {
			wantLeft = append(wantLeft, id)
		}
	}
	sort.Strings(wantLeft)
	n, err := s.DeleteBefore(ctx(t), cut)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(all)-len(wantLeft) {
		t.Errorf("deleted %d, want %d", n, len(all)-len(wantLeft))
	}
	left := ids(listAll(t, s, agenttrace.SessionFilter{Limit: 50}))
	sort.Strings(left)
	equalStrings(t, "left", left, wantLeft)
	for id := range all {
		if contains(wantLeft, id) {
			continue
		}
		if _, err := s.Events(ctx(t), id, "", 10); !errors.Is(err, agenttrace.ErrNotFound) {
			t.Errorf("events of expired %s: %v", id, err)
		}
	}
	sum, err := s.Summary(ctx(t), time.Time{}, time.Time{})
	if err != nil || sum.Sessions != len(wantLeft) {
		t.Errorf("summary after retention: %+v, %v", sum, err)
	}
	if n, err := s.DeleteBefore(ctx(t), cut); err != nil || n != 0 {
		t.Errorf("second DeleteBefore = %d, %v; want 0", n, err)
	}
}

func testTokens(t *testing.T, s agenttrace.Store) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	a := agenttrace.Token{ID: "tok_a", Name: "laptop", Scope: agenttrace.ScopeIngest, CreatedAt: t0}
	b := agenttrace.Token{ID: "tok_b", Name: "dashboard", Scope: agenttrace.ScopeRead, CreatedAt: t0.Add(time.Hour)}
	if err := s.CreateToken(ctx(t), a, "hash-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx(t), b, "hash-b"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		tok  agenttrace.Token
		hash string
	}{
		{a, "hash-other"}, // duplicate id
		{agenttrace.Token{ID: "tok_c", Name: "c", Scope: agenttrace.ScopeAdmin}, "hash-a"}, // duplicate secret
		{agenttrace.Token{ID: "tok_d", Name: "d", Scope: "root"}, "hash-d"},
		{agenttrace.Token{ID: "tok_e", Name: "e", Scope: agenttrace.ScopeRead}, ""},
	} {
		if err := s.CreateToken(ctx(t), bad.tok, bad.hash); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("CreateToken(%+v, %q) = %v, want ErrInvalid", bad.tok, bad.hash, err)
		}
	}
	got, err := s.TokenBySecretHash(ctx(t), "hash-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "tok_a" || got.Scope != agenttrace.ScopeIngest || !got.CreatedAt.Equal(t0) || got.RevokedAt != nil {
		t.Errorf("lookup: %+v", got)
	}
	if _, err := s.TokenBySecretHash(ctx(t), "tok_a"); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("lookup by id instead of hash: %v, want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx(t), "tok_a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenBySecretHash(ctx(t), "hash-a"); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("lookup of a revoked token: %v, want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx(t), "tok_zzz"); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("revoke unknown: %v, want ErrNotFound", err)
	}
	list, err := s.Tokens(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "tok_a" || list[0].RevokedAt == nil || list[1].ID != "tok_b" || list[1].RevokedAt != nil {
		t.Errorf("tokens: %+v", list)
	}
	if b2, err := s.TokenBySecretHash(ctx(t), "hash-b"); err != nil || b2.ID != "tok_b" {
		t.Errorf("the other token: %+v, %v", b2, err)
	}
}

// liveSession is a session started at t with one prompt a second later, and no end.
func liveSession(id string, t time.Time) []event.Event {
	hook := func(name string, at time.Time, payload string) event.Event {
		return event.Event{ID: event.ID(event.KindHook, id, name, at.String()), Kind: event.KindHook, SessionID: id,
			Time: at, Tier: event.TierFull, HookEvent: name, User: "carol", Host: "box",
			Payload: json.RawMessage(payload)}
	}
	submit := hook("UserPromptSubmit", t.Add(time.Second),
		`{"session_id":"`+id+`","hook_event_name":"UserPromptSubmit","prompt_id":"p-live","prompt":"still going"}`)
	submit.PromptID = "p-live"
	return []event.Event{
		hook("SessionStart", t, `{"session_id":"`+id+`","hook_event_name":"SessionStart","cwd":"/src/live"}`),
		submit,
	}
}

// An active session with no event for the idle time reads as idle, in the detail, the
// list and the status filters; an ended one stays ended; a live one stays active.
func testIdleSessions(t *testing.T, s agenttrace.Store) {
	now := time.Now()
	quiet := liveSession("idle-0000-4000-8000-000000000001", now.Add(-2*time.Hour))
	live := liveSession("live-0000-4000-8000-000000000002", now.Add(-time.Minute))
	MustIngest(t, s, append(quiet, live...))
	for id, want := range map[string]string{quiet[0].SessionID: agenttrace.StatusIdle, live[0].SessionID: agenttrace.StatusActive} {
		sess, err := s.Session(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if sess.Status != want {
			t.Errorf("session %s: status %q, want %q", id, sess.Status, want)
		}
	}
	for status, want := range map[string][]string{
		agenttrace.StatusIdle:   {quiet[0].SessionID},
		agenttrace.StatusActive: {live[0].SessionID},
		agenttrace.StatusEnded:  nil,
	} {
		page, err := s.ListSessions(ctx(t), agenttrace.SessionFilter{Status: status, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sum := range page.Sessions {
			got = append(got, sum.ID)
			if sum.Status != status {
				t.Errorf("status %s: listed %s as %q", status, sum.ID, sum.Status)
			}
		}
		equalStrings(t, "status "+status, got, want)
	}
}
