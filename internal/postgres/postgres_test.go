package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/sqlstore/sqlstoretest"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// serviceURL returns a test service's URL from the environment (scripts/test-services.sh
// writes them): without it the test fails in CI and skips elsewhere.
func serviceURL(tb testing.TB, name string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		msg := name + " is not set: run scripts/test-services.sh and source .cache/test-services.env"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return v
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// freshDatabase creates an empty PostgreSQL schema, dropped when the test ends, and
// returns a connection string that selects it.
func freshDatabase(tb testing.TB) string {
	tb.Helper()
	base := serviceURL(tb, "AGENT_TRACE_TEST_POSTGRES")
	schema := randomName("t_")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect %s: %v", base, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	tb.Cleanup(func() {
		ctx := context.Background()
		if conn, err := pgx.Connect(ctx, base); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	return u.String()
}

// Without an analytics backend, PostgreSQL answers the analytics itself.
func TestConformancePostgresOnly(t *testing.T) {
	storetest.Run(t, func(t *testing.T) agenttrace.Store {
		return openPostgres(t, freshDatabase(t))
	})
}

// openPostgres opens a migrated PostgreSQL-only store on dsn; the test closes it at its end.
func openPostgres(t *testing.T, dsn string) *postgres.Store {
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{Pricer: storetest.TestPricer{}, MaxConns: 4})
	return sqlstoretest.Migrated(t, s, err)
}

func openSQLite(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	return sqlstoretest.Migrated(t, s, err)
}

// Every fixture session ingested into SQLite and into PostgreSQL alone gives identical
// answers (the team store's twin of this test is in cmd/agent-trace-server).
func TestFixturesMatchSQLite(t *testing.T) {
	pg := openPostgres(t, freshDatabase(t))
	lite := openSQLite(t)
	var ids []string
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, lite, f.Events)
		for i := 0; i < len(f.Events); i += 7 {
			storetest.MustIngest(t, pg, f.Events[i:min(i+7, len(f.Events))])
		}
		ids = append(ids, f.SessionID)
	}
	storetest.SameAnswers(t, pg, lite, ids)
}

// fakeAnalytics answers the cost questions with markers.
type fakeAnalytics struct{}

func (fakeAnalytics) DailyCost(context.Context, time.Time, time.Time, string) ([]agenttrace.DailyCost, error) {
	return []agenttrace.DailyCost{{Day: "from-analytics"}}, nil
}

func (fakeAnalytics) UsageCost(context.Context, time.Time, time.Time) (agenttrace.UsageCost, error) {
	return agenttrace.UsageCost{Usage: agenttrace.Usage{InputTokens: 7}, CostUSD: 42, UnpricedModels: []string{"from-analytics"}}, nil
}

