package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHookLinksNothingHeavy keeps the hook binary small and fast to start: it must not
// link the server, its HTTP framework, SQL drivers or the dashboard's templates, nor the
// delivery code (go-git, any HTTP client), which lives in agent-trace-deliver.
func TestHookLinksNothingHeavy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []struct{ prefix, why string }{
		{"github.com/agent-trace/agent-trace/internal/agenttrace", "the server's domain"},
		{"github.com/agent-trace/agent-trace/internal/projection", "the server's projection"},
		{"github.com/agent-trace/agent-trace/internal/sqlite", "the SQLite store"},
		{"github.com/agent-trace/agent-trace/internal/postgres", "the PostgreSQL store"},
		{"github.com/agent-trace/agent-trace/internal/clickhouse", "the ClickHouse store"},
		{"github.com/agent-trace/agent-trace/internal/sqlstore", "the SQL stores' shared code"},
		{"github.com/agent-trace/agent-trace/internal/api", "the API"},
		{"github.com/agent-trace/agent-trace/internal/web", "the dashboard"},
		{"github.com/agent-trace/agent-trace/internal/live", "the SSE hub"},
		{"github.com/agent-trace/agent-trace/internal/auth", "the server's auth"},
		{"github.com/agent-trace/agent-trace/internal/worker", "the server's workers"},
		{"github.com/danielgtaylor/huma", "huma"},
		{"database/sql", "database/sql"},
		{"modernc.org/sqlite", "the SQLite driver"},
		{"github.com/mattn/go-sqlite3", "a SQLite driver"},
		{"github.com/jackc/pgx", "pgx"},
		{"github.com/lib/pq", "a PostgreSQL driver"},
		{"github.com/ClickHouse/", "clickhouse"},
		{"html/template", "html/template"},
		{"github.com/chromedp/", "chromedp"},
		{"github.com/prometheus/", "prometheus"},
		{"github.com/go-git/", "go-git (agent-trace-deliver's)"},
		{"github.com/hashicorp/go-retryablehttp", "the retrying HTTP client (agent-trace-deliver's)"},
		{"github.com/agent-trace/agent-trace/internal/deliver", "the deliverer (agent-trace-deliver's)"},
		// net/http with crypto/tls and x509 is half the binary; status asks the
		// deliverer to probe the collector instead.
		{"net/http", "net/http (status runs agent-trace-deliver --probe)"},
		{"crypto/tls", "crypto/tls"},
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list printed %d packages; the check would prove nothing", len(deps))
	}
	var sawHead bool
	for _, d := range deps {
		// gitinfo reads history with go-git; its light subpackages (head, forge) are
		// what capture needs and stay allowed.
		if d == "github.com/agent-trace/agent-trace/internal/gitinfo" {
			t.Errorf("agent-trace-hook links %s (go-git history reading, agent-trace-deliver's)", d)
		}
		sawHead = sawHead || d == "github.com/agent-trace/agent-trace/internal/gitinfo/head"
		for _, f := range forbidden {
			if d == f.prefix || strings.HasPrefix(d, f.prefix+"/") || (strings.HasSuffix(f.prefix, "/") && strings.HasPrefix(d, f.prefix)) {
				t.Errorf("agent-trace-hook links %s (%s)", d, f.why)
			}
		}
	}
	if !sawHead {
		t.Error("agent-trace-hook no longer links gitinfo/head; is this list still about the right binary?")
	}
}
