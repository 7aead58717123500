package worker_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
	"github.com/agent-trace/agent-trace/internal/worker"
)

var fixtures = storetest.Fixtures()

// mustStore is a store holding every fixture.
func mustStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	for _, f := range fixtures {
		if _, err := st.Ingest(ctx, f.Events); err != nil {
			tb.Fatalf("ingest %s: %v", f.Name, err)
		}
	}
	return st
}

func countSessions(tb testing.TB, st *sqlite.Store) int {
	tb.Helper()
	page, err := st.ListSessions(context.Background(), agenttrace.SessionFilter{Limit: 200})
	if err != nil {
		tb.Fatal(err)
	}
	return len(page.Sessions)
}

// olderThanADay counts the fixtures whose last event is more than a day old.
func olderThanADay(tb testing.TB) int {
	tb.Helper()
	cutoff := time.Now().Add(-24 * time.Hour)
	n := 0
	for _, f := range fixtures {
		var last time.Time
		for _, ev := range f.Events {
			if ev.Time.After(last) {
				last = ev.Time
			}
		}
		if last.Before(cutoff) {
			n++
		}
	}
	if n == 0 {
		tb.Fatal("no fixture is older than a day; the test proves nothing")
	}
	return n
}

// Moved from internal/api (TestRetentionErasesOldSessions).
func TestRetentionErasesOldSessions(t *testing.T) {
	wantErased := olderThanADay(t)
	st := mustStore(t)
	n, err := worker.NewRetention(st, 1).Enforce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != wantErased || countSessions(t, st) != len(fixtures)-wantErased {
		t.Errorf("erased %d, %d left; want %d erased of %d", n, countSessions(t, st), wantErased, len(fixtures))
	}

	off := mustStore(t)
	if n, _ := worker.NewRetention(off, 0).Enforce(context.Background()); n != 0 || countSessions(t, off) != len(fixtures) {
		t.Errorf("without retention erased %d", n)
	}
	// Without retention, and with a store that has nothing to sweep, Run has nothing to
	// do and returns at once.
	done := make(chan struct{})
	go func() { worker.NewRetention(struct{ worker.Deleter }{off}, 0).Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run without retention did not return")
	}
}

func TestRetentionRunsAtOnceAndStops(t *testing.T) {
	wantErased := olderThanADay(t)
	st := mustStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { worker.NewRetention(st, 1).Run(ctx); close(done) }()

	// The first run does not wait for the interval (an hour).
	deadline := time.Now().Add(5 * time.Second)
	for countSessions(t, st) != len(fixtures)-wantErased {
		if time.Now().After(deadline) {
			t.Fatalf("the retention job left %d sessions, want %d", countSessions(t, st), len(fixtures)-wantErased)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

type failingStore struct{ calls chan struct{} }

var errDown = errors.New("store down")

func (f failingStore) DeleteBefore(context.Context, time.Time) (int, error) {
	select {
	case f.calls <- struct{}{}:
	default:
	}
	return 0, errDown
}

func TestRetentionReportsFailures(t *testing.T) {
	var got []error
	r := worker.NewRetention(failingStore{}, 1, worker.WithOnError(func(err error) { got = append(got, err) }))
	n, err := r.Enforce(context.Background())
	if n != 0 || !errors.Is(err, errDown) {
		t.Errorf("Enforce = %d, %v; want 0, %v", n, err, errDown)
	}
	if len(got) != 1 || !errors.Is(got[0], errDown) {
		t.Errorf("OnError saw %v, want one %v", got, errDown)
	}

	// A failed run does not stop the worker: it tries again every interval.
	fs := failingStore{calls: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go worker.NewRetention(fs, 1, worker.WithInterval(time.Millisecond)).Run(ctx)
	for range 3 {
		select {
		case <-fs.calls:
		case <-time.After(5 * time.Second):
			t.Fatal("the worker stopped retrying after a failure")
		}
	}
}

// Each run that enforces retention leaves one audit entry by "system" with the count,
// sweeps expired dashboard logins, and prunes the audit log past its retention.
func TestRetentionIsAudited(t *testing.T) {
	st := mustStore(t)
	ctx := context.Background()
	old := agenttrace.AuditEntry{Time: time.Now().Add(-500 * 24 * time.Hour), Actor: "cli", Action: agenttrace.AuditTokenCreate, Outcome: agenttrace.AuditOK}
	if err := st.AppendAudit(ctx, old); err != nil {
		t.Fatal(err)
	}
	// An expired dashboard login, swept by the same run.
	if err := st.CreateToken(ctx, agenttrace.Token{ID: "tok_r", Name: "r", Scope: agenttrace.ScopeRead}, "h"); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	if err := st.CreateDashboardSession(ctx, "s", agenttrace.DashboardSession{TokenID: "tok_r", CreatedAt: past, LastSeenAt: past, ExpiresAt: past}); err != nil {
		t.Fatal(err)
	}
	want := olderThanADay(t)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		worker.NewRetention(st, 1, worker.WithAudit(audit.New(st, nil)), worker.WithInterval(time.Hour)).Run(ctx)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	var page agenttrace.AuditPage
	for {
		var err error
		if page, err = st.Audit(context.Background(), agenttrace.AuditFilter{}); err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) == 1 && page.Entries[0].Action == agenttrace.AuditRetentionRun || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if len(page.Entries) != 1 {
		t.Fatalf("audit = %+v, want the run alone (the 500-day-old entry pruned)", page.Entries)
	}
	if e := page.Entries[0]; e.Actor != agenttrace.ActorSystem || e.Count != want || e.Outcome != agenttrace.AuditOK {
		t.Errorf("run entry %+v, want actor system counting %d sessions", e, want)
	}
	if n, err := st.DeleteExpiredDashboardSessions(context.Background(), time.Now()); err != nil || n != 0 {
		t.Errorf("expired dashboard sessions left after the run: %d, %v", n, err)
	}
}
