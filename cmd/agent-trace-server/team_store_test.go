package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/sqlstore/sqlstoretest"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// The team store is composed here (teamStore), so the tests that run PostgreSQL and
// ClickHouse together live here too.

// openTestTeam opens a migrated team store on fresh databases; the test closes it at its end.
func openTestTeam(tb testing.TB, chOpts clickhouse.Options) *teamStore {
	tb.Helper()
	pg, ch := teamURLs(tb)
	return openTestTeamOn(tb, pg, ch, chOpts)
}

// openTestTeamOn opens a migrated team store on the given databases.
func openTestTeamOn(tb testing.TB, pg, ch string, chOpts clickhouse.Options) *teamStore {
	tb.Helper()
	s, err := openTeamStore(context.Background(), pg, ch, postgres.Options{Pricer: storetest.TestPricer{}, MaxConns: 8}, chOpts)
	return sqlstoretest.Migrated(tb, s, err)
}

func openSQLite(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	return sqlstoretest.Migrated(t, s, err)
}

// shipped is a team store whose analytics reads first ship the whole outbox, as the
// shipper would shortly after: the behaviours every backend shares assume reads see
// every write.
type shipped struct{ *teamStore }

func (s shipped) DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]agenttrace.DailyCost, error) {
	if err := s.ShipAll(ctx); err != nil {
		return nil, err
	}
	return s.teamStore.DailyCost(ctx, from, to, groupBy)
}

func (s shipped) Summary(ctx context.Context, from, to time.Time) (agenttrace.Summary, error) {
	if err := s.ShipAll(ctx); err != nil {
		return agenttrace.Summary{}, err
	}
	return s.teamStore.Summary(ctx, from, to)
}

func TestConformanceTeam(t *testing.T) {
	storetest.Run(t, func(t *testing.T) agenttrace.Store {
		return shipped{openTestTeam(t, clickhouse.Options{})}
	})
}

// The conformance suite with ClickHouse's tables on the 2-shard test cluster.
func TestConformanceTeamCluster(t *testing.T) {
	storetest.Run(t, func(t *testing.T) agenttrace.Store {
		pg, ch, cluster := clusterTeamURLs(t)
		return shipped{openTestTeamOn(t, pg, ch, clickhouse.Options{Cluster: cluster})}
	})
}

// Every fixture session ingested into SQLite and into PostgreSQL + ClickHouse gives
// identical answers.
func TestFixturesMatchSQLite(t *testing.T) {
	team := openTestTeam(t, clickhouse.Options{})
	lite := openSQLite(t)
	var ids []string
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, lite, f.Events)
		// The team store gets them in batches of 7, out of order, one batch twice: the
		// path through incremental re-projection and ClickHouse versions differs.
		evs := append([]event.Event(nil), f.Events...)
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
		for i := 0; i < len(evs); i += 7 {
			batch := evs[i:min(i+7, len(evs))]
			storetest.MustIngest(t, team, batch)
			if i == 7 {
				storetest.MustIngest(t, team, batch)
			}
		}
		ids = append(ids, f.SessionID)
	}
	storetest.SameAnswers(t, shipped{team}, lite, ids)
}

