package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Coalescer runs the ingests that reach a store at the same moment as one transaction
// (group commit). The deliverer's traffic is many small batches from many machines: each
// alone would pay a whole transaction (locks, the generation, the session row, the
// commit) for a handful of events. One caller leads: it takes every request queued
// behind it, up to MaxGroupEvents, ingests them together, hands each its own result,
// and passes the lead to the next request waiting. A lone request is ingested at once,
// as before.
//
// Each request still gets exactly its own all-or-nothing ingest: if the group's
// transaction fails, its requests are ingested one by one, so one bad batch never fails
// another's. Acknowledgement waits for the commit, as always.
type Coalescer struct {
	mu      sync.Mutex
	queue   []*ingestReq
	leading bool
	// last is the size of the last group; arrived is signalled (without blocking) when
	// a request queues, for a leader waiting for the group to fill.
	last    int
	arrived chan struct{}
}

// gatherWait bounds how long a leader waits for a group as large as the last one: under
// concurrent load the requests that made the last group are about to come back, and a
// commit shared by all of them costs about what one alone costs. A lone client never
// waits (its groups are of one).
const gatherWait = time.Millisecond

// MaxGroupEvents bounds the events one coalesced transaction holds: past it, the rest
// wait for the next.
const MaxGroupEvents = 2000

type ingestReq struct {
	events []event.Event
	bodies [][]byte // EncodeBodies of events
	res    agenttrace.IngestResult
	err    error
	wake   chan bool // true: lead the next group; false: done
}

// Ingest is sqlstore.Ingest through the coalescer.
func (c *Coalescer) Ingest(ctx context.Context, d IngestDialect, events []event.Event) (agenttrace.IngestResult, error) {
	// Encoded (and validated) here, in parallel with the other requests: an invalid
	// request fails alone before it joins a group.
	bodies, err := EncodeBodies(d, events)
	if err != nil {
		return agenttrace.IngestResult{Sessions: []string{}}, fmt.Errorf("ingest: %w", err)
	}
	r := &ingestReq{events: events, bodies: bodies, wake: make(chan bool, 1)}
	c.mu.Lock()
	if c.arrived == nil {
		c.arrived = make(chan struct{}, 1)
	}
	c.queue = append(c.queue, r)
	select {
	case c.arrived <- struct{}{}:
	default:
	}
	if c.leading {
		c.mu.Unlock()
		if lead := <-r.wake; !lead {
			return r.res, r.err
		}
	} else {
		c.leading = true
		c.mu.Unlock()
	}
	// Leading: r is first in the queue (a leader hands over to the first waiting).
	c.gather()
	group := c.take()
	// The group's transaction must not end because this one caller went away.
	run(context.WithoutCancel(ctx), d, group)
	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].wake <- true
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	for _, o := range group[1:] {
		o.wake <- false
	}
	return r.res, r.err
}

// gather waits, at most gatherWait, until as many requests are queued as the last
// group held.
func (c *Coalescer) gather() {
	deadline := time.NewTimer(gatherWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		enough := len(c.queue) >= c.last
		c.mu.Unlock()
		if enough {
			return
		}
		select {
		case <-c.arrived:
		case <-deadline.C:
			return
		}
	}
}

// take removes the group to ingest from the front of the queue: at least one request,
// then as many as fit in MaxGroupEvents.
func (c *Coalescer) take() []*ingestReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, events := 1, len(c.queue[0].events)
	for n < len(c.queue) && events+len(c.queue[n].events) <= MaxGroupEvents {
		events += len(c.queue[n].events)
		n++
	}
	group := append([]*ingestReq(nil), c.queue[:n]...)
	c.queue = c.queue[n:]
	c.last = n
	return group
}

// run ingests a group in one transaction, or each request alone when that fails.
func run(ctx context.Context, d IngestDialect, group []*ingestReq) {
	if len(group) == 1 {
		group[0].res, group[0].err = ingestEncoded(ctx, d, group[0].events, group[0].bodies)
		return
	}
	var all []event.Event
	var bodies [][]byte
	for _, r := range group {
		all = append(all, r.events...)
		bodies = append(bodies, r.bodies...)
	}
	o, err := ingest(ctx, d, all, bodies)
	if err != nil {
		for _, r := range group {
			r.res, r.err = ingestEncoded(ctx, d, r.events, r.bodies)
		}
		return
	}
	claimed := map[string]bool{}
	for _, r := range group {
		r.res = o.result(r.events, claimed)
	}
}
