package live

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*pendingSession
	order   []string
	kick    chan struct{}
	seq     uint64 // batches noted
	done    uint64 // batches published

	cache *sessionCache // only touched by run
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

// NewPublisher returns a Publisher that reads changed sessions from store and publishes
// to hub; log receives failed reads (nil discards them). Start it with Run.
func NewPublisher(store SessionReader, hub *Hub, log *slog.Logger) *Publisher {
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
	return p
}

// Notify records an ingest result; it never blocks on publishing. Until a client has
// ever subscribed there is nobody to tell or to resume, so ingest skips the work (it
// costs about a quarter of ingest throughput on two cores).
func (p *Publisher) Notify(res agenttrace.IngestResult, events []event.Event) {
	if len(res.Sessions) == 0 || !p.hub.Watched() {
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
	p.hub.Publish(Change{Type: SessionDeleted, SessionID: id, User: user, Data: map[string]string{"id": id}})
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
		for _, c := range diff(prev, next, s, pending[id]) {
			c.User = s.User
			p.hub.Publish(c)
		}
		p.mu.Lock()
		p.cache.put(id, next)
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.done = seq
	p.mu.Unlock()
}

// sessionState is what was last published about a session: enough to tell what changed.
type sessionState struct {
	summary map[string]json.RawMessage
	prompts map[string]bool
	tools   map[string]string // tool_use_id → fingerprint of its published fields
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
}

// PromptChange is the data of a prompt.created change.
type PromptChange struct {
	SessionID string    `json:"session_id"`
	ID        string    `json:"id"`
	Index     int       `json:"index"`
	Text      string    `json:"text,omitempty"`
	StartedAt time.Time `json:"started_at"`
}

func snapshot(s *agenttrace.Session) *sessionState {
	st := &sessionState{prompts: map[string]bool{}, tools: map[string]string{}}
	raw, _ := json.Marshal(s.SessionSummary)
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
			AgentID: tc.AgentID, ParentID: parent, Error: tc.Error,
			Command: tc.Command, FilePath: tc.FilePath, Pattern: tc.Pattern, Description: tc.Description,
			Lines: [2]int{tc.LinesAdded, tc.LinesRemoved},
		})
		walkTools(session, prompt, tc.ID, tc.Children, f)
	}
}

func fingerprint(c ToolCallChange) string {
	b, _ := json.Marshal(c)
	return string(b)
}

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
		out = append(out, Change{Type: typ, SessionID: s.ID, Data: s.SessionSummary})
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
				SessionID: s.ID, ID: pr.ID, Index: pr.Index, Text: pr.Text, StartedAt: pr.StartedAt,
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

func (c *sessionCache) remove(id string) {
	if e, ok := c.items[id]; ok {
		c.ll.Remove(e)
		delete(c.items, id)
	}
}
