package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

func TestProjectionRows(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	cost := 0.5
	sess := &agenttrace.Session{SessionSummary: agenttrace.SessionSummary{ID: "s1", User: "ana", Repo: "github.com/a/b",
		Branch: "main", StartedAt: t0, Models: []string{"opus", "haiku", "opus"}, Branches: []string{"feat", "main"}}}
	sess.Commits = []agenttrace.Commit{{SHA: "c1", CommittedAt: t0}, {SHA: "c2", CommittedAt: t0, Repo: "github.com/x/y", User: "bo"}}
	sess.PullRequests = []agenttrace.PullRequest{{Forge: "github", Repo: "a/b", Number: 7, SeenAt: t0}}

	row, err := NewSessionRow(sess)
	if err != nil {
		t.Fatal(err)
	}
	var back agenttrace.Session
	if err := json.Unmarshal(row.Detail, &back); err != nil || back.ID != "s1" {
		t.Fatalf("detail does not decode to the session: %v, %+v", err, back.SessionSummary)
	}
	if row.EndedMS != nil || row.CostKey != -1 {
		t.Errorf("active unpriced session: ended %v, cost key %v; want nil, -1", row.EndedMS, row.CostKey)
	}
	sess.EndedAt, sess.CostUSD = &t0, &cost
	if row, _ = NewSessionRow(sess); row.EndedMS == nil || *row.EndedMS != t0.UnixMilli() || row.CostKey != 0.5 {
		t.Errorf("ended priced session: ended %v, cost key %v", row.EndedMS, row.CostKey)
	}

	wantFacets := []Facet{{"branch", "feat"}, {"branch", "main"}, {"model", "haiku"}, {"model", "opus"}}
	if got := Facets(sess); !reflect.DeepEqual(got, wantFacets) {
		t.Errorf("Facets = %v, want %v", got, wantFacets)
	}

	commits, err := CommitRows(sess, sess.Commits)
	if err != nil {
		t.Fatal(err)
	}
	got := [][3]string{}
	for _, c := range commits {
		got = append(got, [3]string{c.Key, c.Repo, c.User})
	}
	if want := [][3]string{{"c1", "github.com/a/b", "ana"}, {"c2", "github.com/x/y", "bo"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("commit rows = %v, want %v (the session's repo and user fill gaps)", got, want)
	}
	prs, err := PullRequestRows(sess, sess.PullRequests)
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 1 || prs[0].Key != "github/a/b#7" || prs[0].User != "ana" || prs[0].TimeMS != t0.UnixMilli() {
		t.Errorf("pull request rows = %+v", prs)
	}

	facts := UsageFacts(sess, []agenttrace.PricedUsage{{EventID: "e1", Time: t0.Add(time.Second), Model: "opus", User: "ana",
		Usage: agenttrace.Usage{InputTokens: 3}, CostUSD: &cost}})
	want := UsageFact{EventID: "e1", SessionID: "s1", TimeMS: t0.Add(time.Second).UnixMilli(), SessionStartedMS: t0.UnixMilli(),
		Model: "opus", User: "ana", Repo: "github.com/a/b", Usage: agenttrace.Usage{InputTokens: 3}, CostUSD: &cost}
	if len(facts) != 1 || !facts[0].Equal(want) {
		t.Fatalf("UsageFacts = %+v, want %+v", facts, want)
	}
	other := 0.5
	same := want
	same.CostUSD = &other
	if !want.Equal(same) {
		t.Error("facts with equal costs at different addresses are not Equal")
	}
	same.CostUSD = nil
	if want.Equal(same) {
		t.Error("a priced and an unpriced fact are Equal")
	}
}
