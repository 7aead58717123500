package sqlstore

import (
	"container/list"
	"maps"
	"slices"
	"sync"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// ProjectorCache keeps the projections of recently ingested sessions in memory, so that
// a live session's next small batch is folded into its projection as it stands instead
// of decoding and folding every stored event of the session again: ingest cost then
// follows the batch, not the session's length.
//
// It is only a cache. A store takes a session's projector out for the length of an
// ingest transaction (Take), uses it only when it has seen exactly the events stored
// (the caller compares Len with the stored count: another replica or process may have
// written), and puts it back once the transaction committed (Put): a rolled-back
// transaction leaves nothing behind.
type ProjectorCache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	lru      *list.List // of *cachedProjector, most recent first
	bySess   map[string]*list.Element
}

type cachedProjector struct {
	session string
	Folded
}

// Folded is a session's projection as a store last wrote it: the projector, its
// estimated size, and the usage facts written, so the next write can change only the
// rows that differ.
type Folded struct {
	P     *projection.Projector
	Size  int
	Facts map[string]UsageFact // by event ID
	Gen   int64                // the store's generation of the session when written, if it keeps one
	// Facets are the session's facets as written (NewSessionWrite), nil when unknown,
	// and FacetPrompts its prompt count then.
	Facets       map[Facet]bool
	FacetPrompts int
}

// DefaultProjectorCacheBytes bounds a cache's memory (as EventBytes estimates it): a
// session of 20,000 events (about 65 MiB) fits, beside the other live ones. A server's
// --memory-limit sets a smaller one.
const DefaultProjectorCacheBytes = 192 << 20

// NewProjectorCache returns a cache that holds about maxBytes of events.
func NewProjectorCache(maxBytes int) *ProjectorCache {
	return &ProjectorCache{maxBytes: maxBytes, lru: list.New(), bySess: map[string]*list.Element{}}
}

// Take removes and returns a session's folded projection.
func (c *ProjectorCache) Take(session string) (Folded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.bySess[session]
	if !ok {
		return Folded{}, false
	}
	e := el.Value.(*cachedProjector)
	c.removeLocked(session)
	return e.Folded, true
}

// TakeCurrent takes a session's folded projection out of the cache for a transaction
// that raised the session's generation to gen. It is returned only when it was written
// at gen-1: nothing else wrote the session since (another process or replica, a replaced
// copy of an event, a cache write that lost a race). Otherwise the result has no
// projector. Either way it carries gen.
func (c *ProjectorCache) TakeCurrent(session string, gen int64) Folded {
	f, ok := c.Take(session)
	if !ok || f.Gen != gen-1 {
		return Folded{Gen: gen}
	}
	f.Gen = gen
	return f
}

// Put stores a session's folded projection, evicting the least recently used ones past
// the bound. A session larger than half the bound is not kept: one huge session would
// evict everything else.
func (c *ProjectorCache) Put(session string, f Folded) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(session)
	if f.Size > c.maxBytes/2 {
		return
	}
	c.bySess[session] = c.lru.PushFront(&cachedProjector{session: session, Folded: f})
	c.bytes += f.Size
	for c.bytes > c.maxBytes && c.lru.Len() > 0 {
		c.removeLocked(c.lru.Back().Value.(*cachedProjector).session)
	}
}

// Drop forgets a session (deleted, or written by a path that does not fold).
func (c *ProjectorCache) Drop(session string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(session)
}

// Clear forgets every session (prices or projection rules changed).
func (c *ProjectorCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Init()
	c.bySess = map[string]*list.Element{}
	c.bytes = 0
}

func (c *ProjectorCache) removeLocked(session string) {
	if el, ok := c.bySess[session]; ok {
		c.bytes -= el.Value.(*cachedProjector).Size
		c.lru.Remove(el)
		delete(c.bySess, session)
	}
}

// Bytes is the estimated size of what the cache holds.
func (c *ProjectorCache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// EventBytes estimates what an event costs a projector's memory: its copy of the event
// and the payload, and what the fold and the view build from it (calls, usage rows,
// trees, the facts written), about three times the event's own size
// (TestProjectorCacheHoldsWhatItCounts measures it).
func EventBytes(e *event.Event) int {
	n := 400 + len(e.Payload)
	if e.Usage != nil {
		n += len(e.Usage.Text)
	}
	return 3 * n
}

// Fold adds events to a session's projection: to cached, taken from the cache, when it
// has a projector (it had seen every stored event), else to a projector folded from
// every stored event, which load reads (the events are among them). The facts of the
// result are those of cached, the rows last written; none after a load.
func Fold(cached Folded, events []*event.Event, pricer agenttrace.Pricer, load func() ([]event.Event, error)) (Folded, error) {
	if cached.P == nil {
		all, err := load()
		if err != nil {
			return Folded{}, err
		}
		f := Folded{P: projection.New(pricer), Gen: cached.Gen}
		f.P.Add(all...)
		for i := range all {
			f.Size += EventBytes(&all[i])
		}
		return f, nil
	}
	for _, e := range events {
		cached.P.Add(*e)
		cached.Size += EventBytes(e)
	}
	return cached, nil
}

// Written copies the events an ingest wrote, by ID and by session: a cached projector
// keeps them, so it must never alias the caller's memory.
func Written(written map[string]EventRow) (byID map[string]*event.Event, bySession map[string][]*event.Event) {
	byID = make(map[string]*event.Event, len(written))
	bySession = map[string][]*event.Event{}
	for id, r := range written {
		c := CloneEvent(r.Event)
		byID[id] = &c
		bySession[r.SessionID] = append(bySession[r.SessionID], &c)
	}
	return byID, bySession
}

// FactsByID indexes usage facts by event ID.
func FactsByID(facts []UsageFact) map[string]UsageFact {
	m := make(map[string]UsageFact, len(facts))
	for _, f := range facts {
		m[f.EventID] = f
	}
	return m
}

// CloneEvent deep-copies an event, so a cache never aliases a caller's memory.
func CloneEvent(e *event.Event) event.Event {
	c := *e
	c.Payload = slices.Clone(e.Payload)
	c.Redactions = maps.Clone(e.Redactions)
	if e.Git != nil {
		g := *e.Git
		c.Git = &g
	}
	if e.Usage != nil {
		u := *e.Usage
		u.ToolUseIDs = slices.Clone(e.Usage.ToolUseIDs)
		c.Usage = &u
	}
	if e.CostState != nil {
		cs := *e.CostState
		cs.ModelUsage = maps.Clone(e.CostState.ModelUsage)
		c.CostState = &cs
	}
	if e.Commit != nil {
		cm := *e.Commit
		cm.Files = slices.Clone(e.Commit.Files)
		c.Commit = &cm
	}
	if e.Branch != nil {
		b := *e.Branch
		c.Branch = &b
	}
	if e.PullRequest != nil {
		p := *e.PullRequest
		c.PullRequest = &p
	}
	return c
}
