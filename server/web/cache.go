package web

import (
	"container/list"
	"crypto/sha256"
	"html/template"
	"runtime"
	"sync"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/server"
)

// renderCache remembers highlighted HTML by its input. Chroma's regexp lexers cost about
// a millisecond per edit, and an open session is re-rendered on every live event, so the
// same diffs, commands and responses are rendered again and again; only new ones pay.
// It is bounded by bytes and evicts the least recently used entries.
type renderCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List
	items map[[32]byte]*list.Element
}

type cacheEntry struct {
	key [32]byte
	val template.HTML
}

func newRenderCache(maxBytes int) *renderCache {
	return &renderCache{max: maxBytes, ll: list.New(), items: map[[32]byte]*list.Element{}}
}

// highlightCacheBytes bounds the memory the cache may hold.
const highlightCacheBytes = 32 << 20

var highlighted = newRenderCache(highlightCacheBytes)

func cacheKey(parts ...string) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// get returns the cached value for key, computing and storing it on a miss.
func (c *renderCache) get(key [32]byte, compute func() template.HTML) template.HTML {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		v := el.Value.(*cacheEntry).val
		c.mu.Unlock()
		return v
	}
	c.mu.Unlock()

	v := compute()
	if len(v) > c.max/8 {
		return v // one huge output would evict everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return v
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, val: v})
	c.size += len(v)
	for c.size > c.max {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.size -= len(e.val)
	}
	return v
}

// reset empties the cache (benchmarks measure cold renders with it).
func (c *renderCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	c.items = map[[32]byte]*list.Element{}
	c.size = 0
}

// prewarm highlights a session's blocks on every core before the (sequential) template
// runs, so a long session's first render is not bound to one core. The template then
// finds every block in the cache.
func prewarm(s *server.Session) {
	var jobs []func()
	canText, canFull := s.Tier >= event.TierDetails, s.Tier >= event.TierFull
	var addCalls func(calls []server.ToolCall)
	addCalls = func(calls []server.ToolCall) {
		for i := range calls {
			c := &calls[i]
			if canText && toolKind(c.Name) == "bash" && c.Command != "" {
				jobs = append(jobs, func() { highlightShell(c.Command) })
			}
			if canText && len(c.Diff) > 0 {
				jobs = append(jobs, func() { renderDiff(c.FilePath, c.Diff) })
			}
			addCalls(c.Children)
		}
	}
	for i := range s.Prompts {
		p := &s.Prompts[i]
		if canFull && p.Response != "" {
			jobs = append(jobs, func() { renderMarkdown(p.Response) })
		}
		addCalls(p.ToolCalls)
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs)/8)
	if workers < 2 {
		return // not worth the goroutines: the template renders these inline
	}
	next := make(chan func())
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for job := range next {
				job()
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
}
