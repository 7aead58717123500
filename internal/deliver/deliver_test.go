package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/lease"
)

// TestMain doubles as the deliverer process the SIGKILL test starts and kills.
func TestMain(m *testing.M) {
	if home := os.Getenv("DELIVER_TEST_HOME"); home != "" {
		_, err := Run(context.Background(), Options{Home: home, CollectorURL: os.Getenv("DELIVER_TEST_URL"), BatchEvents: 10})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// collector is a real HTTP collector on 127.0.0.1 that records every request.
type collector struct {
	*httptest.Server
	mu       sync.Mutex
	batches  [][]string // event IDs per request, in arrival order
	times    []time.Time
	auth     []string
	respond  func(n int, ids []string) (int, http.Header, string) // n: 0-based request number
	received chan []string
}

func newCollector(t *testing.T, respond func(n int, ids []string) (int, http.Header, string)) *collector {
	t.Helper()
	c := &collector{respond: respond, received: make(chan []string, 1000)}
	c.Server = httptest.NewServer(http.HandlerFunc(c.handle))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/hooks" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var b event.Batch
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	var ids []string
	for _, e := range b.Events {
		ids = append(ids, e.ID)
	}
	c.mu.Lock()
	n := len(c.batches)
	c.batches = append(c.batches, ids)
	c.times = append(c.times, time.Now())
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	c.mu.Unlock()
	c.received <- ids
	status, hdr, msg := http.StatusAccepted, http.Header(nil), ""
	if c.respond != nil {
		status, hdr, msg = c.respond(n, ids)
	}
	for k, v := range hdr {
		w.Header()[k] = v
	}
	if msg != "" {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": msg})
		return
	}
	w.WriteHeader(status)
}

// all returns the event IDs of every request received, whatever the answer was.
func (c *collector) all() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.batches)
}

