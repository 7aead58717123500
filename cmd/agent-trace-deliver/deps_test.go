package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDelivererLinksNoServer keeps the client side apart from the server: the deliverer
// runs on every developer's machine and must not carry the server, its framework or its
// database drivers.
func TestDelivererLinksNoServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/agent-trace/agent-trace/internal/agenttrace",
		"github.com/agent-trace/agent-trace/internal/projection",
		"github.com/agent-trace/agent-trace/internal/sqlite",
		"github.com/agent-trace/agent-trace/internal/postgres",
		"github.com/agent-trace/agent-trace/internal/clickhouse",
		"github.com/agent-trace/agent-trace/internal/sqlstore",
		"github.com/agent-trace/agent-trace/internal/api",
		"github.com/agent-trace/agent-trace/internal/web",
		"github.com/agent-trace/agent-trace/internal/live",
		"github.com/agent-trace/agent-trace/internal/auth",
		"github.com/agent-trace/agent-trace/internal/worker",
		"html/template",
		"github.com/danielgtaylor/huma",
		"database/sql",
		"modernc.org/sqlite",
		"github.com/jackc/pgx",
		"github.com/ClickHouse/",
		"github.com/chromedp/",
		"github.com/prometheus/",
	}
	deps := strings.Fields(string(out))
	var sawDeliver bool
	for _, d := range deps {
		sawDeliver = sawDeliver || d == "github.com/agent-trace/agent-trace/internal/deliver"
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f)) {
				t.Errorf("agent-trace-deliver links %s", d)
			}
		}
	}
	if !sawDeliver {
		t.Fatalf("go list printed %d packages without internal/deliver; the check would prove nothing", len(deps))
	}
}
