package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"
)

// serviceURL returns the URL scripts/test-services.sh exported in name. Without it the test
// fails in CI, where the services must be running, and skips elsewhere.
func serviceURL(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must start the test services (scripts/test-services.sh)", name)
		}
		t.Skipf("%s is not set; run scripts/test-services.sh and export its env file (make test does)", name)
	}
	return v
}

// TestServicesPostgres checks that the throwaway PostgreSQL the test tooling starts answers
// with pgx and holds the test database.
func TestServicesPostgres(t *testing.T) {
	dsn := serviceURL(t, "AGENT_TRACE_TEST_POSTGRES")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var db, version string
	if err := conn.QueryRow(ctx, "SELECT current_database(), version()").Scan(&db, &version); err != nil {
		t.Fatalf("query: %v", err)
	}
	if got, want := db, "agent_trace_test"; got != want {
		t.Errorf("current_database() = %q, want %q", got, want)
	}
	t.Logf("postgres: %s", version)
}

// TestServicesClickHouse records exactly what clickhouse-go/v2 can do with the ClickHouse in
// Debian's packages (18.16): the team backend's design depends on it. Over the native
// protocol it runs the statements the backend needs: a ReplacingMergeTree keyed by event
// ID, a batched insert, a re-sent batch, and a query-time deduplicated count.
//
// clickhouse-go's HTTP mode does not work with 18.16: its handshake sends the setting
// client_protocol_version, which 18.16 rejects ("Unknown setting"). TestServicesClickHouseHTTP
// shows that 18.16's HTTP interface itself answers plain queries.
func TestServicesClickHouse(t *testing.T) {
	native := serviceURL(t, "AGENT_TRACE_TEST_CLICKHOUSE")
	nu, err := url.Parse(native)
	if err != nil {
		t.Fatalf("parse %s: %v", native, err)
	}
	tests := []struct {
		name  string
		opts  clickhouse.Options
		table string
	}{
		{"native", clickhouse.Options{Addr: []string{nu.Host}, Protocol: clickhouse.Native}, "e2e_probe_native"},
		{"native-lz4", clickhouse.Options{Addr: []string{nu.Host}, Protocol: clickhouse.Native,
			Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4}}, "e2e_probe_native_lz4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			opts := tt.opts
			opts.Auth = clickhouse.Auth{Database: "default", Username: "default"}
			opts.DialTimeout = 5 * time.Second
			conn, err := clickhouse.Open(&opts)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer conn.Close()
			if err := conn.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			var version string
			if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
				t.Fatalf("SELECT version(): %v", err)
			}
			t.Logf("%s: SELECT version() = %s", tt.name, version)

			if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+tt.table); err != nil {
				t.Fatalf("drop: %v", err)
			}
			ddl := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
				id String, session_id String, time_ms Int64, tokens Int64, version UInt64
			) ENGINE = ReplacingMergeTree(version)
			PARTITION BY toYYYYMM(toDateTime(intDiv(time_ms, 1000)))
			ORDER BY id`, tt.table)
			if err := conn.Exec(ctx, ddl); err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+tt.table) })

			insert := func() {
				t.Helper()
				b, err := conn.PrepareBatch(ctx, "INSERT INTO "+tt.table+" (id, session_id, time_ms, tokens, version)")
				if err != nil {
					t.Fatalf("prepare batch: %v", err)
				}
				now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixMilli()
				for i := range 100 {
					if err := b.Append(fmt.Sprintf("ev-%03d", i), "s1", now+int64(i), int64(10), uint64(1)); err != nil {
						t.Fatalf("append: %v", err)
					}
				}
				if err := b.Send(); err != nil {
					t.Fatalf("send batch: %v", err)
				}
			}
			insert()
			insert() // a re-sent batch

			var rows, distinct uint64
			var tokens int64
			q := fmt.Sprintf("SELECT count(), uniqExact(id), sum(tokens) FROM (SELECT id, argMax(tokens, version) AS tokens FROM %s GROUP BY id)", tt.table)
			if err := conn.QueryRow(ctx, q).Scan(&rows, &distinct, &tokens); err != nil {
				t.Fatalf("dedup query: %v", err)
			}
			if rows != 100 || distinct != 100 || tokens != 1000 {
				t.Errorf("after a re-sent batch: rows=%d distinct=%d tokens=%d, want 100 100 1000", rows, distinct, tokens)
			}
			var final uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM "+tt.table+" FINAL").Scan(&final); err != nil {
				t.Fatalf("FINAL: %v", err)
			}
			if final != 100 {
				t.Errorf("count() FINAL = %d, want 100", final)
			}
		})
	}
}

// TestServicesClickHouseHTTP checks 18.16's HTTP interface with plain net/http and the
// database/sql route through clickhouse-go's native protocol (clickhouse.OpenDB).
func TestServicesClickHouseHTTP(t *testing.T) {
	httpURL := serviceURL(t, "AGENT_TRACE_TEST_CLICKHOUSE_HTTP")
	native := serviceURL(t, "AGENT_TRACE_TEST_CLICKHOUSE")
	resp, err := http.Post(httpURL+"/", "text/plain", strings.NewReader("SELECT version()"))
	if err != nil {
		t.Fatalf("POST %s: %v", httpURL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) == "" {
		t.Fatalf("HTTP SELECT version(): %d %q", resp.StatusCode, body)
	}
	t.Logf("http: SELECT version() = %s", strings.TrimSpace(string(body)))

	nu, err := url.Parse(native)
	if err != nil {
		t.Fatalf("parse %s: %v", native, err)
	}
	db := clickhouse.OpenDB(&clickhouse.Options{Addr: []string{nu.Host}, Protocol: clickhouse.Native,
		Auth: clickhouse.Auth{Database: "default", Username: "default"}})
	defer db.Close()
	var version string
	if err := db.QueryRow("SELECT version()").Scan(&version); err != nil {
		t.Fatalf("database/sql SELECT version(): %v", err)
	}
	if got, want := version, strings.TrimSpace(string(body)); got != want {
		t.Errorf("database/sql version = %q, want %q", got, want)
	}
}
