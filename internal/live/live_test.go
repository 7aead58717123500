package live_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/live"
)

// sseEvent is one parsed SSE message.
type sseEvent struct {
	ID, Event, Data string
}

// stream is a connected SSE client reading events in the background.
type stream struct {
	events   chan sseEvent
	comments chan string
	cancel   context.CancelFunc
}

func mustConnect(tb testing.TB, url string, header http.Header) *stream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("connect: %v", err)
	}
	if got, want := resp.Header.Get("Content-Type"), "text/event-stream"; got != want {
		tb.Fatalf("Content-Type = %q, want %q", got, want)
	}
	s := &stream{events: make(chan sseEvent, 100), comments: make(chan string, 100), cancel: cancel}
	// The stream is registered once the first comment arrives.
	sc := bufio.NewScanner(resp.Body)
	connected := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		var ev sseEvent
		once := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				if !once {
					once = true
					close(connected)
				}
				select {
				case s.comments <- strings.TrimSpace(line[1:]):
				default:
				}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(2 * time.Second):
		tb.Fatal("no connected comment within 2s")
	}
	tb.Cleanup(cancel)
	return s
}

func (s *stream) next(tb testing.TB, within time.Duration) sseEvent {
	tb.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			tb.Fatal("stream ended")
		}
		return ev
	case <-time.After(within):
		tb.Fatalf("no event within %v", within)
	}
	return sseEvent{}
}

func TestPublishSinceOrderAndEviction(t *testing.T) {
	h := live.New(live.WithRingSize(3))
	start := h.LastID()
	var ids []uint64
	for i := range 5 {
		ids = append(ids, h.Publish(live.Change{Type: live.SessionUpdated, SessionID: "s", Data: map[string]int{"n": i}}))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("ids not consecutive: %v", ids)
		}
	}
	if ids[0] != start+1 {
		t.Fatalf("first id = %d, want %d", ids[0], start+1)
	}

	tests := []struct {
		name    string
		after   uint64
		wantIDs []uint64
		wantGap bool
	}{
		{"from start: two evicted", start, ids[2:], true},
		{"exactly the oldest held", ids[1], ids[2:], false},
		{"middle", ids[3], ids[4:], false},
		{"up to date", ids[4], nil, false},
		{"from the future", ids[4] + 10, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, _, gap, _ := h.Since(tt.after)
			var got []uint64
			for _, m := range msgs {
				got = append(got, m.ID)
			}
			if gap != tt.wantGap {
				t.Errorf("gap = %v, want %v", gap, tt.wantGap)
			}
			if len(got) != len(tt.wantIDs) {
				t.Fatalf("ids = %v, want %v", got, tt.wantIDs)
			}
			for i := range got {
				if got[i] != tt.wantIDs[i] {
					t.Fatalf("ids = %v, want %v", got, tt.wantIDs)
				}
			}
		})
	}
	msgs, _, _, _ := h.Since(ids[3])
	if got, want := string(msgs[0].Data), `{"n":4}`; got != want {
		t.Errorf("data = %s, want %s", got, want)
	}
}

func TestPublishWakesWaiters(t *testing.T) {
	h := live.New()
	_, _, _, wait := h.Since(h.LastID())
	select {
	case <-wait:
		t.Fatal("woken before publish")
	default:
	}
	h.Publish(live.Change{Type: live.PromptCreated, SessionID: "s"})
	select {
	case <-wait:
	case <-time.After(time.Second):
		t.Fatal("not woken by publish")
	}
}

func TestPublishUnencodableData(t *testing.T) {
	h := live.New()
	if got := h.Publish(live.Change{Type: live.SessionUpdated, Data: make(chan int)}); got != 0 {
		t.Errorf("id = %d, want 0 for data that cannot be encoded", got)
	}
}

