package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// gateDialect is memDialect whose first transaction waits at BeginIngest until opened,
// so that requests arriving meanwhile queue behind it; it counts transactions.
type gateDialect struct {
	mu   sync.Mutex
	mem  *memDialect
	gate chan struct{}
	txs  int
	// failSession makes a transaction that inserts an event of this session fail.
	failSession string

	blocked atomic.Int32
}

func (d *gateDialect) waiting() int32 { return d.blocked.Load() }

func (d *gateDialect) BeginIngest(ctx context.Context, sessions []string) (IngestTx, error) {
	d.mu.Lock()
	d.txs++
	first := d.txs == 1
	d.mu.Unlock()
	if first {
		d.blocked.Store(1)
	}
	if first {
		<-d.gate
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.mem.BeginIngest(ctx, sessions)
	return failingTx{lockedTx{tx, &d.mu}, d.failSession}, err
}

// failingTx fails an Insert of any event of session.
type failingTx struct {
	lockedTx
	session string
}

func (t failingTx) Insert(ctx context.Context, rows []EventRow) ([]string, error) {
	for _, r := range rows {
		if t.session != "" && r.SessionID == t.session {
			return nil, fmt.Errorf("cannot store session %s", t.session)
		}
	}
	return t.lockedTx.Insert(ctx, rows)
}

// lockedTx serialises a memTx's calls with the dialect's (memDialect is not safe for
// concurrent use; a real store's transactions are).
type lockedTx struct {
	IngestTx
	mu *sync.Mutex
}

func (t lockedTx) Commit(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.IngestTx.Commit(ctx)
}

func batchOf(session string, ids ...string) []event.Event {
	var out []event.Event
	for _, id := range ids {
		out = append(out, usageEv(id, session, 1))
	}
	return out
}

type coalesced struct {
	stored, dups int
	sessions     string
	err          error
}

// coalesce sends reqs to one Coalescer in order while the first waits in its
// transaction, so the rest queue behind it; it returns each request's result.
func coalesce(d *gateDialect, reqs [][]event.Event) []coalesced {
	var c Coalescer
	results := make([]coalesced, len(reqs))
	var wg sync.WaitGroup
	done := make([]atomic.Bool, len(reqs))
	run := func(i int) {
		defer wg.Done()
		res, err := c.Ingest(context.Background(), d, reqs[i])
		results[i] = coalesced{res.Stored, res.Duplicates, fmt.Sprint(res.Sessions), err}
		done[i].Store(true)
	}
	wg.Add(1)
	go run(0)
	for d.waiting() == 0 { // the first leads and waits at the gate
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < len(reqs); i++ {
		wg.Add(1)
		go run(i)
		// Keep the arrival order (it decides who claims "shared"); a request refused
		// before it queues is done instead.
		for c.queueLen()[0] != i && !done[i].Load() {
			time.Sleep(time.Millisecond)
		}
	}
	close(d.gate)
	wg.Wait()
	return results
}

// TestCoalescerGroupsConcurrentIngests: requests that arrive while a transaction runs
// are ingested together in the next one, each gets its own result (an ID two of them
// carry is stored for the first), and a request that cannot be stored fails alone.
func TestCoalescerGroupsConcurrentIngests(t *testing.T) {
	good := [][]event.Event{
		batchOf("s0", "a0"),
		batchOf("s1", "a1", "b1"),
		batchOf("s2", "a2", "shared"),
		batchOf("s2", "shared", "c2"),
	}
	want := []coalesced{
		{1, 0, "[s0]", nil},
		{2, 0, "[s1]", nil},
		{2, 0, "[s2]", nil},
		{1, 1, "[s2]", nil},
	}
	invalid := batchOf("s9", "bad")
	invalid[0].Kind = ""            // invalid: refused before it joins a group
	failing := batchOf("s9", "bad") // valid, but the store fails it (failSession)
	for _, tc := range []struct {
		name string
		reqs [][]event.Event
		txs  int
	}{
		// The first alone, then the other three together.
		{"all good", good, 2},
		// The invalid request is refused at once; the first alone, then the other three.
		{"one invalid", append(append([][]event.Event{}, good...), invalid), 2},
		// The first alone, then the other four together (failed by the failing one), then
		// the four alone: three stored, the failing one failed again.
		{"one failing", append(append([][]event.Event{}, good...), failing), 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &gateDialect{mem: &memDialect{stored: map[string][]byte{}}, gate: make(chan struct{}), failSession: "s9"}
			results := coalesce(d, tc.reqs)
			for i, w := range want {
				if g := results[i]; g != w {
					t.Errorf("request %d: got %+v, want %+v", i, g, w)
				}
			}
			if len(tc.reqs) > len(good) && results[len(good)].err == nil {
				t.Error("the bad request succeeded")
			}
			if d.txs != tc.txs {
				t.Errorf("%d transactions, want %d", d.txs, tc.txs)
			}
			if len(d.mem.stored) != 6 {
				t.Errorf("%d events stored, want 6", len(d.mem.stored))
			}
		})
	}
}

// queueLen reports the requests queued (tests only), in a slice so a caller can spin on
// its length before the first arrives.
func (c *Coalescer) queueLen() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.leading {
		return nil
	}
	return []int{len(c.queue)}
}

