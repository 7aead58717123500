package projection

import (
	"sort"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// view is the fold finished into a Session. It is kept between reads: the next read
// redoes only what the fold changed since (fold.changed) and what depends on it, so a
// live session's read costs what its new events touched, not its length.
//
// Some changes move what older events resolved to, and are not worth following: a
// prompt that starts before an event already placed, a call that starts earlier than
// first seen, a subagent that changes parent, the session's user. For those update
// reports false and the Projector builds a new view from the whole fold, the same way a
// first read does (update with everything marked).
type view struct {
	pricer agenttrace.Pricer
	full   bool      // this view is being built from the whole fold
	placed time.Time // the latest time anything was attributed by promptAt (the prompt running then)
	user   string    // the session's user as the usage rows were priced with it

	calls      map[string]*callView
	spawner    map[string]string          // agent ID → the call that launched it: the first by first event
	agentCalls map[string][]string        // agent ID → the calls it made
	children   map[string]map[string]bool // call → the calls its subagent made
	callUsage  map[string][]string        // tool_use_id → usage keys naming it (may hold stale keys)
	callSums   struct{ added, removed, errors int }
	sums       usageSums

	prompts    map[string]*promptView
	ordered    []*promptView // by start, then ID
	unattached *promptView   // the calls that fit no prompt

	usage      map[string]*usageView
	usageOrder []*usageView        // canonical order
	orphans    map[string][]string // prompt ID not known yet → usage keys naming it

	commits   []agenttrace.Commit
	prs       []agenttrace.PullRequest
	gitPrompt map[string]string // commit SHA or PR key → the prompt it is listed under
	gitCalls  map[string]bool   // the calls whose prompt places a commit or PR
	gitTimed  time.Time         // the latest time a commit or PR was placed by (promptAt)

	out   []agenttrace.Prompt // the prompts as last built, by index
	notes int                 // how many of out are system notes (injected turns)

	otelSums otelSums // the session's OTel totals as last summed

	// What one update redoes and marks.
	redoCalls  map[string]bool
	redoUsage  map[string]bool
	dirty      map[*promptView]bool
	added      bool      // a prompt was added
	firstAdded time.Time // the earliest start of those added
	delta      *pending
}

type callView struct {
	call   agenttrace.ToolCall // without Children
	seen   order
	own    string // the prompt ID its own events name
	parent string // the Agent call whose subagent made it
	spawn  string // the agent it launched
	prompt string // the prompt it is attributed to (root's, own, or running at its start)
	home   *promptView
}

type promptView struct {
	id     string
	index  int
	start  time.Time
	acc    *promptAcc // nil for the unattached calls
	roots  map[string]bool
	usages map[string]*usageView
	errors map[string]*event.Event // the api_error events placed under it
	git    struct {
		commits []agenttrace.Commit
		prs     []agenttrace.PullRequest
	}
}

type usageView struct {
	key  string
	row  agenttrace.PricedUsage
	home *promptView
	at   order
	req  agenttrace.APIRequest // the row as the prompt's request list shows it
}

func newView(p agenttrace.Pricer) *view {
	return &view{pricer: p, full: true, calls: map[string]*callView{}, spawner: map[string]string{},
		agentCalls: map[string][]string{}, children: map[string]map[string]bool{}, callUsage: map[string][]string{},
		prompts: map[string]*promptView{}, usage: map[string]*usageView{}, orphans: map[string][]string{},
		gitPrompt: map[string]string{}}
}

// update catches the view up with the fold and records what changed in d; false means
// the change can't be followed here and the view must be built anew.
func (v *view) update(f *fold, d *pending) (*agenttrace.Session, bool) {
	v.redoCalls, v.redoUsage, v.dirty, v.delta = map[string]bool{}, map[string]bool{}, map[*promptView]bool{}, d
	v.added = false
	s := v.header(f)
	if !v.full && s.User != v.user {
		return nil, false // every usage row names the session's user when it has none
	}
	v.user = s.User
	if !v.updatePrompts(f) || !v.updateCalls(f) {
		return nil, false
	}
	v.updateUsage(f)
	v.updateErrors(f)
	v.placeGit(f)
	v.usageTotals(s)
	v.otelTotals(f, s)
	v.assemble(s)
	v.full = false
	return s, true
}

// touched lists the keys a step redoes: every key of all when the view is built anew,
// else those the fold changed.
func touched[T any](full bool, changed map[string]bool, all map[string]T) []string {
	out := make([]string, 0, len(changed))
	if full {
		for k := range all {
			out = append(out, k)
		}
		return out
	}
	for k := range changed {
		if _, ok := all[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// header is what the session's events say about it as a whole, and its status.
func (v *view) header(f *fold) *agenttrace.Session {
	s := &agenttrace.Session{}
	s.ID = f.sessionID.v
	s.Tier = f.tier
	s.StartedAt, s.LastEventAt, s.EventCount = f.first, f.last, f.count
	s.User, s.Host, s.Repo, s.Branch = f.user.v, f.host.v, f.repo.v, f.branch.v
	s.CWD, s.ClaudeCodeVersion = f.cwd.v, f.version.v
	s.Models, s.Prompts = []string{}, []agenttrace.Prompt{}
	if cs := f.costState; cs.ok {
		c := cs.v.TotalCostUSD
		s.ReportedCostUSD = &c
	}
	s.Branches = f.branchList()
	// Status is decided by event times, never arrival: a SessionStart after the latest
	// SessionEnd is a resume.
	if f.hasEnd && !f.lastStart.After(f.lastEnd) {
		s.Status = agenttrace.StatusEnded
		t := f.lastEnd
		s.EndedAt = &t
		s.DurationMS = f.lastEnd.Sub(s.StartedAt).Milliseconds()
	} else {
		s.Status = agenttrace.StatusActive
		s.DurationMS = s.LastEventAt.Sub(s.StartedAt).Milliseconds()
	}
	return s
}

// branchList is the branches in order of first mention; a commit's branch counts from
// its kept sighting.
func (f *fold) branchList() []string {
	at := make(map[string]branchAt, len(f.branches))
	for b, a := range f.branches {
		at[b] = a
	}
	for _, c := range f.commits {
		if b := c.v.Branch; b != "" {
			if old, ok := at[b]; !ok || (branchAt{at: c.at, seq: 1}).before(old) {
				at[b] = branchAt{at: c.at, seq: 1}
			}
		}
	}
	out := make([]string, 0, len(at))
	for b := range at {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return at[out[i]].before(at[out[j]]) })
	return out
}

// updatePrompts takes in new and changed prompts. A new prompt is appended when it
// starts after every prompt and after everything already attributed by time
// (promptAt); anything else would move where earlier events belong.
func (v *view) updatePrompts(f *fold) bool {
	var added []*promptView
	for _, id := range touched(v.full, f.changed.prompts, f.prompts) {
		pa, pv := f.prompts[id], v.prompts[id]
		if pv == nil {
			pv = &promptView{id: id, start: pa.start(), roots: map[string]bool{}, usages: map[string]*usageView{},
				errors: map[string]*event.Event{}}
			v.prompts[id] = pv
			added = append(added, pv)
		} else if !pa.start().Equal(pv.start) {
			return false
		}
		pv.acc = pa
		v.dirty[pv] = true
	}
	sort.Slice(added, func(i, j int) bool { return promptLess(added[i], added[j]) })
	for _, pv := range added {
		if !v.full && (!pv.start.After(v.placed) || (len(v.ordered) > 0 && !promptLess(v.ordered[len(v.ordered)-1], pv))) {
			return false
		}
		pv.index = len(v.ordered)
		v.ordered = append(v.ordered, pv)
		for _, k := range v.orphans[pv.id] {
			v.redoUsage[k] = true
		}
		delete(v.orphans, pv.id)
	}
	v.added = len(added) > 0
	if v.added {
		v.firstAdded = added[0].start
	}
	if len(added) > 0 && v.unattached != nil {
		v.dirty[v.unattached] = true // its index follows the prompts
	}
	return true
}

func promptLess(a, b *promptView) bool {
	if !a.start.Equal(b.start) {
		return a.start.Before(b.start)
	}
	return a.id < b.id
}

// placeAt is promptAt for a call or response, whose attribution is kept: a prompt that
// starts later can be appended without looking at it again.
func (v *view) placeAt(t time.Time) string {
	if t.After(v.placed) {
		v.placed = t
	}
	return v.promptAt(t)
}

// promptAt attributes something without a prompt ID to the latest prompt started at or
// before t.
func (v *view) promptAt(t time.Time) string {
	i := sort.Search(len(v.ordered), func(i int) bool { return v.ordered[i].start.After(t) })
	if i == 0 {
		return ""
	}
	return v.ordered[i-1].id
}

// home is the prompt a root call with prompt ID pid is listed under.
func (v *view) home(pid string) *promptView {
	if pv, ok := v.prompts[pid]; ok {
		return pv
	}
	if v.unattached == nil {
		v.unattached = &promptView{roots: map[string]bool{}, usages: map[string]*usageView{}}
	}
	return v.unattached
}
