package sqlstore

import (
	"encoding/json"
	"fmt"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// SessionWrite is what a store writes of one session after folding events into its
// projection: every row when Full, else only the rows the events changed. The sessions
// row (the session without its prompts, commits and pull requests) and the facets are
// small and always written; the prompt rows carry each prompt's page (its call trees),
// so a long session's next batch rewrites the one or two prompts it touched instead of
// the whole session.
type SessionWrite struct {
	ID      string
	Session *agenttrace.Session // nil when the session has no events left: every row goes
	Full    bool
	Row     SessionRow
	// Facets are every facet of the session, written after its stored ones go; unless
	// FacetsKnown, when only FacetsAdded, those new since the last write, are written: a
	// batch into a long session then rewrites none of its file facets (setFacets).
	Facets      []Facet
	FacetsKnown bool
	FacetsAdded []Facet
	Prompts     []PromptRow // the rows to write; rows at or past len(Session.Prompts) go
	// Calls are the tool_calls rows of the prompts in Prompts, which replace every row
	// those prompts had; calls of prompts at or past len(Session.Prompts) go too.
	Calls   []ToolCallRow
	Commits []GitRow // commits and pull requests to write (every one when Full)
	PRs     []GitRow
	Usage   []UsageFact // rows to write (every row when Full)
	Gone    []string    // event IDs of usage rows to delete
}

// setFacets sets the facets to write. f, when not nil, is the session's folded
// projection: when current (f.P set) it holds the facets last written, and it keeps the
// new ones, to cache with the projection once the write commits. Between full
// projections a session's facets only grow: a prompt's calls keep their files (a call
// that would move makes the projection Full), commits keep theirs, and models and
// branches accumulate. So a batch adds the facets of the prompts and commits it changed,
// without walking the whole session, a walk that grew with it. A session that lost
// prompts is written in full.
func (w *SessionWrite) setFacets(commits []agenttrace.Commit, f *Folded) {
	sess := w.Session
	if f == nil || f.P == nil || f.Facets == nil || w.Full || len(sess.Prompts) < f.FacetPrompts {
		w.Facets = Facets(sess)
		if f != nil {
			f.Facets, f.FacetPrompts = make(map[Facet]bool, len(w.Facets)), len(sess.Prompts)
			for _, x := range w.Facets {
				f.Facets[x] = true
			}
		}
		return
	}
	w.FacetsKnown = true
	f.FacetPrompts = len(sess.Prompts)
	add := func(x Facet) {
		if x.Value != "" && !f.Facets[x] {
			f.Facets[x] = true
			w.FacetsAdded = append(w.FacetsAdded, x)
		}
	}
	for _, p := range w.Prompts {
		eachFile(sess.Prompts[p.Index].ToolCalls, func(file string) { add(fileFacet(file)) })
	}
	for _, c := range commits {
		for _, file := range c.Files {
			add(fileFacet(file))
		}
	}
	eachScalarFacet(sess, add)
}

// PromptRow is one prompts row: the prompt's place, the text searched, and its page.
type PromptRow struct {
	Index     int
	ID        string
	StartedMS int64
	Text      string
	Detail    []byte // the Prompt as JSON, with its call trees
}

// NewSessionWrite encodes a projection's Delta as rows. f, when not nil, is the session's
// folded projection, whose facets decide the facet rows (setFacets).
func NewSessionWrite(id string, d projection.Delta, f *Folded) (SessionWrite, error) {
	w := SessionWrite{ID: id, Session: d.Session, Full: d.Full, Gone: d.Gone}
	sess := d.Session
	if sess == nil {
		w.Full = true
		if f != nil {
			f.Facets = nil // every row goes, the facets too
		}
		return w, nil
	}
	var err error
	if w.Row, err = NewSessionRow(sess); err != nil {
		return w, err
	}
	for _, i := range d.Prompts {
		p := sess.Prompts[i]
		body, err := json.Marshal(p)
		if err != nil {
			return w, fmt.Errorf("encode prompt %d: %w", i, err)
		}
		w.Prompts = append(w.Prompts, PromptRow{Index: i, ID: p.ID, StartedMS: p.StartedAt.UnixMilli(), Text: p.Text, Detail: body})
		w.Calls = toolCallRows(i, p.ToolCalls, w.Calls)
	}
	if w.Commits, err = CommitRows(sess, d.Commits); err != nil {
		return w, err
	}
	if w.PRs, err = PullRequestRows(sess, d.PullRequests); err != nil {
		return w, err
	}
	w.Usage = UsageFacts(sess, d.Usage)
	w.setFacets(d.Commits, f)
	return w, nil
}

// ProjectSession projects one session's stored events with p, as every row to write.
func ProjectSession(id string, events []event.Event, p agenttrace.Pricer) (SessionWrite, error) {
	pr := projection.New(p)
	pr.Add(events...)
	return NewSessionWrite(id, pr.Delta(), nil)
}

// UsageDiff is the analytics side of a write: the usage changes against prior, the
// facts as last written (by event ID), which it brings up to date. With Full, every
// prior fact the write no longer holds is gone.
func (w *SessionWrite) UsageDiff(prior map[string]UsageFact, version uint64) []agenttrace.UsageChange {
	var out []agenttrace.UsageChange
	seen := make(map[string]bool, len(w.Usage))
	for _, k := range w.Usage {
		seen[k.EventID] = true
		o, ok := prior[k.EventID]
		switch {
		case !ok:
			out = append(out, agenttrace.UsageChange{New: UsageRecordOf(k), Version: version})
		case !o.Equal(k):
			out = append(out, agenttrace.UsageChange{Old: UsageRecordOf(o), New: UsageRecordOf(k), Version: version})
		}
		prior[k.EventID] = k
	}
	gone := w.Gone
	if w.Full {
		gone = nil
		for id := range prior {
			if !seen[id] {
				gone = append(gone, id)
			}
		}
	}
	for _, id := range gone {
		if o, ok := prior[id]; ok {
			out = append(out, agenttrace.UsageChange{Old: UsageRecordOf(o), Version: version})
			delete(prior, id)
		}
	}
	return out
}

// UsageRecordOf is a usage fact as the analytics backend receives it.
func UsageRecordOf(f UsageFact) *agenttrace.UsageRecord {
	return &agenttrace.UsageRecord{EventID: f.EventID, SessionID: f.SessionID, TimeMS: f.TimeMS,
		SessionStartedMS: f.SessionStartedMS, Model: f.Model, User: f.User, Repo: f.Repo, Usage: f.Usage, CostUSD: f.CostUSD}
}
