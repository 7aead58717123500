package sqlite

import (
	"container/list"
	"maps"
	"slices"
	"sync"

	"github.com/agent-trace/agent-trace/event"
)

// eventCache keeps the decoded events of recently ingested sessions, so that a live
// session's next small batch re-projects from memory instead of decoding every stored
// event again. It is only a cache: an entry is used when its event count matches the
// database's, and anything unexpected drops it.
type eventCache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	lru      *list.List // of *cacheEntry, most recent first
	bySess   map[string]*list.Element
}

type cacheEntry struct {
	session string
	events  []event.Event // owned by the cache: never shared with callers
	bytes   int
}

// defaultCacheBytes bounds the cache's payload bytes.
const defaultCacheBytes = 64 << 20

func newEventCache(maxBytes int) *eventCache {
	return &eventCache{maxBytes: maxBytes, lru: list.New(), bySess: map[string]*list.Element{}}
}

// get returns a session's cached events. The slice must not be modified.
func (c *eventCache) get(session string) ([]event.Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.bySess[session]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheEntry).events, true
}

// put stores a session's events (taking ownership of the slice).
func (c *eventCache) put(session string, events []event.Event) {
	size := 0
	for i := range events {
		size += eventBytes(&events[i])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(session)
	if size > c.maxBytes/4 {
		return // one huge session would evict everything else
	}
	c.bySess[session] = c.lru.PushFront(&cacheEntry{session: session, events: events, bytes: size})
	c.bytes += size
	for c.bytes > c.maxBytes && c.lru.Len() > 0 {
		c.removeLocked(c.lru.Back().Value.(*cacheEntry).session)
	}
}

func (c *eventCache) drop(session string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(session)
}

func (c *eventCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Init()
	c.bySess = map[string]*list.Element{}
	c.bytes = 0
}

func (c *eventCache) removeLocked(session string) {
	if el, ok := c.bySess[session]; ok {
		c.bytes -= el.Value.(*cacheEntry).bytes
		c.lru.Remove(el)
		delete(c.bySess, session)
	}
}

func eventBytes(e *event.Event) int {
	n := 400 + len(e.Payload)
	if e.Usage != nil {
		n += len(e.Usage.Text)
	}
	return n
}

// cloneEvent deep-copies an event so the cache never aliases a caller's memory.
func cloneEvent(e *event.Event) event.Event {
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