// commitGate is memDialect whose commits each wait to be released, and count those done.
type commitGate struct {
	mu      sync.Mutex
	mem     *memDialect
	entered chan struct{} // a commit waits
	release chan struct{}
	done    atomic.Int32
}

func (d *commitGate) BeginIngest(ctx context.Context, sessions []string) (IngestTx, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.mem.BeginIngest(ctx, sessions)
	return gatedTx{lockedTx{tx, &d.mu}, d}, err
}

type gatedTx struct {
	lockedTx
	d *commitGate
}

func (t gatedTx) Commit(ctx context.Context) error {
	t.d.entered <- struct{}{}
	<-t.d.release
	err := t.lockedTx.Commit(ctx)
	t.d.done.Add(1)
	return err
}

// Group commit acknowledges nothing early: while a transaction's commit is pending, none
// of the requests it holds (a lone one, then three that queued behind it and share the
// next) has returned, and each returns only once its own transaction has committed.
func TestCoalescerAcknowledgesAfterCommit(t *testing.T) {
	d := &commitGate{mem: &memDialect{stored: map[string][]byte{}}, entered: make(chan struct{}), release: make(chan struct{})}
	var c Coalescer
	reqs := [][]event.Event{batchOf("s0", "a0"), batchOf("s1", "a1"), batchOf("s2", "a2"), batchOf("s3", "a3")}
	acked := make(chan [2]int, len(reqs)) // request, commits done when it returned
	send := func(i int) {
		go func() {
			if _, err := c.Ingest(context.Background(), d, reqs[i]); err != nil {
				t.Error(err)
			}
			acked <- [2]int{i, int(d.done.Load())}
		}()
	}
	noAck := func(when string) {
		select {
		case a := <-acked:
			t.Fatalf("%s: request %d acknowledged with %d commits done", when, a[0], a[1])
		case <-time.After(50 * time.Millisecond):
		}
	}
	send(0)
	<-d.entered // the lone request's transaction is committing
	for i := 1; i < len(reqs); i++ {
		send(i)
		for c.queueLen()[0] != i {
			time.Sleep(time.Millisecond)
		}
	}
	noAck("first commit pending")
	d.release <- struct{}{}
	if a := <-acked; a != [2]int{0, 1} {
		t.Errorf("first acknowledgement %v, want request 0 after 1 commit", a)
	}
	<-d.entered // the three queued share the next transaction
	noAck("group commit pending")
	d.release <- struct{}{}
	for range 3 {
		if a := <-acked; a[0] == 0 || a[1] != 2 {
			t.Errorf("acknowledgement %v, want requests 1-3 after 2 commits", a)
		}
	}
	if len(d.mem.stored) != 4 {
		t.Errorf("%d events stored, want 4", len(d.mem.stored))
	}
}