func fillSpool(t *testing.T, home string, n int, prefix string) []string {
	t.Helper()
	s, err := spool.Open(spool.Path(home), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var evts []event.Event
	var ids []string
	for i := range n {
		e := event.Event{
			ID:        fmt.Sprintf("evt_%s%04d", prefix, i),
			Kind:      event.KindHook,
			SessionID: "sess-" + prefix,
			Time:      time.Now().UTC(),
			Tier:      2,
			HookEvent: "PostToolUse",
			Payload:   json.RawMessage(`{"session_id":"sess","hook_event_name":"PostToolUse"}`),
		}
		evts = append(evts, e)
		ids = append(ids, e.ID)
	}
	if _, err := s.Append(evts...); err != nil {
		t.Fatal(err)
	}
	return ids
}

func stats(t *testing.T, home string) spool.Stats {
	t.Helper()
	s, err := spool.Open(spool.Path(home), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
}

func (l *logBuf) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func fastOptions(home, url string) Options {
	return Options{Home: home, CollectorURL: url, RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond}
}

func TestDeliversInBatchesInOrderWithToken(t *testing.T) {
	home := t.TempDir()
	want := fillSpool(t, home, 1200, "a")
	c := newCollector(t, nil)
	opts := fastOptions(home, c.URL)
	opts.Token = "tok-123"
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	batches := c.all()
	var sizes []int
	var got []string
	for _, b := range batches {
		sizes = append(sizes, len(b))
		got = append(got, b...)
	}
	if !slices.Equal(sizes, []int{500, 500, 200}) {
		t.Fatalf("batch sizes = %v, want [500 500 200]", sizes)
	}
	if !slices.Equal(got, want) {
		t.Fatal("events arrived out of capture order or incomplete")
	}
	if c.auth[0] != "Bearer tok-123" {
		t.Fatalf("Authorization = %q", c.auth[0])
	}
	if res.Sent != 1200 {
		t.Fatalf("Sent = %d, want 1200", res.Sent)
	}
	if st := stats(t, home); st.Pending != 0 || st.LastDelivery.IsZero() {
		t.Fatalf("after delivery: %+v", st)
	}
}

func TestBatchBytesLimit(t *testing.T) {
	home := t.TempDir()
	fillSpool(t, home, 40, "b")
	c := newCollector(t, nil)
	opts := fastOptions(home, c.URL)
	opts.BatchBytes = 2000 // about ten of these events
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	for _, b := range c.all() {
		if len(b) > 15 {
			t.Fatalf("a batch of %d events exceeds the byte limit", len(b))
		}
	}
	if st := stats(t, home); st.Pending != 0 {
		t.Fatalf("pending = %d", st.Pending)
	}
}

func TestServerErrorThenSuccess(t *testing.T) {
	home := t.TempDir()
	want := fillSpool(t, home, 30, "c")
	c := newCollector(t, func(n int, _ []string) (int, http.Header, string) {
		if n == 0 {
			return http.StatusInternalServerError, nil, "database is locked"
		}
		return http.StatusOK, nil, ""
	})
	if _, err := Run(context.Background(), fastOptions(home, c.URL)); err != nil {
		t.Fatal(err)
	}
	b := c.all()
	if len(b) != 2 || !slices.Equal(b[0], want) || !slices.Equal(b[1], want) {
		t.Fatalf("requests = %d, want the same batch twice", len(b))
	}
	if st := stats(t, home); st.Pending != 0 {
		t.Fatalf("pending = %d after the retry succeeded", st.Pending)
	}
}

func TestAckOnlyAfter2xx(t *testing.T) {
	home := t.TempDir()
	want := fillSpool(t, home, 7, "d")
	c := newCollector(t, func(int, []string) (int, http.Header, string) {
		return http.StatusServiceUnavailable, nil, "maintenance"
	})
	var log logBuf
	opts := fastOptions(home, c.URL)
	opts.RetryMax = 2
	opts.Logf = log.logf
	for range 2 {
		if _, err := Run(context.Background(), opts); err == nil {
			t.Fatal("Run succeeded against a collector answering 503")
		}
	}
	if got := len(c.all()); got != 6 {
		t.Fatalf("requests = %d, want 3 per run", got)
	}
	st := stats(t, home)
	if st.Pending != len(want) {
		t.Fatalf("pending = %d, want %d: nothing may leave before a 2xx", st.Pending, len(want))
	}
	if !strings.Contains(st.LastError, "503") || st.RetryAt.IsZero() {
		t.Fatalf("meta = %+v, want the 503 recorded with a retry time", st.Meta)
	}
	if n := log.count("503"); n != 1 {
		t.Fatalf("the same error was logged %d times, want once", n)
	}
	// Recovery is logged once and clears the error.
	c.respond = nil
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if n := log.count("recovered"); n != 1 {
		t.Fatalf("recovery logged %d times, want once", n)
	}
	if st := stats(t, home); st.Pending != 0 || st.LastError != "" || st.Failures != 0 {
		t.Fatalf("after recovery: %+v", st.Meta)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	home := t.TempDir()
	fillSpool(t, home, 3, "e")
	c := newCollector(t, func(n int, _ []string) (int, http.Header, string) {
		if n == 0 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, "slow down"
		}
		return http.StatusOK, nil, ""
	})
	opts := fastOptions(home, c.URL)
	opts.RetryWaitMax = 5 * time.Second
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if len(c.times) != 2 {
		t.Fatalf("requests = %d, want 2", len(c.times))
	}
	if gap := c.times[1].Sub(c.times[0]); gap < 900*time.Millisecond {
		t.Fatalf("retried after %v, want about Retry-After's 1 s", gap)
	}
}

func TestBadEventDeadLetteredRestDelivered(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			home := t.TempDir()
			ids := fillSpool(t, home, 20, "f")
			bad := ids[13]
			var mu sync.Mutex
			var accepted []string
			c := newCollector(t, func(_ int, got []string) (int, http.Header, string) {
				if slices.Contains(got, bad) {
					return code, nil, "events[13].tier must be 1, 2 or 3"
				}
				mu.Lock()
				accepted = append(accepted, got...)
				mu.Unlock()
				return http.StatusOK, nil, ""
			})
			res, err := Run(context.Background(), fastOptions(home, c.URL))
			if err != nil {
				t.Fatal(err)
			}
			want := slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == bad })
			if !slices.Equal(accepted, want) {
				t.Fatalf("accepted %d events, want the 19 good ones in order", len(accepted))
			}
			if res.DeadLettered != 1 {
				t.Fatalf("dead-lettered %d, want 1", res.DeadLettered)
			}
			s, _ := spool.Open(spool.Path(home), spool.Options{})
			defer s.Close()
			letters, _ := s.DeadLetters()
			if len(letters) != 1 || !strings.Contains(string(letters[0].Event), bad) || !strings.Contains(letters[0].Reason, strconv.Itoa(code)) ||
				!strings.Contains(letters[0].Reason, "tier must be") {
				t.Fatalf("dead letters = %+v", letters)
			}
			if st, _ := s.Stats(); st.Pending != 0 {
				t.Fatalf("pending = %d", st.Pending)
			}
		})
	}
}

