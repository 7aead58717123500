// Package live is the pub/sub hub behind agent-trace's Server-Sent Events stream.
//
// Ingest publishes small change notices (a session created or updated, a prompt created, a
// tool call updated); the hub numbers them, keeps the most recent ones in a bounded ring
// so a reconnecting client resumes from Last-Event-ID without missing any, and serves
// them as text/event-stream. Publishing never blocks: subscribers read the ring at their
// own pace, and one that falls a whole ring behind is dropped rather than slowing ingest.
// The Publisher turns ingest results into those notices by comparing each changed
// session with what it last published, so the API's ingest handler only tells it what
// was stored.
//
// Several servers on one store share their notices through a Bus (PostgreSQL's in
// internal/postgres): the ingesting server computes them once and publishes them to the
// bus, which numbers them and delivers them to every server's hub (Follow, Deliver), so
// an ID means the same point on every server and a client resumes on any of them; the
// bus's History answers what a hub's ring does not hold. One server alone (SQLite) has
// no bus: its Publisher publishes to its hub, which numbers the notices itself.
package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Change types published on the stream.
const (
	SessionCreated  = "session.created"
	SessionUpdated  = "session.updated"
	SessionDeleted  = "session.deleted"
	PromptCreated   = "prompt.created"
	ToolCallUpdated = "tool_call.updated"
	// Resync tells a client that the events it asked to resume from are gone (evicted
	// from the ring, or from before a server restart): it should refetch what it shows.
	Resync = "resync"
)

// Change is one notice about a session. Data is encoded as JSON once, at publish time.
type Change struct {
	Type      string
	SessionID string
	// User is the session's user: a stream whose request context is restricted to some
	// users (agenttrace.WithVisibleUsers) gets only their sessions' changes.
	User string
	Data any
}

// Message is a published change with its stream ID and encoded data.
type Message struct {
	ID        uint64
	Type      string
	SessionID string
	User      string
	Data      []byte
}

// Defaults for New.
const (
	DefaultRingSize  = 10000
	DefaultHeartbeat = 15 * time.Second
	// writeTimeout bounds one write to a subscriber: a client that stops reading is
	// dropped instead of holding its goroutine forever.
	writeTimeout = 10 * time.Second
)

// Option configures a Hub.
type Option func(*Hub)

// WithRingSize sets how many recent messages a Hub keeps for resuming clients.
func WithRingSize(n int) Option {
	return func(h *Hub) {
		if n > 0 {
			h.ring = make([]Message, n)
		}
	}
}

// WithHeartbeat sets the interval of the keep-alive comment sent to idle subscribers.
func WithHeartbeat(d time.Duration) Option {
	return func(h *Hub) {
		if d > 0 {
			h.heartbeat = d
		}
	}
}

// Hub fans published changes out to SSE subscribers. It is safe for concurrent use.
type Hub struct {
	heartbeat time.Duration

	mu     sync.Mutex
	ring   []Message     // circular; ring[(first+i)%len] for i < count
	first  int           // index of the oldest message
	count  int           // messages held
	nextID uint64        // ID of the next message
	wake   chan struct{} // closed (and replaced) on every publish
	closed chan struct{}
	once   sync.Once
	// floor: every message after this ID is held (a bus's IDs need not be consecutive).
	floor uint64
	// history, once a bus feeds the hub (Follow), answers resumes the ring cannot.
	history History

	subscribers atomic.Int64
	dropped     atomic.Int64
	watched     atomic.Bool
}

// New returns a Hub. Message IDs start from the current time in microseconds, so IDs
// keep increasing across server restarts and a client resuming with an ID from a
// previous run is told to resync instead of silently getting the wrong events.
func New(opts ...Option) *Hub {
	h := &Hub{
		heartbeat: DefaultHeartbeat,
		ring:      make([]Message, DefaultRingSize),
		nextID:    uint64(time.Now().UnixMicro()),
		wake:      make(chan struct{}),
		closed:    make(chan struct{}),
	}
	for _, o := range opts {
		o(h)
	}
	h.floor = h.nextID - 1
	return h
}

