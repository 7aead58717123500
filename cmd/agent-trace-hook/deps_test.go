package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHookLinksNothingHeavy keeps the hook binary small and fast to start: it must not
// link the server, its HTTP framework, SQL drivers or the dashboard's templates.
func TestHookLinksNothingHeavy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []struct{ prefix, why string }{
		{"github.com/agent-trace/agent-trace/server", "the server"},
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
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list printed %d packages; the check would prove nothing", len(deps))
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f.prefix || strings.HasPrefix(d, f.prefix+"/") || (strings.HasSuffix(f.prefix, "/") && strings.HasPrefix(d, f.prefix)) {
				t.Errorf("agent-trace-hook links %s (%s)", d, f.why)
			}
		}
	}
}
