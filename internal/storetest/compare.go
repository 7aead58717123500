package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// SameAnswers compares every read of the Store contract on two stores, field by field
// (as JSON, which is what the API serves): for stores opened by the caller, whatever
// adapters or compositions they are.
func SameAnswers(t *testing.T, got, want agenttrace.Store, sessions []string) {
	t.Helper()
	ctx := t.Context()
	for _, id := range sessions {
		g, err := got.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		w, err := want.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		EqualJSON(t, "session "+id, g, w)
		ge, err := got.Events(ctx, id, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		we, err := want.Events(ctx, id, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		EqualJSON(t, "events of "+id, ge, we)
	}
	for _, sort := range []string{"started_at", "cost", "duration"} {
		for _, desc := range []bool{false, true} {
			f := agenttrace.SessionFilter{Sort: sort, Desc: desc, Limit: 200}
			g, err := got.ListSessions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			w, err := want.ListSessions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			// Cursors are opaque and backend-specific; the rows must match.
			EqualJSON(t, fmt.Sprintf("list by %s desc=%v", sort, desc), g.Sessions, w.Sessions)
		}
	}
	gc, err := got.Commits(ctx, agenttrace.CommitFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	wc, err := want.Commits(ctx, agenttrace.CommitFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	EqualJSON(t, "commits", gc.Commits, wc.Commits)
	gp, err := got.PullRequests(ctx, agenttrace.CommitFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	wp, err := want.PullRequests(ctx, agenttrace.CommitFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	EqualJSON(t, "pull requests", gp.PullRequests, wp.PullRequests)
	for _, group := range []string{agenttrace.GroupBySession, agenttrace.GroupByModel, agenttrace.GroupByUser, agenttrace.GroupByRepo} {
		g, err := got.DailyCost(ctx, time.Time{}, time.Time{}, group)
		if err != nil {
			t.Fatal(err)
		}
		w, err := want.DailyCost(ctx, time.Time{}, time.Time{}, group)
		if err != nil {
			t.Fatal(err)
		}
		EqualJSON(t, "daily cost by "+group, g, w)
	}
	// Everything, and a range whose edges fall inside days (the generator's 90 days).
	for _, r := range [][2]time.Time{{}, {GenEnd.Add(-40*24*time.Hour + 13*time.Hour + 30*time.Minute), GenEnd.Add(-5*24*time.Hour - 7*time.Hour)}} {
		label := fmt.Sprintf("[%s, %s)", r[0].Format(time.RFC3339), r[1].Format(time.RFC3339))
		gs, err := got.Summary(ctx, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		ws, err := want.Summary(ctx, r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		EqualJSON(t, "summary "+label, gs, ws)
		g, err := got.DailyCost(ctx, r[0], r[1], agenttrace.GroupByModel)
		if err != nil {
			t.Fatal(err)
		}
		w, err := want.DailyCost(ctx, r[0], r[1], agenttrace.GroupByModel)
		if err != nil {
			t.Fatal(err)
		}
		EqualJSON(t, "daily cost by model "+label, g, w)
	}
}
