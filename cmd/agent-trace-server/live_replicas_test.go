package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// sse is one parsed Server-Sent Event and when it arrived.
type sse struct {
	ID, Event, Data string
	At              time.Time
}

// sseClient is a connected text/event-stream reader.
type sseClient struct {
	events chan sse
	cancel context.CancelFunc
}

// mustStream connects to url (Last-Event-ID lastID when not empty) and reads events in
// the background until the test ends or cancel is called.
func mustStream(tb testing.TB, url, lastID string, secret ...string) *sseClient {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	if len(secret) > 0 {
		req.Header.Set("Authorization", "Bearer "+secret[0])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("connect %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		tb.Fatalf("connect %s: %s", url, resp.Status)
	}
	c := &sseClient{events: make(chan sse, 10000), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(c.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "" && ev.Event != "":
				ev.At = time.Now()
				c.events <- ev
				ev = sse{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	tb.Cleanup(cancel)
	return c
}

// next returns the next event, failing the test when none arrives within d.
func (c *sseClient) next(tb testing.TB, d time.Duration) sse {
	tb.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			tb.Fatal("stream ended")
		}
		return ev
	case <-time.After(d):
		tb.Fatalf("no event within %v", d)
	}
	return sse{}
}

// until reads events until one for session arrives (within d), returning them all.
func (c *sseClient) until(tb testing.TB, session string, d time.Duration) []sse {
	tb.Helper()
	deadline := time.Now().Add(d)
	var got []sse
	for {
		ev := c.next(tb, time.Until(deadline))
		got = append(got, ev)
		if strings.Contains(ev.Data, `"`+session+`"`) {
			return got
		}
	}
}

// replicas migrates a fresh team store and starts n servers on it, each with its own hub.
func replicas(t *testing.T, n int) (pg string, servers []*running) {
	t.Helper()
	pg, ch := teamURLs(t)
	if _, err := run(t, "migrate", "--postgres", pg, "--clickhouse", ch); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for range n {
		servers = append(servers, startReplica(t, pg, ch))
	}
	return pg, servers
}

func startReplica(t *testing.T, pg, ch string) *running {
	return mustStart(t, "", func(m *Main) { m.Postgres, m.ClickHouse = pg, ch })
}

// newSession returns a one-event batch that creates session id.
func newSession(tb testing.TB, id string) []event.Event {
	tb.Helper()
	e := storetest.Fixtures()[0].Events[0]
	e.ID, e.SessionID = "live-"+id, id
	return []event.Event{e}
}

func mustPost(tb testing.TB, url string, events []event.Event) {
	tb.Helper()
	if resp, body := post(tb, url, events); resp.StatusCode != http.StatusOK {
		tb.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
}

// A change ingested on one replica reaches the API stream and the dashboard stream of
// another within a second of the ingest being acknowledged. It logs the latency from the
// acknowledgement, and from sending the batch, to the event arriving on the other
// replica's stream.
func TestLiveAcrossReplicas(t *testing.T) {
	_, rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	api := mustStream(t, a.URL("api")+"/v1/stream", "")
	dash := mustStream(t, a.URL("dashboard")+"/live", "")

	const n = 50
	var fromAck, fromSend []time.Duration
	for i := range n {
		id := fmt.Sprintf("cross-%02d", i)
		sent := time.Now()
		mustPost(t, b.URL("collector"), newSession(t, id))
		acked := time.Now()
		got := api.until(t, id, time.Second) // fails beyond a second
		last := got[len(got)-1]
		if last.Event != "session.created" {
			t.Errorf("event for %s = %s, want session.created", id, last.Event)
		}
		fromAck, fromSend = append(fromAck, last.At.Sub(acked)), append(fromSend, last.At.Sub(sent))
	}
	for i := range n {
		dash.until(t, fmt.Sprintf("cross-%02d", i), time.Second)
	}
	for _, l := range []struct {
		from string
		lat  []time.Duration
	}{{"acknowledged", fromAck}, {"sent", fromSend}} {
		slices.Sort(l.lat)
		t.Logf("batch %s on B → event on A's /v1/stream, %d batches: p50 %v, p90 %v, max %v",
			l.from, n, l.lat[n/2], l.lat[n*9/10], l.lat[n-1])
	}
}

// A client resuming with a Last-Event-ID that one replica gave it gets exactly the
// changes it missed from any other: one that has them in its ring, and one started
// after them, which reads them from PostgreSQL.
func TestLiveResumeOnAnotherReplica(t *testing.T) {
	pg, rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	watcher := mustStream(t, a.URL("api")+"/v1/stream", "") // sees everything
	client := mustStream(t, a.URL("api")+"/v1/stream", "")
	mustPost(t, b.URL("collector"), newSession(t, "resume-0"))
	seen := client.until(t, "resume-0", 2*time.Second)
	lastID := seen[len(seen)-1].ID
	client.cancel() // the client goes away

	for i := 1; i <= 3; i++ {
		mustPost(t, a.URL("collector"), newSession(t, fmt.Sprintf("resume-%d", i)))
	}
	all := watcher.until(t, "resume-3", 2*time.Second)
	var want []string
	for _, ev := range all {
		if mustUint(t, ev.ID) > mustUint(t, lastID) {
			want = append(want, ev.ID+" "+ev.Event+" "+ev.Data)
		}
	}
	if len(want) < 3 {
		t.Fatalf("the watcher saw %d changes after %s, want at least 3", len(want), lastID)
	}

	c := startReplica(t, pg, chOf(t, a))
	for name, url := range map[string]string{"B": b.URL("api"), "C (started since)": c.URL("api")} {
		resumed := mustStream(t, url+"/v1/stream", lastID)
		var got []string
		for range want {
			ev := resumed.next(t, 2*time.Second)
			got = append(got, ev.ID+" "+ev.Event+" "+ev.Data)
		}
		if !slices.Equal(got, want) {
			t.Errorf("resumed on %s from %s:\n got %q\nwant %q", name, lastID, got, want)
		}
		resumed.cancel()
	}
}

func mustUint(tb testing.TB, s string) uint64 {
	tb.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		tb.Fatalf("event id %q: %v", s, err)
	}
	return n
}

// chOf is the ClickHouse URL a running server was started with.
func chOf(tb testing.TB, r *running) string {
	tb.Helper()
	return r.ClickHouse
}

// When the listener connections are killed, the replicas reconnect and deliver
// everything published meanwhile: no change is lost.
func TestLiveListenerKilledLosesNothing(t *testing.T) {
	pg, rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	stream := mustStream(t, a.URL("api")+"/v1/stream", "")
	mustPost(t, b.URL("collector"), newSession(t, "kill-0"))
	stream.until(t, "kill-0", 2*time.Second)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	before := listenerPIDs(t, conn)
	if len(before) != 2 {
		t.Fatalf("%d listener connections, want one per replica (2)", len(before))
	}
	// Hold the reconnecting listeners before they catch up (their first read is of
	// live_pruned; publishing does not touch it), so the changes below are published
	// while no listener hears them and can only arrive through the catch-up.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE live_pruned IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, before); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		mustPost(t, b.URL("collector"), newSession(t, fmt.Sprintf("kill-%d", i)))
	}
	select {
	case ev := <-stream.events:
		t.Fatalf("event %+v while the listener was down", ev)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got := stream.until(t, "kill-5", 5*time.Second)
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf(`"kill-%d"`, i)
		if !slices.ContainsFunc(got, func(ev sse) bool { return strings.Contains(ev.Data, id) }) {
			t.Errorf("no event for kill-%d after the listener was killed", i)
		}
	}
	after := listenerPIDs(t, conn)
	if len(after) != 2 || slices.ContainsFunc(after, func(p int32) bool { return slices.Contains(before, p) }) {
		t.Errorf("listener pids %v after killing %v, want two new ones", after, before)
	}
	// Still live after the reconnect.
	mustPost(t, b.URL("collector"), newSession(t, "kill-6"))
	stream.until(t, "kill-6", time.Second)
}

// listenerPIDs are the backends of this schema's live listeners.
func listenerPIDs(tb testing.TB, conn *pgx.Conn) []int32 {
	tb.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE application_name = $1 || ' ' || current_schema() ORDER BY pid`, postgres.ListenerName)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		tb.Fatal(err)
	}
	return pids
}

// A read:own stream on one replica gets its user's changes ingested on another, and
// never another user's: the user travels with each notice through PostgreSQL.
func TestLiveAcrossReplicasHonoursReadScopes(t *testing.T) {
	pg, ch := teamURLs(t)
	if _, err := run(t, "migrate", "--postgres", pg, "--clickhouse", ch); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	secret := func(args ...string) string {
		out, err := run(t, append([]string{"token", "create", "--postgres", pg, "--clickhouse", ch}, args...)...)
		if err != nil {
			t.Fatalf("token create %v: %v", args, err)
		}
		return strings.TrimSpace(out)
	}
	own := secret("--name", "bob-reads", "--scope", agenttrace.ScopeReadOwn, "--user", "bob")
	ingest := map[string]string{}
	for _, u := range []string{"carol", "alice", "bob"} {
		ingest[u] = secret("--name", u+"-hook", "--scope", "ingest", "--user", u)
	}
	a, b := startReplica(t, pg, ch), startReplica(t, pg, ch)
	stream := mustStream(t, a.URL("api")+"/v1/stream", "", own)
	for _, u := range []string{"carol", "alice", "bob"} {
		evs := newSession(t, "scoped-"+u)
		evs[0].User = u
		if resp, body := post(t, b.URL("collector"), evs, "Authorization", "Bearer "+ingest[u]); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s ingests: %d %s", u, resp.StatusCode, body)
		}
	}
	noAlice := func(where string, evs []sse) {
		for _, ev := range evs {
			if strings.Contains(ev.Data, "scoped-alice") || strings.Contains(ev.Data, "scoped-carol") {
				t.Errorf("bob's read:own stream (%s) carried another user's change: %s %s", where, ev.Event, ev.Data)
			}
		}
	}
	noAlice("live on A", stream.until(t, "scoped-bob", 2*time.Second))
	// A server started afterwards answers a resume from its history (PostgreSQL): the
	// same filter applies there. Changes are numbered from 1 on a fresh store: carol's
	// came first, so resuming after 1 asks for alice's and bob's.
	c := startReplica(t, pg, ch)
	noAlice("resumed on C", mustStream(t, c.URL("api")+"/v1/stream", "1", own).until(t, "scoped-bob", 2*time.Second))
}