// Publish numbers c, stores it in the ring and wakes subscribers. It never blocks on a
// subscriber. It returns the message ID, or 0 when c.Data cannot be encoded as JSON.
// A hub that follows a bus numbers nothing itself: publish to the bus instead.
func (h *Hub) Publish(c Change) uint64 {
	data, err := json.Marshal(c.Data)
	if err != nil {
		return 0
	}
	h.mu.Lock()
	id := h.nextID
	h.append(Message{ID: id, Type: c.Type, SessionID: c.SessionID, User: c.User, Data: data})
	h.wakeLocked()
	h.mu.Unlock()
	return id
}

// append stores m, whose ID is above every held one, evicting the oldest when full.
// h.mu is held.
func (h *Hub) append(m Message) {
	if h.count < len(h.ring) {
		h.ring[(h.first+h.count)%len(h.ring)] = m
		h.count++
	} else {
		h.floor = h.ring[h.first].ID
		h.ring[h.first] = m
		h.first = (h.first + 1) % len(h.ring)
	}
	h.nextID = m.ID + 1
}

// wakeLocked wakes every waiting subscriber; h.mu is held.
func (h *Hub) wakeLocked() {
	close(h.wake)
	h.wake = make(chan struct{})
}

// LastID is the ID of the newest message, or the ID before the first one when nothing
// was published yet. A client that starts from it receives exactly what is published next.
func (h *Hub) LastID() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nextID - 1
}

// Since returns the messages after ID after, oldest first, and the ID of the newest
// message held (the point to continue from when msgs is empty). gap is true when some
// messages after it were already evicted (or were never published by this hub), so the
// caller cannot resume exactly. wait is closed on the next publish.
func (h *Hub) Since(after uint64) (msgs []Message, newest uint64, gap bool, wait <-chan struct{}) {
	return h.since(after, 0)
}

// since is Since returning at most max messages (0: all), the oldest first.
func (h *Hub) since(after uint64, max int) (msgs []Message, newest uint64, gap bool, wait <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	wait = h.wake
	newest = h.nextID - 1
	if after >= newest {
		// Nothing new. An ID from the future means another process numbered it, unless
		// a bus numbers for every process: then this hub has yet to receive it.
		return nil, newest, after > newest && h.history == nil, wait
	}
	gap = after < h.floor
	// IDs a bus issues may skip values: find the first one after after.
	start := sort.Search(h.count, func(i int) bool { return h.ring[(h.first+i)%len(h.ring)].ID > after })
	end := h.count
	if max > 0 && end-start > max {
		end = start + max
	}
	msgs = make([]Message, 0, end-start)
	for i := start; i < end; i++ {
		msgs = append(msgs, h.ring[(h.first+i)%len(h.ring)])
	}
	return msgs, newest, gap, wait
}

// Watched reports whether any client has subscribed since the hub was created. Until
// then nobody can ask to resume from a message of this hub, so a publisher may skip the
// work of computing changes.
func (h *Hub) Watched() bool { return h.watched.Load() }

// Subscribers is the number of connected SSE clients.
func (h *Hub) Subscribers() int { return int(h.subscribers.Load()) }

// Dropped is how many subscribers were disconnected for being too slow: they fell a
// whole ring behind, or did not take a write within writeTimeout. Either reconnects
// (EventSource does so by itself) and resumes, or is told to resync.
func (h *Hub) Dropped() int { return int(h.dropped.Load()) }

// Close ends every open stream (for shutdown: an SSE response never ends by itself, so
// http.Server.Shutdown would otherwise wait for it). Publish still works afterwards.
func (h *Hub) Close() {
	h.once.Do(func() { close(h.closed) })
}

// LastEventID reads where a client wants to resume: the Last-Event-ID header that
// EventSource sends on reconnect, or the last_event_id query parameter for clients that
// cannot set headers. ok is false when the client did not ask to resume.
func LastEventID(r *http.Request) (id uint64, ok bool) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return 0, false
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return id, true
}

