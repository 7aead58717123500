package postgres_test

import (
	"context"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// Each replica keeps live sessions' projections in memory between ingests. A write by
// another replica in between, even one that changes no event count (a preferred copy of
// an event replacing the stored one), must not be missed: the next ingest on the first
// replica has to project it.
func TestReplicaCachesSeeOtherReplicasWrites(t *testing.T) {
	dsn := freshDatabase(t)
	a, b := openPostgres(t, dsn), openPostgres(t, dsn)
	ctx := context.Background()
	f := storetest.Fixtures()[0]
	var usage []int
	for i, e := range f.Events {
		if e.Kind == event.KindUsage {
			usage = append(usage, i)
		}
	}
	if len(usage) == 0 {
		t.Fatal("the fixture has no usage event")
	}
	evs := append([]event.Event(nil), f.Events...)
	// A grown copy of one reading, as a transcript line re-read while it was still written.
	target := evs[usage[0]]
	grown := target
	u := *target.Usage
	u.OutputTokens += 1000
	grown.Usage = &u
	half := len(evs) / 2

	if _, err := a.Ingest(ctx, evs[:half]); err != nil { // a caches the session
		t.Fatal(err)
	}
	if _, err := b.Ingest(ctx, evs[:half]); err != nil { // all duplicates on b
		t.Fatal(err)
	}
	if _, err := b.Ingest(ctx, []event.Event{grown}); err != nil { // b replaces one copy
		t.Fatal(err)
	}
	if _, err := a.Ingest(ctx, evs[half:]); err != nil { // a folds the rest
		t.Fatal(err)
	}
	all := append(append([]event.Event(nil), evs...), grown)
	want := projection.Project(all, storetest.TestPricer{})
	for name, s := range map[string]interface {
		Session(context.Context, string) (*agenttrace.Session, error)
	}{"a": a, "b": b} {
		got, err := s.Session(ctx, f.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Usage != want.Usage || got.EventCount != want.EventCount {
			t.Errorf("replica %s: usage %+v over %d events, want %+v over %d", name, got.Usage, got.EventCount, want.Usage, want.EventCount)
		}
	}
}
