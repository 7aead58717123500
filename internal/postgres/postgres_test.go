package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/postgres"
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
