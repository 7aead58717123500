package live

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Publisher turns accepted batches into live changes. Ingest only records which
// sessions changed and returns; one goroutine then reads each changed session once
// (however many batches touched it meanwhile), compares it with what it last published,
// and publishes the differences. That keeps ingest latency free of projection reads and
// the stream free of full snapshots.
type Publisher struct {
	store SessionReader
	hub   *Hub
	bus   Bus // nil: publish to hub directly (one process)
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*pendingSession
	order   []string
	kick    chan struct{}
	seq     uint64 // batches noted
	done    uint64 // batches published

	cache *sessionCache // only touched by run
	// With a bus other processes publish about the same sessions: seen is the last hub
	// message applied to the cache, own the IDs of this publisher's messages not seen yet
	// (its cache already holds them). Both under mu.
	seen uint64
	own  map[uint64]bool
}

// SessionReader is what a Publisher reads: a session as the projection stores it
// (agenttrace.Store fits).
type SessionReader interface {
	Session(ctx context.Context, id string) (*agenttrace.Session, error)
}

// pendingSession is what the batches since the last publish said about one session.
type pendingSession struct {
	newEvents int // events stored for it; -1 when unknown (the batch had duplicates)
	prompts   map[string]bool
	tools     map[string]bool
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithBus makes the Publisher hand its changes to b, which numbers them and delivers
// them to every process's hub, instead of publishing to its own hub. The changes are
// computed once, here, by the process that ingested them: the others have no state to
// compare with. nil keeps publishing to the hub.
func WithBus(b Bus) PublisherOption {
	return func(p *Publisher) { p.bus = b }
}

// NewPublisher returns a Publisher that reads changed sessions from store and publishes
// to hub; log receives failed reads (nil discards them). Start it with Run.
func NewPublisher(store SessionReader, hub *Hub, log *slog.Logger, opts ...PublisherOption) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{
		store:   store,
		hub:     hub,
		log:     log,
		pending: map[string]*pendingSession{},
		kick:    make(chan struct{}, 1),
		cache:   newSessionCache(2048),
	}
	for _, o := range opts {
		o(p)
	}
	p.seen, p.own = hub.LastID(), map[uint64]bool{}
	return p
}

