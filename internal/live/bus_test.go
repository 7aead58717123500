package live_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/live"
)

// memBus is a bus and its history in memory, numbering as a database sequence does
// (with holes), delivering to every hub that follows it.
type memBus struct {
	mu      sync.Mutex
	msgs    []live.Message
	through uint64 // pruned up to
	next    uint64
	hubs    []*live.Hub
}

func (b *memBus) Publish(_ context.Context, msgs []live.Message) ([]uint64, error) {
	b.mu.Lock()
	var out []live.Message
	var ids []uint64
	for _, m := range msgs {
		b.next += 3 // a sequence may skip values
		m.ID = b.next
		b.msgs = append(b.msgs, m)
		out = append(out, m)
		ids = append(ids, m.ID)
	}
	hubs := b.hubs
	b.mu.Unlock()
	for _, h := range hubs {
		h.Deliver(out)
	}
	return ids, nil
}

func (b *memBus) After(_ context.Context, id uint64, limit int) ([]live.Message, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id < b.through || id > max(b.next, b.through) {
		return nil, false, nil
	}
	var out []live.Message
	for _, m := range b.msgs {
		if m.ID > id && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, true, nil
}

// follow starts a hub following b from its newest message, as a server starting does.
func (b *memBus) follow(opts ...live.Option) *live.Hub {
	h := live.New(append([]live.Option{live.WithHeartbeat(time.Hour)}, opts...)...)
	b.mu.Lock()
	h.Follow(b, max(b.next, b.through))
	b.hubs = append(b.hubs, h)
	b.mu.Unlock()
	return h
}

func (b *memBus) publish(tb testing.TB, data string) uint64 {
	tb.Helper()
	m, err := live.Encode(live.Change{Type: live.SessionUpdated, SessionID: "s", Data: data})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := b.Publish(context.Background(), []live.Message{m}); err != nil {
		tb.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next
}

// A hub following a bus keeps the bus's ids, holes included: Since and eviction work on
// them, a message delivered twice is stored once, and an id it has not received yet is
// not a gap.
func TestFollowDeliverSince(t *testing.T) {
	bus := &memBus{next: 100}
	h := bus.follow(live.WithRingSize(3))
	var ids []uint64
	for i := range 5 {
		ids = append(ids, bus.publish(t, strconv.Itoa(i)))
	}
	h.Deliver([]live.Message{{ID: ids[4], Type: live.SessionUpdated, Data: []byte(`"dup"`)}})
	tests := []struct {
		name    string
		after   uint64
		wantIDs []uint64
		wantGap bool
	}{
		{"from the start: two evicted", 100, ids[2:], true},
		{"the newest evicted", ids[1], ids[2:], false},
		{"between two ids", ids[2] + 1, ids[3:], false},
		{"up to date", ids[4], nil, false},
		{"not received yet", ids[4] + 10, nil, false},
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
	if got, want := h.LastID(), ids[4]; got != want {
		t.Errorf("LastID = %d, want %d", got, want)
	}
}

// A client resuming on a hub that does not hold its resume point reads the history:
// from before the hub started, from an id the hub has not received yet, and a resync
// when the history was pruned past it.
func TestFollowResumesFromHistory(t *testing.T) {
	bus := &memBus{next: 10}
	var early []uint64
	for i := range 3 {
		early = append(early, bus.publish(t, "early"+strconv.Itoa(i)))
	}
	h := bus.follow() // started after them: its ring holds none
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()

	s := mustConnect(t, srv.URL, http.Header{"Last-Event-Id": {strconv.FormatUint(early[0], 10)}})
	for i, want := range early[1:] {
		if got := s.next(t, time.Second); got.ID != strconv.FormatUint(want, 10) || got.Data != `"early`+strconv.Itoa(i+1)+`"` {
			t.Fatalf("resumed %+v, want id %d", got, want)
		}
	}
	id := bus.publish(t, "live")
	if got := s.next(t, time.Second); got.ID != strconv.FormatUint(id, 10) {
		t.Fatalf("after the history: %+v, want id %d", got, id)
	}

	// Another process received an id this hub has not yet: nothing is missed or repeated.
	bus.mu.Lock()
	bus.hubs = nil // this hub stops receiving for a moment
	bus.mu.Unlock()
	ahead := bus.publish(t, "ahead")
	s2 := mustConnect(t, srv.URL, http.Header{"Last-Event-Id": {strconv.FormatUint(ahead, 10)}})
	bus.mu.Lock()
	bus.hubs = []*live.Hub{h}
	bus.mu.Unlock()
	h.Deliver(bus.msgs[len(bus.msgs)-1:]) // the late delivery
	next := bus.publish(t, "next")
	if got := s2.next(t, time.Second); got.ID != strconv.FormatUint(next, 10) {
		t.Fatalf("resumed from an id not received yet: %+v, want id %d", got, next)
	}

	bus.mu.Lock()
	bus.through = next
	bus.mu.Unlock()
	s3 := mustConnect(t, srv.URL, http.Header{"Last-Event-Id": {strconv.FormatUint(early[0], 10)}})
	if got := s3.next(t, time.Second); got.Event != live.Resync {
		t.Fatalf("resume from a pruned id: %+v, want resync", got)
	}
}

// With a bus the publisher hands it the changes, and computes them even while its own
// hub has never been watched: the subscribers may be on another process.
func TestPublisherWithBus(t *testing.T) {
	base := mustPublisher(t)
	bus := &memBus{next: 1000}
	other := bus.follow() // another process's hub
	e := &pubEnv{store: base.store, hub: base.hub, pub: live.NewPublisher(base.store, base.hub, nil, live.WithBus(bus))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.pub.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	before := e.hub.LastID()
	f, hooks := hookEvents(t, "commit")
	e.ingest(t, hooks)
	if got := e.hub.LastID(); got != before {
		t.Errorf("the publisher published %d changes to its own hub, want them on the bus", got-before)
	}
	msgs, _, _, _ := other.Since(1000)
	if len(msgs) == 0 || msgs[0].Type != live.SessionCreated || msgs[0].SessionID != f.SessionID {
		t.Fatalf("the other hub received %v, want %s of %s first", types(msgs), live.SessionCreated, f.SessionID)
	}
	e.pub.Deleted(f.SessionID)
	msgs, _, _, _ = other.Since(msgs[len(msgs)-1].ID)
	if len(msgs) != 1 || msgs[0].Type != live.SessionDeleted {
		t.Errorf("after Deleted the other hub received %v, want one %s", types(msgs), live.SessionDeleted)
	}
}

// Two processes ingesting one session in turn (a load balancer spreading its batches)
// each tell subscribers only what changed since whoever last told them: a prompt that
// one announced is not announced again by the other.
func TestPublishersShareWhatWasAnnounced(t *testing.T) {
	base := mustPublisher(t)
	bus := &memBus{next: 1}
	start := func() *pubEnv {
		hub := bus.follow()
		e := &pubEnv{store: base.store, hub: hub, pub: live.NewPublisher(base.store, hub, nil, live.WithBus(bus))}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.pub.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return e
	}
	a, b := start(), start()
	_, hooks := hookEvents(t, "multi-prompt")
	second := -1
	for i, ev := range hooks {
		if ev.HookEvent == "UserPromptSubmit" && i > 0 {
			second = i
			break
		}
	}
	if second < 0 || second+1 >= len(hooks) {
		t.Fatal("the fixture lacks a second prompt followed by more events")
	}
	a.ingest(t, hooks[:second])
	b.ingest(t, hooks[second:second+1])
	a.ingest(t, hooks[second+1:])

	msgs, _, _, _ := a.hub.Since(1)
	announced := 0
	for _, m := range msgs {
		if m.Type == live.PromptCreated && decodeData[live.PromptChange](t, m).ID == hooks[second].PromptID {
			announced++
		}
	}
	if got, want := announced, 1; got != want {
		t.Errorf("prompt %s announced %d times, want %d; stream %v", hooks[second].PromptID, got, want, types(msgs))
	}
}