// Two server processes on the same databases, ingesting the same batches at the same
// time, store every event once and agree on every answer.
func TestConcurrentReplicas(t *testing.T) {
	pg, ch := teamURLs(t)
	a := openTestTeamOn(t, pg, ch, clickhouse.Options{})
	b := openTestTeamOn(t, pg, ch, clickhouse.Options{})
	var batches [][]event.Event
	unique := map[string]bool{}
	var ids []string
	for _, f := range storetest.Fixtures() {
		for i := 0; i < len(f.Events); i += 5 {
			batches = append(batches, f.Events[i:min(i+5, len(f.Events))])
		}
		for _, e := range f.Events {
			unique[e.ID] = true
		}
		ids = append(ids, f.SessionID)
	}
	var wg sync.WaitGroup
	stored := make([]int, 2)
	errs := make([]error, 2)
	for r, s := range []*teamStore{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, batch := range batches {
				res, err := s.Ingest(context.Background(), batch)
				if err != nil {
					errs[r] = err
					return
				}
				stored[r] += res.Stored
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got, want := stored[0]+stored[1], len(unique); got != want {
		t.Errorf("stored %d+%d events, want %d in all", stored[0], stored[1], want)
	}
	var n int
	if err := a.Pool().QueryRow(t.Context(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(unique) {
		t.Errorf("events table holds %d rows, want %d", n, len(unique))
	}
	lite := openSQLite(t)
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, lite, f.Events)
	}
	// Both replicas' writes wait in the one outbox; either ships them.
	storetest.SameAnswers(t, shipped{b}, lite, ids)
	storetest.SameAnswers(t, shipped{a}, lite, ids)
}

// A store closed before anything was shipped loses nothing: the next process ships it.
func TestCloseKeepsOutbox(t *testing.T) {
	pg, ch := teamURLs(t)
	s := openTestTeamOn(t, pg, ch, clickhouse.Options{})
	f := storetest.Fixtures()[0]
	storetest.MustIngest(t, s, f.Events)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	next := openTestTeamOn(t, pg, ch, clickhouse.Options{})
	if err := next.ShipAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	an := next.analytics
	var events, usage uint64
	if err := an.Conn().QueryRow(t.Context(), "SELECT count() FROM `"+an.Database()+"`.events").Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := an.Conn().QueryRow(t.Context(), "SELECT count() FROM `"+an.Database()+"`.usage_facts").Scan(&usage); err != nil {
		t.Fatal(err)
	}
	_, wantUsage := projection.ProjectWithUsage(f.Events, storetest.TestPricer{})
	if events == 0 || usage != uint64(len(wantUsage)) {
		t.Errorf("after Close and a new process: %d events, %d usage rows in ClickHouse; want >0 and %d", events, usage, len(wantUsage))
	}
}

func TestMigrateAndCheckSchema(t *testing.T) {
	pg, ch := teamURLs(t)
	s, err := openTeamStore(t.Context(), pg, ch, postgres.Options{}, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.CheckSchema(t.Context())
	if !errors.Is(err, agenttrace.ErrSchemaOutdated) || !strings.Contains(err.Error(), "agent-trace-server migrate") ||
		!strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("CheckSchema on empty databases = %v; want ErrSchemaOutdated naming the migration and the command", err)
	}
	// Two processes migrating at once, then again: each migration applies once.
	other, err := openTeamStore(t.Context(), pg, ch, postgres.Options{}, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, st := range []*teamStore{s, other} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = st.Migrate(context.Background()) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(t.Context()); err != nil {
		t.Fatalf("CheckSchema after Migrate = %v", err)
	}
	var n int
	if err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(postgres.Migrations()) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(postgres.Migrations()))
	}
	// A ClickHouse database that lost its tables is out of date too.
	an, err := clickhouse.Open(t.Context(), ch, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	if err := an.DropDatabase(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(t.Context()); !errors.Is(err, agenttrace.ErrSchemaOutdated) || !strings.Contains(err.Error(), "clickhouse") {
		t.Errorf("CheckSchema without ClickHouse tables = %v; want ErrSchemaOutdated naming clickhouse", err)
	}
}

// Refresh re-projects stored sessions when the prices change, and ClickHouse's answers
// follow: the new versions of every usage row win over the old ones.
func TestRefreshReprices(t *testing.T) {
	pg, ch := teamURLs(t)
	unpriced, err := openTeamStore(t.Context(), pg, ch, postgres.Options{}, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unpriced.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, unpriced, f.Events)
		ids = append(ids, f.SessionID)
	}
	if _, err := unpriced.Refresh(t.Context(), "none"); err != nil {
		t.Fatal(err)
	}
	sum, err := shipped{unpriced}.Summary(t.Context(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.CostUSD != 0 || len(sum.UnpricedModels) == 0 {
		t.Fatalf("without prices: cost %v, unpriced %v", sum.CostUSD, sum.UnpricedModels)
	}
	if err := unpriced.Close(); err != nil {
		t.Fatal(err)
	}

	priced := openTestTeamOn(t, pg, ch, clickhouse.Options{})
	n, err := priced.Refresh(t.Context(), "test-prices")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ids) {
		t.Errorf("Refresh rebuilt %d sessions, want %d", n, len(ids))
	}
	if n, err := priced.Refresh(t.Context(), "test-prices"); err != nil || n != 0 {
		t.Errorf("second Refresh = %d, %v; want 0", n, err)
	}
	lite := openSQLite(t)
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, lite, f.Events)
	}
	storetest.SameAnswers(t, shipped{priced}, lite, ids)
}

// clickhouse check finds the days where ClickHouse lost rows, rebuild of a range and
// from scratch refills them from PostgreSQL, and check then agrees.
func TestClickHouseCheckAndRebuild(t *testing.T) {
	pg, ch := teamURLs(t)
	s := openTestTeamOn(t, pg, ch, clickhouse.Options{})
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, s, f.Events)
	}
	flags := []string{"--postgres", pg, "--clickhouse", ch}
	if out, err := run(t, append([]string{"clickhouse", "check"}, flags...)...); err == nil || !strings.Contains(err.Error(), "not shipped yet") {
		t.Fatalf("check before shipping: %q, %v; want days that differ and the pending rows named", out, err)
	}
	if err := s.ShipAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, append([]string{"clickhouse", "check"}, flags...)...); err != nil || !strings.Contains(out, "matches") {
		t.Fatalf("check after shipping: %q, %v", out, err)
	}
	days, err := s.DailyCounts(t.Context(), time.Time{}, time.Time{})
	if err != nil || len(days) == 0 {
		t.Fatalf("DailyCounts = %v, %v", days, err)
	}
	// ClickHouse loses everything; a rebuild of the first day alone leaves the others different.
	if err := s.analytics.Clear(t.Context(), time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	day, _ := time.Parse(time.DateOnly, days[0].Day)
	args := append([]string{"clickhouse", "rebuild", "--no-progress", "--from", days[0].Day, "--to", day.AddDate(0, 0, 1).Format(time.DateOnly)}, flags...)
	if out, err := run(t, args...); err != nil || !strings.Contains(out, "rebuilt") {
		t.Fatalf("rebuild of %s: %q, %v", days[0].Day, out, err)
	}
	out, err := run(t, append([]string{"clickhouse", "check"}, flags...)...)
	if len(days) > 1 && (err == nil || strings.Contains(out, days[0].Day) || !strings.Contains(out, days[1].Day)) {
		t.Fatalf("check after rebuilding %s: %q, %v; want the other days listed", days[0].Day, out, err)
	}
	if len(days) == 1 && err != nil {
		t.Fatalf("check after rebuilding the only day %s: %q, %v", days[0].Day, out, err)
	}
	t.Logf("fixtures span %d days", len(days))
	if out, err := run(t, append([]string{"clickhouse", "rebuild", "--no-progress"}, flags...)...); err != nil {
		t.Fatalf("rebuild: %q, %v", out, err)
	}
	if out, err := run(t, append([]string{"clickhouse", "check"}, flags...)...); err != nil {
		t.Fatalf("check after rebuild: %q, %v", out, err)
	}
	lite := openSQLite(t)
	var ids []string
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, lite, f.Events)
		ids = append(ids, f.SessionID)
	}
	storetest.SameAnswers(t, s, lite, ids)
}
