package web

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// maxLazyCalls bounds one highlight request; the script asks for what is near the
// viewport, a screen or two of calls.
const maxLazyCalls = 64

// highlightCalls serves GET /sessions/{id}/highlight?call=ID&call=ID…: the highlighted
// command and diff of each call the page showed plain, one <div id="hl-ID"> each, for
// the page's script to swap in. Commands and diffs never change once recorded, so the
// session may come from the recent-session cache.
func (a *app) highlightCalls(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["call"]
	if len(ids) == 0 || len(ids) > maxLazyCalls {
		a.renderError(w, r, http.StatusBadRequest, "Bad request", "Ask for 1 to 64 calls.")
		return
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	sid := r.PathValue("id")
	s, found, err := a.recent.calls(r.Context(), a.store, sid, want)
	if err != nil {
		a.fail(w, r, "load the session", err)
		return
	}
	var jobs []func()
	out := make([][2]template.HTML, len(found))
	canText := s.Tier >= event.TierDetails
	for i, c := range found {
		if !canText {
			continue
		}
		if toolKind(c.Name) == "bash" && c.Command != "" {
			jobs = append(jobs, func() { out[i][0] = highlightShell(c.Command) })
		}
		if len(c.Diff) > 0 {
			jobs = append(jobs, func() { out[i][1] = renderDiff(c.FilePath, c.Diff) })
		}
	}
	runJobs(jobs)
	var b bytes.Buffer
	for i, c := range found {
		b.WriteString(`<div id="hl-`)
		template.HTMLEscape(&b, []byte(c.ID))
		b.WriteString(`">`)
		b.WriteString(string(out[i][0]))
		b.WriteString(string(out[i][1]))
		b.WriteString("</div>\n")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// recentSessions keeps the last few sessions a page was rendered from for a short
// while, so the highlight requests a long replay makes while the reader scrolls do not
// each load a 2,000-event session again.
type recentSessions struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	items map[string]recentSession
}

type recentSession struct {
	s  *agenttrace.Session
	at time.Time
}

func newRecentSessions(max int, ttl time.Duration) *recentSessions {
	return &recentSessions{max: max, ttl: ttl, items: map[string]recentSession{}}
}

func (rs *recentSessions) put(s *agenttrace.Session) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.items) >= rs.max {
		var oldest string
		for id, it := range rs.items {
			if oldest == "" || it.at.Before(rs.items[oldest].at) {
				oldest = id
			}
		}
		delete(rs.items, oldest)
	}
	rs.items[s.ID] = recentSession{s: s, at: time.Now()}
}

func (rs *recentSessions) get(id string) *agenttrace.Session {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	it, ok := rs.items[id]
	if !ok || time.Since(it.at) > rs.ttl {
		return nil
	}
	return it.s
}

// calls returns the session and those of its calls (subagent calls included) whose IDs
// are in want, loading the session from the store when it is not recent or lacks one
// of them (a call recorded since). The cached session is only read, never changed.
func (rs *recentSessions) calls(ctx context.Context, store agenttrace.Store, sid string, want map[string]bool) (*agenttrace.Session, []*agenttrace.ToolCall, error) {
	s := rs.get(sid)
	// The cache is shared by every viewer: a session another user's page loaded is
	// served only to a request that may see it, else read (and refused) as usual.
	if s != nil && agenttrace.CanSee(ctx, s.User) {
		if found := findCalls(s, want); len(found) == len(want) {
			return s, found, nil
		}
	}
	s, err := store.Session(ctx, sid)
	if err != nil {
		return nil, nil, err
	}
	sortSession(s)
	rs.put(s)
	return s, findCalls(s, want), nil
}

func findCalls(s *agenttrace.Session, want map[string]bool) []*agenttrace.ToolCall {
	var found []*agenttrace.ToolCall
	var walk func(calls []agenttrace.ToolCall)
	walk = func(calls []agenttrace.ToolCall) {
		for i := range calls {
			if want[calls[i].ID] {
				found = append(found, &calls[i])
			}
			walk(calls[i].Children)
		}
	}
	for i := range s.Prompts {
		walk(s.Prompts[i].ToolCalls)
	}
	return found
}
