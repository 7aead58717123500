package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// teamStackTools reports why the local team stack cannot run here, or "".
func teamStackTools() string {
	if _, err := os.Stat("/usr/lib/postgresql"); err != nil {
		return "PostgreSQL is not installed (apt-get install postgresql, or run scripts/test-services.sh as root)"
	}
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		return "clickhouse-server is not installed (apt-get install clickhouse-server clickhouse-client)"
	}
	if _, err := exec.LookPath("start-stop-daemon"); err != nil {
		return "start-stop-daemon is missing"
	}
	return ""
}

// stackScript runs scripts/NAME with env and returns its combined output.
func stackScript(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot, "scripts", name), args...)
	cmd.Dir = repoRoot
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestTeamStack is the users' path to a team server without Docker: start-stack.sh brings
// up PostgreSQL, ClickHouse and agent-trace-server as local processes, health-check.sh
// sees every service, the fixture sessions go through the built hook into the stack, the
// API's token totals and cost equal a SQLite server's exactly, the events reach ClickHouse,
// and stop-stack.sh takes it all down (health-check.sh then fails), keeping the data for
// the next start.
func TestTeamStack(t *testing.T) {
	if why := teamStackTools(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	hookBin, serverBin := binaries(t)
	if !fixturesServerTakesTeam(t, serverBin) {
		t.Skip("agent-trace-server does not take POSTGRES_CONNECTION_STRING yet")
	}
	// Not t.TempDir(): its parent is private, and the PostgreSQL and ClickHouse users must
	// reach the data directory.
	dir, err := os.MkdirTemp("", "agent-trace-stack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// As after the quick start on a root machine: a private home (root's is 0700) and the
	// ~/.agent-trace the hook made 0700. The databases, which run as their own users, must
	// still start; their files go where those users can reach (here a test directory).
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ".agent-trace"), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := os.MkdirTemp("", "agent-trace-stack-db-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(db) })
	ports := map[string]int{}
	for _, k := range []string{"STACK_PG_PORT", "STACK_CH_TCP_PORT", "STACK_CH_HTTP_PORT", "COLLECTOR_PORT", "API_PORT", "DASHBOARD_PORT", "OTLP_PORT"} {
		ports[k] = freePort(t)
	}
	env := append(cleanEnv(), "HOME="+dir, "AGENT_TRACE_STACK=local", "AGENT_TRACE_STACK_DB="+db,
		"AGENT_TRACE_SERVER_BIN="+serverBin)
	for k, p := range ports {
		env = append(env, fmt.Sprintf("%s=%d", k, p))
	}
	stop := func() {
		if out, err := stackScript(env, "stop-stack.sh"); err != nil {
			t.Errorf("stop-stack.sh: %v\n%s", err, out)
		}
	}
	if out, err := stackScript(env, "start-stack.sh"); err != nil {
		stop()
		t.Fatalf("start-stack.sh: %v\n%s", err, out)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, ".agent-trace", "stack", "log", "server.log")); err == nil {
				t.Logf("server.log:\n%s", b)
			}
		}
	})
	if out, err := stackScript(env, "health-check.sh"); err != nil || strings.Count(out, "ok ") != 5 {
		t.Fatalf("health-check.sh on a started stack: %v\n%s", err, out)
	}

	collector := fmt.Sprintf("http://127.0.0.1:%d", ports["COLLECTOR_PORT"])
	api := fmt.Sprintf("http://127.0.0.1:%d", ports["API_PORT"])
	team := &agentServer{CollectorURL: collector, APIURL: api}
	lite := startServer(t, serverBin)

	projects := filepath.Join(t.TempDir(), "projects")
	for _, d := range mustGlob(t, filepath.Join(fixtureRoot, "*", "transcripts")) {
		copyDir(t, d, projects)
	}
	fixtures := loadFixtures(t, projects)
	for _, srv := range []*agentServer{lite, team} {
		h := newHookEnv(t, hookBin)
		h.Run(t, nil, "init", "--collector-url", srv.CollectorURL, "--privacy-tier", "3")
		for _, fs := range fixtures {
			for _, p := range fs.Payloads {
				h.Capture(t, p)
			}
		}
		h.Run(t, nil, "flush")
	}

	for _, fs := range fixtures {
		want := lite.session(t, fs.SessionID)
		var got apiSession
		waitFor(10*time.Second, func() bool {
			g, ok := trySession(team, fs.SessionID)
			got = g
			return ok && g.Usage == want.Usage && g.EventCount == want.EventCount
		})
		if got.Usage != want.Usage || fmt.Sprint(fmtCost(got.CostUSD)) != fmt.Sprint(fmtCost(want.CostUSD)) {
			t.Errorf("%s: team usage %+v cost %v; SQLite %+v cost %v", fs.Name, got.Usage, fmtCost(got.CostUSD),
				want.Usage, fmtCost(want.CostUSD))
		}
	}
	// The analytics ClickHouse answers equal SQLite's, byte for byte, once shipped: but
	// for the team store's analytics_lag, which SQLite has no reason to report.
	rng := "from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z"
	for _, path := range []string{"/v1/analytics/summary?" + rng, "/v1/analytics/cost/daily?group_by=model&" + rng,
		"/v1/analytics/cost/daily?group_by=session&" + rng, "/v1/analytics/cost/daily?group_by=user&" + rng,
		"/v1/analytics/cost/daily?group_by=repo&" + rng} {
		var g, w json.RawMessage
		waitFor(5*time.Second, func() bool {
			var team, sqlite map[string]json.RawMessage
			getJSON(t, api+path, &team)
			delete(team, "analytics_lag")
			g, _ = json.Marshal(team)
			getJSON(t, lite.APIURL+path, &sqlite)
			w, _ = json.Marshal(sqlite)
			return bytes.Equal(g, w)
		})
		if !bytes.Equal(g, w) {
			t.Errorf("GET %s:\n team: %s\n SQLite: %s", path, g, w)
		}
	}
	var summary struct {
		Sessions int `json:"sessions"`
	}
	getJSON(t, api+"/v1/analytics/summary?"+rng, &summary)
	if summary.Sessions != len(fixtures) {
		t.Errorf("summary counts %d sessions, want %d", summary.Sessions, len(fixtures))
	}
	// The event log reached ClickHouse (its HTTP interface answers plain queries on 18.16).
	chHTTP := fmt.Sprintf("http://127.0.0.1:%d/?query=", ports["STACK_CH_HTTP_PORT"])
	var n string
	waitFor(5*time.Second, func() bool {
		b, err := httpGet(chHTTP + url.QueryEscape("SELECT uniqExact(id) FROM agent_trace.events"))
		n = strings.TrimSpace(string(b))
		return err == nil && n != "0"
	})
	var events int
	for _, fs := range fixtures {
		events += lite.session(t, fs.SessionID).EventCount
	}
	if n != fmt.Sprint(events) {
		t.Errorf("ClickHouse holds %s distinct events, want %d", n, events)
	}

	stopped = true
	if out, err := stackScript(env, "stop-stack.sh"); err != nil {
		t.Fatalf("stop-stack.sh: %v\n%s", err, out)
	}
	if out, err := stackScript(env, "health-check.sh"); err == nil {
		t.Errorf("health-check.sh passes on a stopped stack:\n%s", out)
	}
	if resp, err := http.Get(collector + "/healthz"); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Errorf("the collector still answers after stop-stack.sh")
	}

	// The data survives a restart.
	stopped = false
	if out, err := stackScript(env, "start-stack.sh"); err != nil {
		t.Fatalf("start-stack.sh again: %v\n%s", err, out)
	}
	if got := len(team.sessionIDs(t)); got != len(fixtures) {
		t.Errorf("after a restart the team server lists %d sessions, want %d", got, len(fixtures))
	}
}