// ServeHTTP streams changes as text/event-stream: each message as `id:`, `event:` and
// `data:` lines, a comment line as heartbeat, a flush after each. A client resuming with
// an ID the hub no longer holds first gets a `resync` event. The optional `session`
// query parameter restricts the stream to one session; a request context restricted to
// some users (agenttrace.WithVisibleUsers) restricts it to their sessions.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	last, resume := LastEventID(r)
	session := r.URL.Query().Get("session")

	// Take the starting point before sending headers, so anything published after the
	// client sees the response is delivered.
	if !resume {
		last = h.LastID()
	}
	h.watched.Store(true)
	h.subscribers.Add(1)
	defer h.subscribers.Add(-1)

	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Connection", "keep-alive")
	hdr.Set("X-Accel-Buffering", "no") // keep reverse proxies from buffering the stream
	w.WriteHeader(http.StatusOK)
	if !h.write(w, rc, []byte("retry: 2000\n: connected\n\n")) {
		return
	}
	if resume {
		var ok bool
		if last, ok = h.resumeFromHistory(r.Context(), w, rc, last, session); !ok {
			return
		}
	}

	ticker := time.NewTicker(h.heartbeat)
	defer ticker.Stop()
	st := stream{h: h, w: w, rc: rc, r: r, session: session, last: last}
	for first := true; ; first = false {
		more, ok := st.send(first)
		if !ok {
			return
		}
		if more {
			continue // a backlog: keep writing before waiting
		}
		select {
		case <-st.wait:
		case <-ticker.C:
			if !st.write([]byte(": heartbeat\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-h.closed:
			return
		}
	}
}

// Bounds of what one stream holds at a time, whatever the backlog: sendBatch messages
// read from the ring, flushed once their encoding reaches sendBuffer bytes.
const (
	sendBatch  = 256
	sendBuffer = 64 << 10
)

// stream is one client's position and reusable write buffer.
type stream struct {
	h       *Hub
	w       http.ResponseWriter
	rc      *http.ResponseController
	r       *http.Request
	session string
	last    uint64
	buf     []byte
	wait    <-chan struct{}
}

// send writes the next batch of messages the client may see. more says a backlog
// remains; ok false ends the stream.
func (st *stream) send(first bool) (more, ok bool) {
	msgs, newest, gap, wait := st.h.since(st.last, sendBatch)
	st.wait = wait
	if gap {
		if !first {
			// Fell a whole ring behind while connected: drop it; on reconnect it gets
			// a resync and refetches, instead of slowing everyone down.
			st.h.dropped.Add(1)
			return false, false
		}
		// Continue from what is still held: it is all newer than what the client had.
		st.last = newest
		if len(msgs) > 0 {
			st.last = msgs[0].ID - 1
		}
		if !st.write(fmt.Appendf(nil, "id: %d\nevent: %s\ndata: {}\n\n", st.last, Resync)) {
			return false, false
		}
	}
	st.buf = st.buf[:0]
	for _, m := range msgs {
		st.last = m.ID
		if st.session != "" && m.SessionID != st.session || !agenttrace.CanSee(st.r.Context(), m.User) {
			continue
		}
		st.buf = appendMessage(st.buf, m)
		if len(st.buf) >= sendBuffer {
			if !st.write(st.buf) {
				return false, false
			}
			st.buf = st.buf[:0]
		}
	}
	if len(st.buf) > 0 && !st.write(st.buf) {
		return false, false
	}
	if cap(st.buf) > 4*sendBuffer { // one huge message: do not keep its buffer
		st.buf = nil
	}
	return len(msgs) == sendBatch, true
}

// write writes b; a client that does not take it within writeTimeout is too slow and
// counts as dropped (one that went away does not).
func (st *stream) write(b []byte) bool {
	err := st.h.writeErr(st.w, st.rc, b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		st.h.dropped.Add(1)
	}
	return err == nil
}

func appendMessage(buf []byte, m Message) []byte {
	buf = append(buf, "id: "...)
	buf = strconv.AppendUint(buf, m.ID, 10)
	buf = append(buf, "\nevent: "...)
	buf = append(buf, m.Type...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, m.Data...)
	return append(buf, "\n\n"...)
}

// write sends b and flushes, under a deadline; false means the client is gone.
func (h *Hub) write(w http.ResponseWriter, rc *http.ResponseController, b []byte) bool {
	return h.writeErr(w, rc, b) == nil
}

// writeErr writes and flushes b within writeTimeout.
func (h *Hub) writeErr(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	// Not every ResponseWriter supports deadlines (httptest.ResponseRecorder); writing
	// without one is still correct.
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}
