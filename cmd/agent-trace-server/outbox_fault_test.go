package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// The fault tests run the real server binary against the test services, kill it, cut it
// off from ClickHouse and abandon requests mid-commit, and check that afterwards every
// acknowledged event is in PostgreSQL and in ClickHouse, once.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestMain removes the server binary the fault tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// serverBinary builds this command once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "agent-trace-server-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "agent-trace-server")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serverProc is one server process on fixed ports, so a restarted one takes over its
// predecessor's address and clients simply retry.
type serverProc struct {
	cmd            *exec.Cmd
	out            *syncBuffer
	collector, api string
}

type ports struct{ collector, api, dashboard int }

func newPorts(t *testing.T) ports {
	return ports{freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)}
}

// startServerProc starts the server on pg and ch and waits until it is ready.
func startServerProc(t *testing.T, pg, ch string, p ports) *serverProc {
	t.Helper()
	return startProc(t, p, "--postgres", pg, "--clickhouse", ch)
}

// startProc starts the server on the store its flags name and waits until it is ready.
func startProc(t *testing.T, p ports, store ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(serverBinary(t), append(store, "--otlp-port", "0", "--collector-port", fmt.Sprint(p.collector),
		"--api-port", fmt.Sprint(p.api), "--dashboard-port", fmt.Sprint(p.dashboard))...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	s := &serverProc{cmd: cmd, out: &syncBuffer{}, collector: fmt.Sprintf("http://127.0.0.1:%d", p.collector),
		api: fmt.Sprintf("http://127.0.0.1:%d", p.api)}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.api + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready within 20 s:\n%s", s.out)
		}
	}
}

// kill is kill -9.
func (s *serverProc) kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// stop is SIGTERM, and waiting for a graceful exit.
func (s *serverProc) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server exit after SIGTERM: %v\n%s", err, s.out)
		}
	case <-time.After(30 * time.Second):
		s.kill()
		t.Fatalf("server did not exit within 30 s of SIGTERM:\n%s", s.out)
	}
}

// postBatch sends one batch and returns the HTTP status (0 on a transport error or timeout).
func postBatch(collector string, batch []event.Event, timeout time.Duration) int {
	body, _ := json.Marshal(event.Batch{Events: batch})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, collector+"/v1/hooks", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// acked collects the events acknowledged (2xx), by session.
type acked struct {
	mu sync.Mutex
	n  map[string]map[string]bool
}

func (a *acked) add(batch []event.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]map[string]bool{}
	}
	for _, e := range batch {
		if a.n[e.SessionID] == nil {
			a.n[e.SessionID] = map[string]bool{}
		}
		a.n[e.SessionID][e.ID] = true
	}
}

func (a *acked) counts() map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int64{}
	for s, ids := range a.n {
		out[s] = int64(len(ids))
	}
	return out
}

// deliverAll sends every batch until the server acknowledges it, as the deliverer does:
// retrying after errors and timeouts, whatever server process answers.
func deliverAll(ctx context.Context, collector string, batches [][]event.Event, a *acked) error {
	return deliverAllTo(ctx, func() string { return collector }, batches, 0, a)
}

