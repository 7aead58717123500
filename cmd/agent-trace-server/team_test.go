package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
)

// teamURLs creates an empty PostgreSQL schema and names an unused ClickHouse database,
// both dropped when the test ends (test services from scripts/test-services.sh).
func teamURLs(t testing.TB) (pg, ch string) {
	t.Helper()
	return teamURLsOn(t, "AGENT_TRACE_TEST_CLICKHOUSE", "")
}

// clusterTeamURLs is teamURLs with the ClickHouse database on the test cluster, and
// the cluster's name.
func clusterTeamURLs(t testing.TB) (pg, ch, cluster string) {
	t.Helper()
	cluster = os.Getenv("AGENT_TRACE_TEST_CLICKHOUSE_CLUSTER_NAME")
	pg, ch = teamURLsOn(t, "AGENT_TRACE_TEST_CLICKHOUSE_CLUSTER", cluster)
	return pg, ch, cluster
}

// teamURLsOn is teamURLs with the ClickHouse URL from the variable chVar, on cluster.
func teamURLsOn(t testing.TB, chVar, cluster string) (pg, ch string) {
	t.Helper()
	base, chBase := os.Getenv("AGENT_TRACE_TEST_POSTGRES"), os.Getenv(chVar)
	if base == "" || chBase == "" {
		msg := "AGENT_TRACE_TEST_POSTGRES and " + chVar + " must be set: run scripts/test-services.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "cmd_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(base)
	q := pu.Query()
	q.Set("search_path", name)
	pu.RawQuery = q.Encode()
	cu, _ := url.Parse(chBase)
	cu.Path = "/" + name
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
			c.Close(ctx)
		}
		if an, err := clickhouse.Open(ctx, cu.String(), clickhouse.Options{Cluster: cluster}); err == nil {
			an.DropDatabase(ctx)
			an.Close()
		}
	})
	return pu.String(), cu.String()
}

// With --postgres and --clickhouse every command uses the team store; only migrate
// changes its schema, and the others refuse an out-of-date one, saying what to run.
func TestTeamStoreFlags(t *testing.T) {
	pg, ch := teamURLs(t)
	_, err := run(t, "token", "list", "--postgres", pg, "--clickhouse", ch)
	if !errors.Is(err, agenttrace.ErrSchemaOutdated) || !strings.Contains(err.Error(), "agent-trace-server migrate") {
		t.Fatalf("token list on empty databases: %v; want ErrSchemaOutdated saying to run agent-trace-server migrate", err)
	}
	if out, err := run(t, "migrate", "--postgres", pg, "--clickhouse", ch); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %q, %v", out, err)
	}
	if _, err := run(t, "token", "create", "--name", "ci", "--scope", "ingest", "--postgres", pg, "--clickhouse", ch); err != nil {
		t.Fatalf("token create after migrate: %v", err)
	}
	t.Setenv("POSTGRES_CONNECTION_STRING", pg)
	t.Setenv("CLICKHOUSE_URL", ch)
	out, err := run(t, "token", "list")
	if err != nil || !strings.Contains(out, "ci") {
		t.Fatalf("token list from the environment's team store: %q, %v", out, err)
	}
	if _, err := run(t, "token", "list", "--postgres", "", "--clickhouse", ch); err == nil ||
		!strings.Contains(err.Error(), "--postgres") {
		t.Errorf("ClickHouse without PostgreSQL: %v; want an error naming --postgres", err)
	}
}
