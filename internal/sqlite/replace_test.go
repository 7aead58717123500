package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/sqlstore/sqlstoretest"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// A store keeps live sessions' projections in memory between ingests. A write it did
// not fold, even one that changes no event count (another process on the same file
// replacing a usage reading with the grown copy), must not be missed: the next ingest
// has to project it.
func TestCachedProjectionSeesReplacedCopies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
		return sqlstoretest.Migrated(t, s, err)
	}
	a, b := open(), open()
	ctx := context.Background()
	f := storetest.Fixtures()[0]
	evs := append([]event.Event(nil), f.Events...)
	// Usage events follow the hook events in a fixture: split so that a sees one.
	half := -1
	var grown event.Event
	for i, e := range evs {
		if e.Kind == event.KindUsage {
			half = i + 1
			grown = e
			u := *e.Usage
			u.OutputTokens += 1000
			grown.Usage = &u
			break
		}
	}
	if half < 0 || half == len(evs) {
		t.Fatal("the fixture has no usage event followed by more events")
	}
	if _, err := a.Ingest(ctx, evs[:half]); err != nil { // a caches the session
		t.Fatal(err)
	}
	if _, err := b.Ingest(ctx, []event.Event{grown}); err != nil { // b replaces one copy
		t.Fatal(err)
	}
	if _, err := a.Ingest(ctx, evs[half:]); err != nil { // a folds the rest
		t.Fatal(err)
	}
	want := projection.Project(append(append([]event.Event(nil), evs...), grown), storetest.TestPricer{})
	got, err := a.Session(ctx, f.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Usage != want.Usage {
		t.Errorf("usage %+v, want %+v with the grown copy", got.Usage, want.Usage)
	}
}
