package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Bus carries changes between the processes that serve one store, so a change ingested
// on any of them reaches every process's subscribers. Publish hands the bus the changes
// this process computed (their IDs are ignored); the bus numbers them and delivers them
// to every process's hub, this one's included, through Hub.Deliver. Without a bus (one
// process on SQLite) a Publisher publishes straight to its hub.
type Bus interface {
	// Publish records msgs in order and announces them; it returns the IDs it gave them
	// once they are durable, or an error when they were not recorded (nobody will
	// receive them).
	Publish(ctx context.Context, msgs []Message) (ids []uint64, err error)
}

// History is the durable record behind a bus: what a client resuming from an ID its
// hub's ring does not hold (older than the ring, or newer than this process has
// received yet) reads instead.
type History interface {
	// After returns the messages after id, oldest first, at most limit of them. ok is
	// false when id is not a point of the history: it was pruned, or never issued.
	After(ctx context.Context, id uint64, limit int) (msgs []Message, ok bool, err error)
}

// Encode encodes c's data for a bus, as Publish does for a hub.
func Encode(c Change) (Message, error) {
	data, err := json.Marshal(c.Data)
	if err != nil {
		return Message{}, fmt.Errorf("encode %s change: %w", c.Type, err)
	}
	return Message{Type: c.Type, SessionID: c.SessionID, User: c.User, Data: data}, nil
}

// Follow makes the hub number its messages as a bus does: it forgets what it holds and
// continues after newest, the bus's newest ID; from then on messages arrive through
// Deliver, and resumes the ring cannot answer read hist. A bus calls it when it starts, and
// again when it lost messages it cannot recover (its subscribers then resync).
func (h *Hub) Follow(hist History, newest uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.history = hist
	h.first, h.count = 0, 0
	h.nextID, h.floor = newest+1, newest
	h.wakeLocked()
}

// Deliver stores messages numbered by a bus, oldest first, and wakes subscribers. It
// skips those not newer than the newest held, so a bus may deliver a message twice.
func (h *Hub) Deliver(msgs []Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range msgs {
		if m.ID < h.nextID {
			continue
		}
		h.append(m)
		n++
	}
	if n > 0 {
		h.wakeLocked()
	}
}

// maxResume bounds how many messages a resuming client reads from the history; one
// further behind is told to resync, which is cheaper for both sides.
const maxResume = DefaultRingSize

// resumeFromHistory serves a client resuming from last when the hub follows a bus and
// its ring cannot answer: the messages after last from the history, or a resync when the
// history does not have them either. It returns where to continue from the ring, and
// false when the client is gone.
func (h *Hub) resumeFromHistory(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, last uint64, session string) (uint64, bool) {
	h.mu.Lock()
	hist, floor, newest := h.history, h.floor, h.nextID-1
	h.mu.Unlock()
	if hist == nil || (last >= floor && last <= newest) {
		return last, true
	}
	const page = sendBatch
	for total := 0; total < maxResume; {
		msgs, ok, err := hist.After(ctx, last, page)
		if err != nil || !ok {
			resync := fmt.Appendf(nil, "id: %d\nevent: %s\ndata: {}\n\n", newest, Resync)
			return newest, h.write(w, rc, resync)
		}
		var buf []byte
		for _, m := range msgs {
			last = m.ID
			if (session == "" || m.SessionID == session) && agenttrace.CanSee(ctx, m.User) {
				buf = appendMessage(buf, m)
			}
		}
		if len(buf) > 0 && !h.write(w, rc, buf) {
			return last, false
		}
		if len(msgs) < page {
			return last, true
		}
		total += len(msgs)
	}
	resync := fmt.Appendf(nil, "id: %d\nevent: %s\ndata: {}\n\n", newest, Resync)
	return newest, h.write(w, rc, resync)
}
