package e2e

// This file is fixtures_team_test.go, not team_test.go: that name belongs to the team
// backend's own end-to-end tests (start-stack, health-check, stop-stack).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"
)

// fixturesServerTakesTeam reports whether the built server takes the team backend's settings.
func fixturesServerTakesTeam(t *testing.T, serverBin string) bool {
	t.Helper()
	out, _ := exec.Command(serverBin, "--help").CombinedOutput()
	return strings.Contains(string(out), "POSTGRES_CONNECTION_STRING")
}

// fixturesTeamDatabases creates a PostgreSQL database and names a ClickHouse database for one test,
// both dropped when it ends, and returns the server settings that point at them.
func fixturesTeamDatabases(t *testing.T) []string {
	t.Helper()
	pgBase := serviceURL(t, "AGENT_TRACE_TEST_POSTGRES")
	chBase := serviceURL(t, "AGENT_TRACE_TEST_CLICKHOUSE")
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := "e2e_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, pgBase)
	if err != nil {
		t.Fatalf("connect %s: %v", pgBase, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	pu, _ := url.Parse(pgBase)
	pu.Path = "/" + name
	cu, _ := url.Parse(chBase)
	cu.Path = "/" + name
	t.Cleanup(func() {
		ctx := context.Background()
		if c, err := pgx.Connect(ctx, pgBase); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
		if ch, err := clickhouse.Open(&clickhouse.Options{Addr: []string{cu.Host}}); err == nil {
			_ = ch.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
			ch.Close()
		}
	})
	return []string{"POSTGRES_CONNECTION_STRING=" + pu.String(), "CLICKHOUSE_URL=" + cu.String()}
}

// TestFixturesSharedTeamSpool runs the fixture sessions into two server processes sharing one
// PostgreSQL + ClickHouse, each fed the same spool at the same time, and into a server on
// SQLite; every session must come out the same, with every event stored once.
func TestFixturesSharedTeamSpool(t *testing.T) {
	hookBin, serverBin := binaries(t)
	teamEnv := fixturesTeamDatabases(t)
	if !fixturesServerTakesTeam(t, serverBin) {
		t.Skip("agent-trace-server does not take POSTGRES_CONNECTION_STRING yet")
	}
	migrate := exec.Command(serverBin, "migrate")
	migrate.Env = append(cleanEnv(), teamEnv...)
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("agent-trace-server migrate: %v\n%s", err, out)
	}
	lite := startServer(t, serverBin)
	team1 := startServerEnv(t, serverBin, teamEnv)
	team2 := startServerEnv(t, serverBin, teamEnv)

	projects := filepath.Join(t.TempDir(), "projects")
	for _, dir := range mustGlob(t, filepath.Join(fixtureRoot, "*", "transcripts")) {
		copyDir(t, dir, projects)
	}
	fixtures := loadFixtures(t, projects)

	// The reference: the fixtures into SQLite.
	ref := newHookEnv(t, hookBin)
	ref.Run(t, nil, "init", "--collector-url", lite.CollectorURL, "--privacy-tier", "3")
	for _, fs := range fixtures {
		for _, p := range fs.Payloads {
			ref.Capture(t, p)
		}
	}
	ref.Run(t, nil, "flush")

	// One spool, held back: a collector that refuses the token stops delivery and keeps
	// every event. Then two copies of it are flushed into the two team servers at once.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer refuse.Close()
	held := newHookEnv(t, hookBin)
	held.Run(t, nil, "init", "--collector-url", refuse.URL, "--privacy-tier", "3")
	for _, fs := range fixtures {
		for _, p := range fs.Payloads {
			held.Capture(t, p)
		}
	}
	waitFor(15*time.Second, func() bool {
		out, _, _ := held.run(nil, "status")
		return !strings.Contains(out, "deliverer is running")
	})
	twin := newHookEnv(t, hookBin)
	copyDir(t, held.AgentTraceHome, twin.AgentTraceHome)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, job := range []struct {
		h   *hookEnv
		srv *agentServer
	}{{held, team1}, {twin, team2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, err := job.h.runEnv([]string{"AGENT_TRACE_COLLECTOR_URL=" + job.srv.CollectorURL}, nil, "flush")
			if err != nil {
				errs[i] = fmt.Errorf("flush into team server %d: %v\n%s%s", i+1, err, out, errOut)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	for _, fs := range fixtures {
		t.Run(fs.Name, func(t *testing.T) {
			want := lite.session(t, fs.SessionID)
			checkSessionMatchesFixture(t, want, fs)
			for i, srv := range []*agentServer{team1, team2} {
				var got apiSession
				// ClickHouse takes batches flushed at most a second apart.
				waitFor(10*time.Second, func() bool {
					g, ok := trySession(srv, fs.SessionID)
					got = g
					return ok && g.Usage == want.Usage && g.EventCount == want.EventCount
				})
				got = srv.session(t, fs.SessionID)
				checkSessionMatchesFixture(t, got, fs)
				if got.Usage != want.Usage {
					t.Errorf("team server %d: usage = %+v, SQLite says %+v", i+1, got.Usage, want.Usage)
				}
				if got.CostUSD == nil || want.CostUSD == nil || math.Abs(*got.CostUSD-*want.CostUSD) > 1e-9 {
					t.Errorf("team server %d: cost_usd = %v, SQLite says %v", i+1, fmtCost(got.CostUSD), fmtCost(want.CostUSD))
				}
				if got.EventCount != want.EventCount || got.PromptCount != want.PromptCount ||
					got.ToolCallCount != want.ToolCallCount || got.ErrorCount != want.ErrorCount {
					t.Errorf("team server %d: events/prompts/tools/errors = %d/%d/%d/%d, SQLite says %d/%d/%d/%d", i+1,
						got.EventCount, got.PromptCount, got.ToolCallCount, got.ErrorCount,
						want.EventCount, want.PromptCount, want.ToolCallCount, want.ErrorCount)
				}
			}
		})
	}
	if got, want := len(team1.sessionIDs(t)), len(fixtures); got != want {
		t.Errorf("team server lists %d sessions, want %d", got, want)
	}
}