// batchesOf splits generated sessions into batches of n, interleaving sessions.
func batchesOf(sessions [][]event.Event, n int) [][]event.Event {
	var all []event.Event
	for i := 0; ; i++ {
		added := false
		for _, s := range sessions {
			if i < len(s) {
				all = append(all, s[i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	var out [][]event.Event
	for len(all) > 0 {
		k := min(n, len(all))
		out = append(out, all[:k])
		all = all[k:]
	}
	return out
}

// mustAgree waits until the outbox is drained, then checks that acknowledged events,
// PostgreSQL's and ClickHouse's agree per session, and the usage rows of both stores too.
func mustAgree(t *testing.T, pg, ch string, a *acked) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var pending int64
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM ch_outbox`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox rows still not shipped after 60 s", pending)
		}
	}
	an, err := clickhouse.Open(ctx, ch, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	pgEvents := countBy(t, func() (map[string]int64, error) {
		return pgCounts(ctx, conn, `SELECT session_id, count(*) FROM events GROUP BY session_id`)
	})
	chEvents := countBy(t, func() (map[string]int64, error) {
		return chCounts(ctx, an, "SELECT session_id, uniqExact(id) FROM `"+an.Database()+"`.events GROUP BY session_id")
	})
	if want := a.counts(); !maps.Equal(pgEvents, want) || !maps.Equal(chEvents, want) {
		t.Errorf("events per session differ:\n acknowledged %v\n postgres     %v\n clickhouse   %v", want, pgEvents, chEvents)
	}
	pgUsage := countBy(t, func() (map[string]int64, error) {
		return pgCounts(ctx, conn, `SELECT session_id, count(*) FROM usage_facts GROUP BY session_id`)
	})
	chUsage := countBy(t, func() (map[string]int64, error) {
		return chCounts(ctx, an, "SELECT session_id, count() FROM (SELECT argMax(session_id, version) AS session_id, "+
			"argMax(deleted, version) AS deleted FROM `"+an.Database()+"`.usage_facts GROUP BY event_id) WHERE deleted = 0 GROUP BY session_id")
	})
	if !maps.Equal(pgUsage, chUsage) || len(pgUsage) == 0 {
		t.Errorf("usage rows per session differ:\n postgres   %v\n clickhouse %v", pgUsage, chUsage)
	}
	sameTotals(t, pg, ch, slices.Sorted(maps.Keys(pgEvents)))
}

// sameTotals checks that every answer with tokens or cost is the same from ClickHouse
// (the team store's analytics) as from PostgreSQL alone over the same databases: the
// summary and the daily cost by every grouping, over everything and over a range whose
// edges fall inside days, besides each session, the lists, commits and pull requests.
func sameTotals(t *testing.T, pg, ch string, sessions []string) {
	t.Helper()
	ctx := t.Context()
	team, err := openTeamStore(ctx, pg, ch, postgres.Options{}, clickhouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer team.Close()
	alone, err := postgres.Open(ctx, pg, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	storetest.SameAnswers(t, team, alone, sessions)
}

func countBy(t *testing.T, f func() (map[string]int64, error)) map[string]int64 {
	t.Helper()
	m, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pgCounts(ctx context.Context, conn *pgx.Conn, q string) (map[string]int64, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

func chCounts(ctx context.Context, an *clickhouse.Store, q string) (map[string]int64, error) {
	rows, err := an.Conn().Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n uint64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = int64(n)
	}
	return out, rows.Err()
}

// migratedTeam returns migrated databases for a server process.
func migratedTeam(t *testing.T) (pg, ch string) {
	t.Helper()
	pg, ch = teamURLs(t)
	if _, err := run(t, "migrate", "--postgres", pg, "--clickhouse", ch); err != nil {
		t.Fatal(err)
	}
	return pg, ch
}

// kill -9 of the server five times while two clients stream and retry: nothing
// acknowledged is missing from PostgreSQL or ClickHouse afterwards.
func TestFaultKillDuringIngest(t *testing.T) {
	pg, ch := migratedTeam(t)
	p := newPorts(t)
	srv := startServerProc(t, pg, ch, p)
	batches := batchesOf(storetest.Generate(21, 40, 200), 100) // 8,000 events
	var a acked
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	half := len(batches) / 2
	go func() { errs <- deliverAll(ctx, srv.collector, batches[:half], &a) }()
	go func() { errs <- deliverAll(ctx, srv.collector, batches[half:], &a) }()
	const kills = 5
	for kill := 1; kill <= kills; kill++ { // spread over the 8,000 events
		for total(a.counts()) < int64(kill*8000/(kills+1)) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		srv.kill()
		srv = startServerProc(t, pg, ch, p)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	mustAgree(t, pg, ch, &a)
	srv.stop(t)
}

func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// With ClickHouse unreachable the server starts, ingests, says it is degraded and answers
// analytics with 503, across a SIGTERM and a restart; once ClickHouse is back, everything
// acknowledged meanwhile reaches it.
func TestFaultClickHouseDown(t *testing.T) {
	pg, ch := migratedTeam(t)
	cu, _ := url.Parse(ch)
	down := fmt.Sprintf("clickhouse://127.0.0.1:%d%s", freeTCPPort(t), cu.Path)
	p := newPorts(t)
	batches := batchesOf(storetest.Generate(22, 20, 100), 100) // 2,000 events
	var a acked
	for i, part := range [][][]event.Event{batches[:10], batches[10:]} {
		srv := startServerProc(t, pg, down, p)
		if i == 0 {
			var ready struct{ Status string }
			getJSONStatus(t, srv.api+"/readyz", &ready)
			if ready.Status != "degraded" {
				t.Errorf("readyz status with ClickHouse down = %q, want degraded", ready.Status)
			}
		}
		if err := deliverAll(t.Context(), srv.collector, part, &a); err != nil {
			t.Fatal(err)
		}
		var problem struct{ Status int }
		if code := getJSONStatus(t, srv.api+"/v1/analytics/summary", &problem); code != 503 || problem.Status != 503 {
			t.Errorf("summary with ClickHouse down: HTTP %d, problem status %d; want 503 with a problem body", code, problem.Status)
		}
		srv.stop(t)
	}
	srv := startServerProc(t, pg, ch, p)
	mustAgree(t, pg, ch, &a)
	var sum struct {
		Lag *struct {
			PendingRows int64 `json:"pending_rows"`
		} `json:"analytics_lag"`
	}
	if code := getJSONStatus(t, srv.api+"/v1/analytics/summary", &sum); code != 200 || sum.Lag == nil || sum.Lag.PendingRows != 0 {
		t.Errorf("summary once shipped: HTTP %d, lag %+v; want 200 and 0 pending rows", code, sum.Lag)
	}
	srv.stop(t)
}

// Clients that give up while the server commits, then retry: the retry of a batch that
// did commit is answered "duplicates", so the commit itself must have put the events on
// their way to ClickHouse. The server is killed right after the abandoned requests, so
// nothing the first process held in memory can help.
func TestFaultClientTimeoutDuringCommit(t *testing.T) {
	pg, ch := migratedTeam(t)
	p := newPorts(t)
	srv := startServerProc(t, pg, ch, p)
	batches := batchesOf(storetest.Generate(23, 20, 200), 200) // 4,000 events
	rng := rand.New(rand.NewSource(1))
	var wg sync.WaitGroup
	for _, b := range batches {
		// Abandoned somewhere between sending the body and the commit's answer.
		timeout := time.Duration(5+rng.Intn(40)) * time.Millisecond
		wg.Go(func() { postBatch(srv.collector, b, timeout) })
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	// Kill as soon as the abandoned batches' commits are done, before any buffer in
	// memory would have been flushed.
	waitStable(t, pg, `SELECT count(*) FROM events`)
	srv.kill()
	srv = startServerProc(t, pg, ch, p)
	var a acked
	if err := deliverAll(t.Context(), srv.collector, batches, &a); err != nil {
		t.Fatal(err)
	}
	mustAgree(t, pg, ch, &a)
	srv.stop(t)
}

// waitStable waits until q's count stops changing for 50 ms.
func waitStable(t *testing.T, pg, q string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	last := int64(-1)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var n int64
		if err := conn.QueryRow(t.Context(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == last && n > 0 {
			return
		}
		last = n
	}
	t.Fatalf("%s did not settle", q)
}

// getJSONStatus GETs url, decodes the body into v and returns the status.
func getJSONStatus(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: HTTP %d, body %q: %v", url, resp.StatusCode, body, err)
	}
	return resp.StatusCode
}

// TestSoakIngest is a measurement, not a check of its own: with AGENT_TRACE_SOAK_EVENTS=N
// it streams N generated events from 4 clients in batches of 500 into a server process
// and logs the acknowledged rate, the largest server RSS and outbox backlog seen, and how
// long the outbox took to drain after the last acknowledgement; then everything must agree.
//
//	AGENT_TRACE_SOAK_EVENTS=1000000 go test ./cmd/agent-trace-server -run TestSoakIngest -v -timeout 30m
func TestSoakIngest(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("AGENT_TRACE_SOAK_EVENTS"))
	if n <= 0 {
		t.Skip("AGENT_TRACE_SOAK_EVENTS not set")
	}
	pg, ch := migratedTeam(t)
	srv := startServerProc(t, pg, ch, newPorts(t))
	conn, err := pgx.Connect(t.Context(), pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var maxRSS, maxPending int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(500 * time.Millisecond):
			}
			maxRSS = max(maxRSS, rssKB(srv.cmd.Process.Pid))
			var p int64
			if conn.QueryRow(context.Background(), `SELECT count(*) FROM ch_outbox`).Scan(&p) == nil {
				maxPending = max(maxPending, p)
			}
		}
	}()
	var a acked
	start := time.Now()
	chunks := make(chan [][]event.Event)
	go func() {
		defer close(chunks)
		for k := 0; k*10_000 < n; k++ {
			chunks <- batchesOf(storetest.Generate(int64(1000+k), 20, 500), 500)
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for c := range chunks {
				if err := deliverAll(t.Context(), srv.collector, c, &a); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	acked := time.Since(start)
	mustAgree(t, pg, ch, &a)
	drained := time.Since(start) - acked
	close(stopSampling)
	<-sampled
	t.Logf("%d events acknowledged in %v (%.0f events/s); drained %v after the last ack; max RSS %d MiB; max outbox backlog %d rows",
		total(a.counts()), acked.Round(time.Millisecond), float64(total(a.counts()))/acked.Seconds(), drained.Round(time.Millisecond), maxRSS/1024, maxPending)
	srv.stop(t)
	// How long refilling ClickHouse from PostgreSQL takes for all of it, and that the two
	// agree afterwards.
	start = time.Now()
	if _, err := run(t, "clickhouse", "rebuild", "--no-progress", "--postgres", pg, "--clickhouse", ch); err != nil {
		t.Fatalf("clickhouse rebuild: %v", err)
	}
	t.Logf("clickhouse rebuild of %d events: %v", total(a.counts()), time.Since(start).Round(time.Millisecond))
	if out, err := run(t, "clickhouse", "check", "--postgres", pg, "--clickhouse", ch); err != nil || !strings.Contains(out, "matches") {
		t.Errorf("clickhouse check after the rebuild: %q, %v", out, err)
	}
	mustAgree(t, pg, ch, &a)
}

// rssKB is a process's resident set in KiB (Linux), 0 when unknown.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}
