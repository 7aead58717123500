package worker_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/worker"
)

// memOutbox is an outbox of event rows 1..n with a lock that can be lost.
type memOutbox struct {
	mu      sync.Mutex
	pending []int64
	lost    chan struct{}
	leads   int
}

func (o *memOutbox) LeadShipper(ctx context.Context, poll time.Duration) (<-chan struct{}, func(), error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.leads++
	o.lost = make(chan struct{})
	return o.lost, func() {}, nil
}

func (o *memOutbox) PendingOutbox(_ context.Context, limit int) (agenttrace.OutboxBatch, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b agenttrace.OutboxBatch
	for _, seq := range o.pending[:min(limit, len(o.pending))] {
		b.Seqs = append(b.Seqs, seq)
		b.Events = append(b.Events, agenttrace.EventRecord{ID: string(rune('a' + seq))})
	}
	return b, nil
}

func (o *memOutbox) AckOutbox(_ context.Context, b agenttrace.OutboxBatch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = slices.DeleteFunc(o.pending, func(s int64) bool { return slices.Contains(b.Seqs, s) })
	return nil
}

func (o *memOutbox) SessionDays(context.Context, []string) ([]agenttrace.SessionDay, uint64, error) {
	return nil, 0, nil
}

func (o *memOutbox) left() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// flakySink fails while down, and records the batch sizes it took.
type flakySink struct {
	mu      sync.Mutex
	down    bool
	batches []int
}

func (s *flakySink) Write(_ context.Context, events []agenttrace.EventRecord, _ []agenttrace.UsageRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errors.New("connection refused")
	}
	s.batches = append(s.batches, len(events))
	return nil
}

func (s *flakySink) EraseSessions(context.Context, []string) error { return nil }
func (s *flakySink) WriteSessionDays(context.Context, []string, []agenttrace.SessionDay, uint64) error {
	return nil
}
func (s *flakySink) Ready(context.Context) error { return nil }

func (s *flakySink) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// While the analytics store is down nothing is acknowledged; once it is back every row
// goes, in batches no larger than the batch size; a lost lead is taken again.
func TestShipperKeepsRowsUntilShipped(t *testing.T) {
	out := &memOutbox{}
	for i := range 25 {
		out.pending = append(out.pending, int64(i+1))
	}
	sink := &flakySink{down: true}
	sh := worker.NewShipper(out, sink, worker.WithBatch(10), worker.WithPoll(5*time.Millisecond))
	stop := worker.Start(context.Background(), sh)
	defer stop()
	time.Sleep(50 * time.Millisecond)
	if got, want := out.left(), 25; got != want {
		t.Fatalf("with the sink down: %d rows left, want %d", got, want)
	}
	sink.setDown(false)
	waitUntil(t, func() bool { return out.left() == 0 })
	sink.mu.Lock()
	for _, n := range sink.batches {
		if n > 10 {
			t.Errorf("a batch of %d rows, want at most 10", n)
		}
	}
	sink.mu.Unlock()
	if got := sh.Shipped(); got != 25 {
		t.Errorf("Shipped = %d, want 25", got)
	}
	out.mu.Lock()
	close(out.lost)
	out.pending = append(out.pending, 99)
	out.mu.Unlock()
	waitUntil(t, func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.leads == 2 && len(out.pending) == 0
	})
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
	}
}