// With an outbox, every ingest writes the events it stored and its usage changes to the
// outbox in its own transaction, a re-delivered batch writes nothing, a delete writes
// tombstones and then the erasure, and the analytics store answers tokens and cost.
func TestOutbox(t *testing.T) {
	s, err := postgres.Open(t.Context(), freshDatabase(t), postgres.Options{Pricer: storetest.TestPricer{},
		Analytics: fakeAnalytics{}, Outbox: true})
	s = sqlstoretest.Migrated(t, s, err)
	f := storetest.Fixtures()[0]
	res := storetest.MustIngest(t, s, f.Events)
	_, usages := projection.ProjectWithUsage(f.Events, storetest.TestPricer{})
	b, err := s.PendingOutbox(t.Context(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != res.Stored || len(b.Usage) != len(usages) || len(b.Seqs) != res.Stored+len(usages) {
		t.Fatalf("after ingest: %d events, %d usage records of %d rows; want %d and %d", len(b.Events), len(b.Usage), len(b.Seqs), res.Stored, len(usages))
	}
	for _, r := range b.Usage {
		if r.Deleted || r.SessionID != f.SessionID || r.Version == 0 {
			t.Fatalf("usage record %+v: want live, of %s, versioned", r, f.SessionID)
		}
	}
	if lag, err := s.AnalyticsLag(t.Context()); err != nil || lag == nil || lag.PendingRows != int64(len(b.Seqs)) {
		t.Fatalf("AnalyticsLag = %+v, %v; want %d pending", lag, err, len(b.Seqs))
	}
	if err := s.AckOutbox(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	storetest.MustIngest(t, s, f.Events)
	if b, err := s.PendingOutbox(t.Context(), 100); err != nil || !b.Empty() {
		t.Errorf("after a re-delivered batch: %d rows pending, %v; want none", len(b.Seqs), err)
	}
	if d, err := s.DailyCost(t.Context(), time.Time{}, time.Time{}, agenttrace.GroupByModel); err != nil || len(d) != 1 || d[0].Day != "from-analytics" {
		t.Errorf("DailyCost = %v, %v; want the analytics backend's answer", d, err)
	}
	if sum, err := s.Summary(t.Context(), time.Time{}, time.Time{}); err != nil || sum.CostUSD != 42 || sum.Usage.InputTokens != 7 || sum.Sessions != 1 {
		t.Errorf("Summary = %+v, %v; want counts from PostgreSQL, tokens 7 and cost 42 from analytics", sum, err)
	}
	if err := s.DeleteSession(t.Context(), f.SessionID); err != nil {
		t.Fatal(err)
	}
	b, err = s.PendingOutbox(t.Context(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range b.Usage {
		if !r.Deleted {
			t.Fatalf("usage record on delete %+v: want a tombstone", r)
		}
	}
	if len(b.Usage) != len(usages) || len(b.Erase) != 1 || b.Erase[0] != f.SessionID {
		t.Errorf("on delete: %d tombstones, erase %v; want %d, [%s]", len(b.Usage), b.Erase, len(usages), f.SessionID)
	}
}

// A transaction that took an outbox seq before another, but commits after the other
// was shipped, is still shipped: the outbox is drained by row, not by a seq watermark
// that would have passed it.
func TestOutboxLateCommit(t *testing.T) {
	dsn := freshDatabase(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{Outbox: true})
	s = sqlstoretest.Migrated(t, s, err)
	early, err := s.Pool().Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer early.Rollback(context.Background())
	if _, err := early.Exec(t.Context(), `INSERT INTO ch_outbox (erase) VALUES ('{early}')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(t.Context(), `INSERT INTO ch_outbox (erase) VALUES ('{late}')`); err != nil {
		t.Fatal(err)
	}
	b, err := s.PendingOutbox(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Erase, []string{"late"}; !slices.Equal(got, want) {
		t.Fatalf("first batch erases %v, want %v", got, want)
	}
	if err := s.AckOutbox(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if err := early.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err = s.PendingOutbox(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Erase, []string{"early"}; !slices.Equal(got, want) {
		t.Fatalf("after the early transaction committed: batch erases %v, want %v", got, want)
	}
}

// One process leads the shipper at a time; another takes over when it lets go or dies.
func TestShipperLease(t *testing.T) {
	dsn := freshDatabase(t)
	a, err := postgres.Open(t.Context(), dsn, postgres.Options{Outbox: true})
	a = sqlstoretest.Migrated(t, a, err)
	b, err := postgres.Open(t.Context(), dsn, postgres.Options{Outbox: true})
	b = sqlstoretest.Migrated(t, b, err)
	_, release, err := a.LeadShipper(t.Context(), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := b.LeadShipper(ctx, 50*time.Millisecond); err == nil {
		t.Fatal("a second process took the lead while the first held it")
	}
	release()
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, release, err = b.LeadShipper(ctx, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("the second process did not take over: %v", err)
	}
	release()
}

// The lease is per store: two deployments in different schemas of one database (a
// search_path each) ship at the same time; neither waits for the other's lock.
func TestShipperLeasePerSchema(t *testing.T) {
	a, err := postgres.Open(t.Context(), freshDatabase(t), postgres.Options{Outbox: true})
	a = sqlstoretest.Migrated(t, a, err)
	b, err := postgres.Open(t.Context(), freshDatabase(t), postgres.Options{Outbox: true})
	b = sqlstoretest.Migrated(t, b, err)
	_, release, err := a.LeadShipper(t.Context(), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, releaseB, err := b.LeadShipper(ctx, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("the store in another schema could not lead its shipper while the first led its own: %v", err)
	}
	releaseB()
}