func TestSSEDeliversResumesAndFilters(t *testing.T) {
	h := live.New(live.WithHeartbeat(time.Hour))
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()

	if h.Watched() {
		t.Error("Watched before any subscriber")
	}
	s := mustConnect(t, srv.URL, nil)
	if !h.Watched() {
		t.Error("not Watched after a subscriber connected")
	}
	if got, want := h.Subscribers(), 1; got != want {
		t.Errorf("subscribers = %d, want %d", got, want)
	}
	id1 := h.Publish(live.Change{Type: live.SessionCreated, SessionID: "a", Data: map[string]string{"id": "a"}})
	ev := s.next(t, time.Second)
	if got, want := ev, (sseEvent{ID: strconv.FormatUint(id1, 10), Event: live.SessionCreated, Data: `{"id":"a"}`}); got != want {
		t.Fatalf("event = %+v, want %+v", got, want)
	}

	// Disconnect, publish while away, reconnect with Last-Event-ID: nothing missed.
	s.cancel()
	for i := 0; h.Subscribers() != 0 && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	var missed []uint64
	for i := range 3 {
		missed = append(missed, h.Publish(live.Change{Type: live.ToolCallUpdated, SessionID: "a", Data: i}))
	}
	s2 := mustConnect(t, srv.URL, http.Header{"Last-Event-Id": {ev.ID}})
	for i, want := range missed {
		got := s2.next(t, time.Second)
		if got.ID != strconv.FormatUint(want, 10) || got.Data != strconv.Itoa(i) {
			t.Fatalf("resumed event %d = %+v, want id %d data %d", i, got, want, i)
		}
	}

	// The query parameter resumes too, and ?session= filters.
	s3 := mustConnect(t, srv.URL+"?session=b&last_event_id="+strconv.FormatUint(id1, 10), nil)
	h.Publish(live.Change{Type: live.SessionUpdated, SessionID: "b", Data: "b1"})
	if got := s3.next(t, time.Second); got.Data != `"b1"` {
		t.Fatalf("filtered stream got %+v, want only session b", got)
	}
}

func TestSSEResyncWhenResumePointIsGone(t *testing.T) {
	tests := []struct {
		name string
		from func(first uint64) uint64
	}{
		{"evicted", func(first uint64) uint64 { return first - 5 }},
		{"from a previous run", func(first uint64) uint64 { return first + 1_000_000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := live.New(live.WithRingSize(2), live.WithHeartbeat(time.Hour))
			srv := httptest.NewServer(h)
			defer srv.Close()
			defer h.Close()
			var ids []uint64
			for i := range 4 {
				ids = append(ids, h.Publish(live.Change{Type: live.SessionUpdated, SessionID: "a", Data: i}))
			}
			s := mustConnect(t, srv.URL, http.Header{"Last-Event-Id": {strconv.FormatUint(tt.from(ids[0]), 10)}})
			if got := s.next(t, time.Second); got.Event != live.Resync {
				t.Fatalf("first event = %+v, want resync", got)
			}
			if tt.name == "evicted" {
				for _, want := range ids[2:] {
					if got := s.next(t, time.Second); got.ID != strconv.FormatUint(want, 10) {
						t.Fatalf("event = %+v, want id %d", got, want)
					}
				}
			}
			// Live delivery continues after a resync.
			id := h.Publish(live.Change{Type: live.SessionUpdated, SessionID: "a", Data: "new"})
			if got := s.next(t, time.Second); got.ID != strconv.FormatUint(id, 10) {
				t.Fatalf("event after resync = %+v, want id %d", got, id)
			}
		})
	}
}

func TestSSEHeartbeatAndClose(t *testing.T) {
	h := live.New(live.WithHeartbeat(20 * time.Millisecond))
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := mustConnect(t, srv.URL, nil)
	deadline := time.After(2 * time.Second)
	for {
		select {
		case c := <-s.comments:
			if c == "heartbeat" {
				goto closed
			}
		case <-deadline:
			t.Fatal("no heartbeat within 2s")
		}
	}
closed:
	h.Close()
	select {
	case _, ok := <-s.events:
		if ok {
			t.Fatal("unexpected event after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stream not ended by Close")
	}
}

func BenchmarkPublish(b *testing.B) {
	h := live.New()
	data := map[string]any{"id": "s", "status": "active", "prompt_count": 3}
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(live.Change{Type: live.SessionUpdated, SessionID: "s", Data: data})
	}
}