func TestInvalidEventDeadLetteredWithoutSending(t *testing.T) {
	home := t.TempDir()
	fillSpool(t, home, 2, "g")
	s, _ := spool.Open(spool.Path(home), spool.Options{})
	s.Append(event.Event{ID: "evt_notier", Kind: event.KindHook, SessionID: "x", Time: time.Now(), HookEvent: "Stop"})
	s.Close()
	c := newCollector(t, nil)
	res, err := Run(context.Background(), fastOptions(home, c.URL))
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || res.DeadLettered != 1 {
		t.Fatalf("result = %+v, want 2 sent and 1 dead-lettered", res)
	}
	for _, b := range c.all() {
		if slices.Contains(b, "evt_notier") {
			t.Fatal("an invalid event was sent")
		}
	}
}

func TestUnauthorizedStopsAndKeepsEverything(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			home := t.TempDir()
			fillSpool(t, home, 25, "h")
			c := newCollector(t, func(int, []string) (int, http.Header, string) { return code, nil, "bad token" })
			opts := fastOptions(home, c.URL)
			opts.Wait = true // even flush --wait must not hammer a collector that refuses us
			_, err := Run(context.Background(), opts)
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("Run = %v, want ErrStopped", err)
			}
			if n := len(c.all()); n != 1 {
				t.Fatalf("requests = %d, want 1", n)
			}
			st := stats(t, home)
			if st.Pending != 25 || st.DeadLetters != 0 {
				t.Fatalf("pending %d dead %d, want 25 and 0", st.Pending, st.DeadLetters)
			}
			if !strings.Contains(st.Stopped, "token") || st.RetryAt.Before(time.Now().Add(5*time.Minute)) {
				t.Fatalf("meta = %+v, want the stop recorded for status", st.Meta)
			}
		})
	}
}

