package web

import (
	"container/list"
	"crypto/sha256"
	"html/template"
	"runtime"
	"sync"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
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

// peek returns the cached value for key, computing nothing.
func (c *renderCache) peek(key [32]byte) (template.HTML, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return "", false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheEntry).val, true
}

// has reports whether key is cached without touching its recency.
func (c *renderCache) has(key [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.items[key]
	return ok
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

// eagerBlocks is how many not-yet-highlighted commands and diffs one page render runs
// chroma for: about the first screens of a replay. The rest are sent plain (still with
// their added/removed lines marked) and highlighted when the reader scrolls to them, so
// a 2,000-event session's first render does not wait for a thousand regexp lexer runs.
const eagerBlocks = 32

// prewarm highlights, on every core, the blocks the template will show highlighted:
// every Markdown response, and the first eagerBlocks commands and diffs (in reading
// order) that are not cached yet. The template then finds them in the cache; blocks past
// the budget render plain.
func prewarm(s *agenttrace.Session, eager int) {
	var jobs []func()
	canText, canFull := s.Tier >= event.TierDetails, s.Tier >= event.TierFull
	var addCalls func(calls []agenttrace.ToolCall)
	addCalls = func(calls []agenttrace.ToolCall) {
		for i := range calls {
			c := &calls[i]
			if canText && toolKind(c.Name) == "bash" && c.Command != "" && len(c.Command) <= maxHighlightBytes &&
				eager > 0 && !highlighted.has(shellKey(c.Command)) {
				eager--
				jobs = append(jobs, func() { highlightShell(c.Command) })
			}
			if canText && len(c.Diff) > 0 && eager > 0 && !highlighted.has(diffKey(c.FilePath, c.Diff)) {
				eager--
				jobs = append(jobs, func() { renderDiff(c.FilePath, c.Diff) })
			}
			addCalls(c.Children)
		}
	}
	for i := range s.Prompts {
		p := &s.Prompts[i]
		if canFull && p.Response != "" && !highlighted.has(markdownKey(p.Response)) {
			jobs = append(jobs, func() { renderMarkdown(p.Response) })
		}
		addCalls(p.ToolCalls)
	}
	runJobs(jobs)
}

// runJobs runs jobs on every core, or inline when there are too few to be worth the
// goroutines.
func runJobs(jobs []func()) {
	workers := min(runtime.GOMAXPROCS(0), len(jobs)/4)
	if workers < 2 {
		for _, j := range jobs {
			j()
		}
		return
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
