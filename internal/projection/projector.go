package projection

import (
	"slices"
	"sort"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Project folds one session's events into its Session.
//
// The result depends only on the set of events: their order and any duplicates (the same
// ID twice) do not change it, so a store can re-project from whatever it holds after
// every ingest and get the same answer however the events arrived. Events of kinds or
// hook events it does not know are counted but otherwise ignored. It returns nil for no
// events. A nil Pricer prices nothing (every model is unpriced).
func Project(events []event.Event, p agenttrace.Pricer) *agenttrace.Session {
	s, _ := ProjectWithUsage(events, p)
	return s
}

// ProjectWithUsage is Project that also returns the deduplicated usage rows, priced and
// attributed exactly as the Session counts them, ordered by time. Stores keep them for
// analytics.
func ProjectWithUsage(events []event.Event, p agenttrace.Pricer) (*agenttrace.Session, []agenttrace.PricedUsage) {
	pr := New(p)
	pr.Add(events...)
	return pr.Result()
}

// Projector folds one session's events incrementally. Events may be added in batches, in
// any order, with the same event ID more than once (PreferEvent picks the copy kept);
// Session and Result at any time equal Project of every event added so far.
//
// Each event goes through one handler for its kind (kindHandlers), and each handler
// merges into fields whose rules compare events by their canonical place (time, then
// ID), never by arrival, so an event older than the ones already folded is absorbed
// like any other. A Projector is not safe for concurrent use.
type Projector struct {
	pricer agenttrace.Pricer
	held   map[string]event.Event // the kept copy of every event ID
	fold   *fold
	// stale is set when a later copy of an ID replaced the copy already folded and
	// fold.replace could not swap it in place. The handlers only ever add an event's
	// contribution (a minimum, a "latest", a sum of winners): taking one back is not
	// cheap in general, so the next Result refolds the session from held instead
	// (refold). This is the one path that is not incremental; it is taken for a copy that
	// differs in more than its usage, e.g. a hook payload recaptured at another time.
	stale bool
	// view is the fold as last finished, caught up on each read (view.update); pend is
	// what changed in it since the last Delta.
	view     *view
	pend     *pending
	rebuilds int // views built from the whole fold (tests watch the incremental path)
}

// New returns an empty Projector that prices usage with p (nil prices nothing).
func New(p agenttrace.Pricer) *Projector {
	return &Projector{pricer: p, held: map[string]event.Event{}, fold: newFold()}
}

// Add folds events into the session. Events must belong to one session.
func (pr *Projector) Add(events ...event.Event) {
	for _, e := range events {
		e.Time = e.Time.UTC()
		if old, seen := pr.held[e.ID]; seen {
			if !PreferEvent(&e, &old) {
				continue
			}
			pr.held[e.ID] = e
			if !pr.stale && !pr.fold.replace(&old, &e) {
				pr.stale = true
			}
			continue
		}
		pr.held[e.ID] = e
		if !pr.stale {
			pr.fold.add(&e)
		}
	}
}

// Len is the number of distinct events held.
func (pr *Projector) Len() int { return len(pr.held) }

// Session is the session as projected from every event added so far, or nil before any.
func (pr *Projector) Session() *agenttrace.Session {
	s, _ := pr.Result()
	return s
}

// Result is Session with the priced usage rows, as ProjectWithUsage returns them. Each
// call builds a new Session, but its prompts' tool calls, diffs and commit lists are
// shared with the Projector rather than copied on every read: treat them as read-only.
func (pr *Projector) Result() (*agenttrace.Session, []agenttrace.PricedUsage) {
	s, v := pr.finish()
	if v == nil {
		return nil, nil
	}
	s.Prompts = slices.Clone(s.Prompts) // the view's own slice: later updates change it
	return s, v.usages()
}

// Delta is a store's read of the projection: the session as Session gives it, and which
// of its rows changed since the previous Delta, so that a store writes what a batch
// changed rather than the whole session again.
type Delta struct {
	Session *agenttrace.Session // nil when there are no events
	// Full is set when every row must be written again: the first Delta, or one after a
	// change the projection could not follow incrementally.
	Full         bool
	Prompts      []int                    // indexes into Session.Prompts of the prompts changed, ascending; all when Full
	Commits      []agenttrace.Commit      // the commits new or changed (or placed under another prompt); all when Full
	PullRequests []agenttrace.PullRequest // the same for pull requests
	Usage        []agenttrace.PricedUsage // the usage rows new or changed, by event ID; all when Full
	Gone         []string                 // event IDs of usage rows no longer counted, sorted
}

// Delta finishes the projection and returns it with what changed since the last Delta.
// Its Session's prompt list is the Projector's own: read it before the next Add.
func (pr *Projector) Delta() Delta {
	s, v := pr.finish()
	d := pr.pend
	pr.pend = nil
	if v == nil || d == nil {
		return Delta{Session: s, Full: true}
	}
	out := Delta{Session: s, Full: d.full}
	for i := range d.prompts {
		if i < len(s.Prompts) {
			out.Prompts = append(out.Prompts, i)
		}
	}
	if d.full {
		out.Prompts = out.Prompts[:0]
		for i := range s.Prompts {
			out.Prompts = append(out.Prompts, i)
		}
	}
	sort.Ints(out.Prompts)
	for _, c := range d.commits {
		out.Commits = append(out.Commits, c)
	}
	SortCommits(out.Commits)
	for _, p := range d.prs {
		out.PullRequests = append(out.PullRequests, p)
	}
	SortPullRequests(out.PullRequests)
	for _, r := range d.usage {
		out.Usage = append(out.Usage, r)
	}
	sort.Slice(out.Usage, func(i, j int) bool { return out.Usage[i].EventID < out.Usage[j].EventID })
	for id := range d.gone {
		out.Gone = append(out.Gone, id)
	}
	sort.Strings(out.Gone)
	return out
}

// finish catches the view up with everything folded, building it anew from the whole
// fold the first time, after a refold, and when the increment can't be followed.
func (pr *Projector) finish() (*agenttrace.Session, *view) {
	if pr.stale {
		pr.refold()
	}
	if pr.fold.count == 0 {
		return nil, nil
	}
	var s *agenttrace.Session
	ok := false
	if pr.view != nil {
		if pr.pend == nil {
			pr.pend = newPending(false)
		}
		s, ok = pr.view.update(pr.fold, pr.pend)
	}
	if !ok {
		pr.rebuilds++
		pr.view, pr.pend = newView(pr.pricer), newPending(true)
		s, _ = pr.view.update(pr.fold, pr.pend)
	}
	pr.fold.changed = newChanges()
	return s, pr.view
}

// refold rebuilds the fold from the held copies. The handlers are order-independent, so
// the map's order does not matter.
func (pr *Projector) refold() {
	pr.fold = newFold()
	for _, e := range pr.held {
		pr.fold.add(&e)
	}
	pr.stale = false
	pr.view = nil
}