func TestCollectorDownForAWholeSessionThenUp(t *testing.T) {
	home := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused

	opts := fastOptions(home, "http://"+addr)
	opts.RetryMax = 1
	var want []string
	for turn := range 5 {
		want = append(want, fillSpool(t, home, 12, fmt.Sprintf("i%d_", turn))...)
		if _, err := Run(context.Background(), opts); err == nil {
			t.Fatal("Run succeeded with the collector down")
		}
	}
	if st := stats(t, home); st.Pending != 60 {
		t.Fatalf("pending while down = %d, want 60", st.Pending)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	c := &collector{received: make(chan []string, 100)}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(c.handle))
	c.Server.Listener = ln
	c.Start()
	defer c.Close()
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range c.all() {
		got = append(got, b...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after recovery the collector got %d events, want each of the %d exactly once, in order", len(got), len(want))
	}
}

func TestSecondDelivererExitsAtOnce(t *testing.T) {
	home := t.TempDir()
	release, err := lease.Lock(home)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if !lease.Running(home) {
		t.Fatal("Running = false while the lock is held")
	}
	start := time.Now()
	if _, err := Run(context.Background(), Options{Home: home, CollectorURL: "http://127.0.0.1:1"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Run = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v to give up", d)
	}
}

func TestSIGKILLMidBatchLosesNothing(t *testing.T) {
	home := t.TempDir()
	want := fillSpool(t, home, 30, "k")
	hold := make(chan struct{})
	c := newCollector(t, func(n int, _ []string) (int, http.Header, string) {
		if n == 0 {
			<-hold // the deliverer is killed while it waits for this answer
		}
		return http.StatusOK, nil, ""
	})
	defer close(hold)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DELIVER_TEST_HOME="+home, "DELIVER_TEST_URL="+c.URL)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var first []string
	select {
	case first = <-c.received:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the deliverer process sent nothing")
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()

	if st := stats(t, home); st.Pending != 30 {
		t.Fatalf("pending after the kill = %d, want 30 (the batch was never acknowledged)", st.Pending)
	}
	opts := fastOptions(home, c.URL)
	opts.BatchEvents = 10
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	batches := c.all()
	if !slices.Equal(batches[1], first) {
		t.Fatalf("re-sent batch %v differs from the interrupted one %v", batches[1], first)
	}
	seen := map[string]bool{}
	for _, b := range batches[1:] {
		for _, id := range b {
			if seen[id] {
				t.Fatalf("%s sent twice after the restart", id)
			}
			seen[id] = true
		}
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("%s lost", id)
		}
	}
}

func TestLingerPicksUpLateEventsAndInbox(t *testing.T) {
	home := t.TempDir()
	fillSpool(t, home, 3, "l")
	c := newCollector(t, nil)
	opts := fastOptions(home, c.URL)
	opts.Linger = 1500 * time.Millisecond
	done := make(chan error, 1)
	go func() { _, err := Run(context.Background(), opts); done <- err }()
	<-c.received
	// Events that arrive while the deliverer lingers, through the spool and the inbox.
	time.Sleep(300 * time.Millisecond)
	if err := spool.WriteInbox(home, []event.Event{{ID: "evt_inbox", Kind: event.KindHook, SessionID: "s", Time: time.Now(), Tier: 1, HookEvent: "Stop"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case ids := <-c.received:
		if !slices.Equal(ids, []string{"evt_inbox"}) {
			t.Fatalf("late batch = %v", ids)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lingering deliverer missed the inbox event")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if files, _ := spool.InboxFiles(home); len(files) != 0 {
		t.Fatalf("inbox left: %v", files)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{"", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	for attempt := 1; attempt <= 10; attempt++ {
		ceil := min(100*time.Millisecond<<(attempt-1), 2*time.Second)
		for range 20 {
			d := backoffDelay(100*time.Millisecond, 2*time.Second, attempt)
			if d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, ceil/2, ceil)
			}
		}
	}
}

func TestLargeBacklogEnrichedInSlices(t *testing.T) {
	home := t.TempDir()
	want := fillSpool(t, home, 2*scanLimit+500, "m")
	c := newCollector(t, nil)
	opts := fastOptions(home, c.URL)
	Wire(&opts)
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range c.all() {
		got = append(got, b...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d events, want all %d in order", len(got), len(want))
	}
}

func TestLongRetryAfterRecordedNotSlept(t *testing.T) {
	home := t.TempDir()
	fillSpool(t, home, 3, "n")
	c := newCollector(t, func(int, []string) (int, http.Header, string) {
		return http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}}, "come back in an hour"
	})
	start := time.Now()
	if _, err := Run(context.Background(), fastOptions(home, c.URL)); err == nil {
		t.Fatal("Run succeeded against 429")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run slept %v instead of recording the Retry-After", d)
	}
	if n := len(c.all()); n != 1 {
		t.Fatalf("requests = %d, want 1", n)
	}
	st := stats(t, home)
	if st.RetryAt.Before(time.Now().Add(59*time.Minute)) || st.Pending != 3 {
		t.Fatalf("meta = %+v, want the events kept and no retry for an hour", st.Meta)
	}
}
