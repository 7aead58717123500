package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
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

// recordingAnalytics is an agenttrace.AnalyticsBackend that records what PostgreSQL hands
// it: the adapter knows its analytics backend only through that port.
type recordingAnalytics struct {
	mu      sync.Mutex
	events  []agenttrace.EventRecord
	changes []agenttrace.UsageChange
	flushes int
	erased  []string
}

func (r *recordingAnalytics) Add(events []agenttrace.EventRecord, changes []agenttrace.UsageChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, events...)
	r.changes = append(r.changes, changes...)
}

func (r *recordingAnalytics) Flush(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes++
	return nil
}

func (r *recordingAnalytics) EraseSessions(_ context.Context, ids []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.erased = append(r.erased, ids...)
	return nil
}

func (r *recordingAnalytics) DailyCost(context.Context, time.Time, time.Time, string) ([]agenttrace.DailyCost, error) {
	return []agenttrace.DailyCost{{Day: "from-analytics"}}, nil
}

func (r *recordingAnalytics) Cost(context.Context, time.Time, time.Time) (float64, []string, error) {
	return 42, []string{"from-analytics"}, nil
}

// With an analytics backend, PostgreSQL hands it every event written and every usage
// fact change once committed, tombstones and erases on delete, and asks it the cost
// questions.
func TestAnalyticsPort(t *testing.T) {
	an := &recordingAnalytics{}
	s, err := postgres.Open(t.Context(), freshDatabase(t), postgres.Options{Pricer: storetest.TestPricer{}, Analytics: an})
	s = sqlstoretest.Migrated(t, s, err)
	f := storetest.Fixtures()[0]
	res := storetest.MustIngest(t, s, f.Events)
	_, usages := projection.ProjectWithUsage(f.Events, storetest.TestPricer{})
	if len(an.events) != res.Stored || len(an.changes) != len(usages) {
		t.Fatalf("after ingest: %d events, %d usage changes handed over; want %d and %d", len(an.events), len(an.changes), res.Stored, len(usages))
	}
	for _, c := range an.changes {
		if c.Old != nil || c.New == nil || c.New.SessionID != f.SessionID || c.Version == 0 {
			t.Fatalf("new usage fact change %+v: want New only, of %s, versioned", c, f.SessionID)
		}
	}
	storetest.MustIngest(t, s, f.Events)
	if len(an.events) != res.Stored || len(an.changes) != len(usages) {
		t.Errorf("a re-delivered batch handed over %d events, %d changes more; want none", len(an.events)-res.Stored, len(an.changes)-len(usages))
	}
	if d, err := s.DailyCost(t.Context(), time.Time{}, time.Time{}, agenttrace.GroupByModel); err != nil || len(d) != 1 || d[0].Day != "from-analytics" {
		t.Errorf("DailyCost = %v, %v; want the analytics backend's answer", d, err)
	}
	if sum, err := s.Summary(t.Context(), time.Time{}, time.Time{}); err != nil || sum.CostUSD != 42 || sum.Sessions != 1 {
		t.Errorf("Summary = %+v, %v; want counts from PostgreSQL and cost 42 from analytics", sum, err)
	}
	n := len(an.changes)
	if err := s.DeleteSession(t.Context(), f.SessionID); err != nil {
		t.Fatal(err)
	}
	for _, c := range an.changes[n:] {
		if c.Old == nil || c.New != nil {
			t.Fatalf("change on delete %+v: want a tombstone", c)
		}
	}
	if len(an.changes)-n != len(usages) || an.flushes == 0 || len(an.erased) != 1 || an.erased[0] != f.SessionID {
		t.Errorf("on delete: %d tombstones, %d flushes, erased %v; want %d, >0, [%s]", len(an.changes)-n, an.flushes, an.erased, len(usages), f.SessionID)
	}
}