// Notify records an ingest result; it never blocks on publishing. Until a client has
// ever subscribed there is nobody to tell or to resume, so ingest skips the work (it
// costs about a quarter of ingest throughput on two cores). With a bus the subscribers
// may be on another process, so it always does the work.
func (p *Publisher) Notify(res agenttrace.IngestResult, events []event.Event) {
	if len(res.Sessions) == 0 || (p.bus == nil && !p.hub.Watched()) {
		return
	}
	changed := make(map[string]bool, len(res.Sessions))
	for _, id := range res.Sessions {
		changed[id] = true
	}
	p.mu.Lock()
	for _, id := range res.Sessions {
		if p.pending[id] == nil {
			p.pending[id] = &pendingSession{prompts: map[string]bool{}, tools: map[string]bool{}}
			p.order = append(p.order, id)
		}
	}
	for i := range events {
		e := &events[i]
		ps := p.pending[e.SessionID]
		if ps == nil || !changed[e.SessionID] {
			continue
		}
		if ps.newEvents >= 0 {
			if res.Duplicates > 0 {
				ps.newEvents = -1
			} else {
				ps.newEvents++
			}
		}
		if e.HookEvent == "UserPromptSubmit" && e.PromptID != "" {
			ps.prompts[e.PromptID] = true
		}
		if e.ToolUseID != "" {
			ps.tools[e.ToolUseID] = true
		}
	}
	p.seq++
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Deleted publishes a session's erasure and forgets it.
func (p *Publisher) Deleted(id string) {
	p.mu.Lock()
	user := ""
	if st := p.cache.get(id); st != nil {
		// The user is known only for a session published since start-up; an erasure of
		// another reaches only unrestricted streams, which is the safe side.
		_ = json.Unmarshal(st.summary["user"], &user)
	}
	p.cache.remove(id)
	p.mu.Unlock()
	// Bounded: a bus write happens while the DELETE request waits.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.publish(ctx, []Change{{Type: SessionDeleted, SessionID: id, User: user, Data: map[string]string{"id": id}}})
}

// publish hands changes to the bus, or to the hub without one.
func (p *Publisher) publish(ctx context.Context, changes []Change) {
	if p.bus == nil {
		for _, c := range changes {
			p.hub.Publish(c)
		}
		return
	}
	msgs := make([]Message, 0, len(changes))
	for _, c := range changes {
		m, err := Encode(c)
		if err != nil {
			p.log.Warn("live: encode change", "session", c.SessionID, "err", err)
			continue
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return
	}
	ids, err := p.bus.Publish(ctx, msgs)
	if err != nil {
		// Subscribers miss these changes; the next change of the session carries its
		// current state, and a reconnecting dashboard refetches.
		p.log.Warn("live: publish changes to the bus", "changes", len(msgs), "err", err)
		return
	}
	p.mu.Lock()
	for _, id := range ids {
		p.own[id] = true
	}
	p.mu.Unlock()
}

// observe applies to the cache what other processes published since the last look, so
// it says what subscribers were last told about a session whoever told them, and the
// next diff neither misses a field another process changed meanwhile nor announces its
// prompts again. When the hub lost messages (its bus had to start afresh), it forgets
// everything: the next change of each session then carries its whole summary.
func (p *Publisher) observe() {
	msgs, newest, gap, _ := p.hub.Since(p.seen)
	p.mu.Lock()
	defer p.mu.Unlock()
	if gap || newest < p.seen { // newest < seen: the hub started to follow a bus since
		p.seen = newest
		p.cache = newSessionCache(p.cache.max)
		clear(p.own)
		return
	}
	p.seen = newest
	for _, m := range msgs {
		if !p.own[m.ID] {
			p.cache.apply(m)
		}
	}
	// Also the own IDs not among msgs: a deletion's notice can reach the hub before
	// Deleted records its ID.
	maps.DeleteFunc(p.own, func(id uint64, _ bool) bool { return id <= newest })
}

// Run publishes until ctx ends, then publishes what is still pending.
func (p *Publisher) Run(ctx context.Context) {
	for {
		select {
		case <-p.kick:
			p.publishPending(ctx)
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p.publishPending(drain)
			cancel()
			return
		}
	}
}

// Flush waits until every batch noted so far is published.
func (p *Publisher) Flush(ctx context.Context) error {
	p.mu.Lock()
	target := p.seq
	p.mu.Unlock()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		done := p.done >= target
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (p *Publisher) publishPending(ctx context.Context) {
	p.mu.Lock()
	pending, order, seq := p.pending, p.order, p.seq
	p.pending, p.order = map[string]*pendingSession{}, nil
	p.mu.Unlock()
	if p.bus != nil {
		p.observe()
	}
	var out []Change
	for _, id := range order {
		s, err := p.store.Session(ctx, id)
		if errors.Is(err, agenttrace.ErrNotFound) {
			continue // erased since
		}
		if err != nil {
			p.log.Warn("live: read changed session", "session", id, "err", err)
			continue
		}
		p.mu.Lock()
		prev := p.cache.get(id)
		p.mu.Unlock()
		next := snapshot(s)
		changes := diff(prev, next, s, pending[id])
		for i := range changes {
			changes[i].User = s.User
		}
		if p.bus == nil {
			p.publish(ctx, changes)
		} else {
			out = append(out, changes...)
		}
		p.mu.Lock()
		p.cache.put(id, next)
		p.mu.Unlock()
	}
	// One bus write for the whole round, however many sessions changed.
	if len(out) > 0 {
		p.publish(ctx, out)
	}
	p.mu.Lock()
	p.done = seq
	p.mu.Unlock()
}

// sessionState is what was last published about a session: enough to tell what changed.
type sessionState struct {
	summary map[string]json.RawMessage
	prompts map[string]bool
	tools   map[string]uint64 // tool_use_id → fingerprint of its published fields
}

// ToolCallChange is the data of a tool_call.updated change.
type ToolCallChange struct {
	SessionID   string     `json:"session_id"`
	PromptID    string     `json:"prompt_id"`
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	DurationMS  int64      `json:"duration_ms"`
	AgentID     string     `json:"agent_id,omitempty"`
	ParentID    string     `json:"parent_id,omitempty"` // the Agent call a subagent's call hangs under
	Error       string     `json:"error,omitempty"`
	Command     string     `json:"command,omitempty"`
	FilePath    string     `json:"file_path,omitempty"`
	Pattern     string     `json:"pattern,omitempty"`
	Description string     `json:"description,omitempty"`
	Lines       [2]int     `json:"lines"` // added, removed
	// Truncated says a text field was cut to NoticeText bytes: fetch the session for it.
	Truncated bool `json:"truncated,omitempty"`
}

// PromptChange is the data of a prompt.created change.
type PromptChange struct {
	SessionID string    `json:"session_id"`
	ID        string    `json:"id"`
	Index     int       `json:"index"`
	Text      string    `json:"text,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Truncated bool      `json:"truncated,omitempty"` // Text was cut to NoticeText bytes
}

// NoticeText bounds each text a notice carries (a prompt, a command, an error, the first
// prompt of a summary): notices say what changed, and the page or client fetches the
// whole record. Every subscriber reads the same notices, so their size is what a
// thousand streams hold between them.
const NoticeText = 1 << 10

// clipped cuts s to NoticeText bytes on a rune boundary.
func clipped(s string) string {
	if len(s) <= NoticeText {
		return s
	}
	return strings.ToValidUTF8(s[:NoticeText], "")
}

func snapshot(s *agenttrace.Session) *sessionState {
	st := &sessionState{prompts: map[string]bool{}, tools: map[string]uint64{}}
	sum := s.SessionSummary
	sum.FirstPrompt = clipped(sum.FirstPrompt)
	raw, _ := json.Marshal(sum)
	_ = json.Unmarshal(raw, &st.summary)
	for _, pr := range s.Prompts {
		st.prompts[pr.ID] = true
		walkTools(s.ID, pr.ID, "", pr.ToolCalls, func(c ToolCallChange) {
			st.tools[c.ID] = fingerprint(c)
		})
	}
	return st
}

func walkTools(session, prompt, parent string, calls []agenttrace.ToolCall, f func(ToolCallChange)) {
	for i := range calls {
		tc := &calls[i]
		f(ToolCallChange{
			SessionID: session, PromptID: prompt, ID: tc.ID, Name: tc.Name, Status: tc.Status,
			StartedAt: tc.StartedAt, EndedAt: tc.EndedAt, DurationMS: tc.DurationMS,
			AgentID: tc.AgentID, ParentID: parent, Error: clipped(tc.Error),
			Command: clipped(tc.Command), FilePath: tc.FilePath, Pattern: tc.Pattern, Description: clipped(tc.Description),
			Lines:     [2]int{tc.LinesAdded, tc.LinesRemoved},
			Truncated: max(len(tc.Command), len(tc.Description), len(tc.Error)) > NoticeText,
		})
		walkTools(session, prompt, tc.ID, tc.Children, f)
	}
}

// fingerprint is a hash of a tool call's published JSON. The cache keeps a state for up
// to 2,048 sessions, and the JSON itself (a few hundred bytes a call, a hundred calls
// and more a session) made it the largest thing in a busy team server's heap: 150 MB
// uncounted by --memory-limit. Eight bytes a call tell a change just as well.
func fingerprint(c ToolCallChange) uint64 {
	b, _ := json.Marshal(c)
	return fingerprintOf(b)
}

// fingerprintOf hashes published JSON; fingerprintSeed is this process's, and every
// fingerprint it compares is its own.
func fingerprintOf(data []byte) uint64 { return maphash.Bytes(fingerprintSeed, data) }

var fingerprintSeed = maphash.MakeSeed()

// diff lists the changes from prev (nil when not cached: after a restart or eviction)
// to next. Without prev, what the batches contained decides: the session is new when
// every event it has came in them, and the prompts and tool calls they named changed.
func diff(prev, next *sessionState, s *agenttrace.Session, ps *pendingSession) []Change {
	var out []Change
	if prev == nil {
		typ := SessionUpdated
		if ps != nil && ps.newEvents >= s.EventCount {
			typ = SessionCreated
		}
		sum := s.SessionSummary
		sum.FirstPrompt = clipped(sum.FirstPrompt)
		out = append(out, Change{Type: typ, SessionID: s.ID, Data: sum})
	} else {
		changed := map[string]json.RawMessage{}
		for k, v := range next.summary {
			if !bytes.Equal(prev.summary[k], v) {
				changed[k] = v
			}
		}
		if len(changed) > 0 {
			changed["id"] = next.summary["id"]
			out = append(out, Change{Type: SessionUpdated, SessionID: s.ID, Data: changed})
		}
	}
	for _, pr := range s.Prompts {
		isNew := (prev != nil && !prev.prompts[pr.ID]) || (prev == nil && ps != nil && ps.prompts[pr.ID])
		if isNew {
			out = append(out, Change{Type: PromptCreated, SessionID: s.ID, Data: PromptChange{
				SessionID: s.ID, ID: pr.ID, Index: pr.Index, Text: clipped(pr.Text), Truncated: len(pr.Text) > NoticeText, StartedAt: pr.StartedAt,
			}})
		}
		walkTools(s.ID, pr.ID, "", pr.ToolCalls, func(c ToolCallChange) {
			var changed bool
			if prev != nil {
				changed = prev.tools[c.ID] != next.tools[c.ID]
			} else {
				changed = ps != nil && ps.tools[c.ID]
			}
			if changed {
				out = append(out, Change{Type: ToolCallUpdated, SessionID: s.ID, Data: c})
			}
		})
	}
	return out
}

// sessionCache is a small LRU of published session states.
type sessionCache struct {
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	id    string
	state *sessionState
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

func (c *sessionCache) get(id string) *sessionState {
	if e, ok := c.items[id]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).state
	}
	return nil
}

func (c *sessionCache) put(id string, st *sessionState) {
	if e, ok := c.items[id]; ok {
		e.Value.(*cacheEntry).state = st
		c.ll.MoveToFront(e)
		return
	}
	c.items[id] = c.ll.PushFront(&cacheEntry{id: id, state: st})
	if c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).id)
	}
}

// apply updates a cached session with a change another process published. A session
// not cached stays so, unless the change is its creation, which carries it whole.
func (c *sessionCache) apply(m Message) {
	if m.Type == SessionDeleted {
		c.remove(m.SessionID)
		return
	}
	st := c.get(m.SessionID)
	if st == nil && m.Type == SessionCreated {
		st = &sessionState{prompts: map[string]bool{}, tools: map[string]uint64{}}
		c.put(m.SessionID, st)
	}
	if st == nil {
		return
	}
	switch m.Type {
	case SessionCreated:
		st.summary = nil
		_ = json.Unmarshal(m.Data, &st.summary)
	case SessionUpdated:
		var fields map[string]json.RawMessage
		if json.Unmarshal(m.Data, &fields) == nil {
			if st.summary == nil {
				st.summary = map[string]json.RawMessage{}
			}
			maps.Copy(st.summary, fields)
		}
	case PromptCreated:
		var pc PromptChange
		if json.Unmarshal(m.Data, &pc) == nil {
			st.prompts[pc.ID] = true
		}
	case ToolCallUpdated:
		var tc ToolCallChange
		if json.Unmarshal(m.Data, &tc) == nil {
			// The other process encoded the same struct: its bytes are the fingerprint.
			st.tools[tc.ID] = fingerprintOf(m.Data)
		}
	}
}

func (c *sessionCache) remove(id string) {
	if e, ok := c.items[id]; ok {
		c.ll.Remove(e)
		delete(c.items, id)
	}
}
