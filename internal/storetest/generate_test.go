package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/projection"
)

func TestGenerate(t *testing.T) {
	a := Generate(3, 20, 50)
	b := Generate(3, 20, 50)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("the same seed gave different data")
	}
	ids := map[string]bool{}
	kinds := map[string]int{}
	users := map[string]bool{}
	var commits, prs, errors int
	for _, evs := range a {
		if len(evs) != 50 {
			t.Fatalf("session has %d events, want 50", len(evs))
		}
		for i, e := range evs {
			if err := e.Validate(); err != nil {
				t.Fatalf("invalid event %s: %v", e.ID, err)
			}
			if ids[e.ID] {
				t.Fatalf("duplicate event ID %s", e.ID)
			}
			ids[e.ID] = true
			kinds[e.Kind]++
			if i > 0 && e.Time.Before(evs[i-1].Time) {
				t.Fatalf("events out of time order")
			}
			if e.Time.After(GenEnd) || e.Time.Before(GenEnd.Add(-91*24*time.Hour)) {
				t.Fatalf("event time %s outside the 90 days", e.Time)
			}
		}
		s := projection.Project(evs, TestPricer{})
		users[s.User] = true
		commits += s.CommitCount
		prs += s.PRCount
		errors += s.ErrorCount
		if s.PromptCount == 0 || s.ToolCallCount == 0 || s.EventCount != 50 {
			t.Errorf("session %s: %d prompts, %d calls, %d events", s.ID, s.PromptCount, s.ToolCallCount, s.EventCount)
		}
	}
	if kinds[event.KindHook] == 0 || kinds[event.KindUsage] == 0 || commits == 0 || prs == 0 || errors == 0 || len(users) < 3 {
		t.Errorf("not realistic enough: kinds %v, %d commits, %d PRs, %d errors, %d users", kinds, commits, prs, errors, len(users))
	}
}
