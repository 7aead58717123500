package projection

import (
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// order is an event's place in the canonical order: by time, then ID. Every "first" and
// "latest" rule of the projection compares these, never arrival order, so folding the
// same events in any order leaves the same state.
type order struct {
	t  time.Time
	id string
}

func orderOf(e *event.Event) order { return order{t: e.Time, id: e.ID} }

func (a order) equal(b order) bool { return a.t.Equal(b.t) && a.id == b.id }

func (a order) before(b order) bool {
	if !a.t.Equal(b.t) {
		return a.t.Before(b.t)
	}
	return a.id < b.id
}

// pick is the value of one "first wins" or "latest wins" rule, with the place of the
// event that set it, so a later-arriving event can still win by its place.
type pick[T any] struct {
	ok bool
	at order
	v  T
}

// earliest keeps v if it comes before what is kept.
func (p *pick[T]) earliest(at order, v T) {
	if !p.ok || at.before(p.at) {
		*p = pick[T]{ok: true, at: at, v: v}
	}
}

// latest keeps v if it comes after what is kept.
func (p *pick[T]) latest(at order, v T) {
	if !p.ok || p.at.before(at) {
		*p = pick[T]{ok: true, at: at, v: v}
	}
}

// branchAt places a branch name at its first mention: seq orders the mentions within one
// event (its git context before the commit or branch it reports).
type branchAt struct {
	at  order
	seq int
}

func (a branchAt) before(b branchAt) bool {
	if a.at != b.at {
		return a.at.before(b.at)
	}
	return a.seq < b.seq
}

// fold is the state of one session's projection: what the handlers have merged so far.
// The phases in finish.go turn it into a Session without changing it, so more events can
// be folded afterwards.
type fold struct {
	count       int
	sessionID   pick[string]
	first, last time.Time
	tier        int
	user, host  pick[string]
	repo        pick[string] // the latest git remote
	branch      pick[string] // the latest git branch
	branches    map[string]branchAt
	cwd         pick[string]
	version     pick[string]

	lastStart, lastEnd time.Time
	hasEnd             bool

	prompts   map[string]*promptAcc
	calls     map[string]*callAcc
	usage     map[string]*event.Event // one API response (message ID) → its best reading (a copy)
	costState pick[*event.CostState]
	commits   map[string]*pick[agenttrace.Commit]
	prs       map[string]*prAcc

	otel otelFold // what Claude Code's telemetry adds (otel.go)

	changed changes // since the view last caught up (view.update)
}

// changes are what the handlers touched since the view last caught up with the fold:
// the view redoes only these and what depends on them.
type changes struct {
	calls   map[string]bool // tool_use_ids
	prompts map[string]bool // prompt IDs
	usage   map[string]bool // usage keys (usageKey)
	gitKeys map[string]bool // commits and pull requests (commitKey, prKey)
	errors  map[string]bool // api_error event IDs
	// otelSums is set when a record the session's OTel totals sum changed.
	otelSums bool
	// usageGone are usage keys no longer in fold.usage: a request an OTel api_request
	// counted until a transcript usage event claimed it.
	usageGone map[string]bool
}

func newChanges() changes {
	return changes{calls: map[string]bool{}, prompts: map[string]bool{}, usage: map[string]bool{}, gitKeys: map[string]bool{},
		errors: map[string]bool{}, usageGone: map[string]bool{}}
}

func newFold() *fold {
	return &fold{
		tier:     event.TierFull,
		branches: map[string]branchAt{},
		prompts:  map[string]*promptAcc{},
		calls:    map[string]*callAcc{},
		usage:    map[string]*event.Event{},
		commits:  map[string]*pick[agenttrace.Commit]{},
		prs:      map[string]*prAcc{},
		otel:     newOTelFold(),
		changed:  newChanges(),
	}
}

// kindHandlers folds one event of each kind the projection knows. Other kinds are
// counted (add) and otherwise ignored; a new kind is one more entry.
var kindHandlers = map[string]func(*fold, *event.Event){
	event.KindHook:        (*fold).onHook,
	event.KindUsage:       (*fold).onUsage,
	event.KindCostState:   (*fold).onCostState,
	event.KindCommit:      (*fold).onCommit,
	event.KindPullRequest: (*fold).onPullRequest,
	event.KindBranch:      (*fold).onBranch,

	event.KindAPIRequest:        (*fold).onAPIRequest,
	event.KindAPIError:          (*fold).onAPIError,
	event.KindUserPrompt:        (*fold).onUserPrompt,
	event.KindAssistantResponse: (*fold).onAssistantResponse,
	event.KindToolDecision:      (*fold).onToolDecision,
	event.KindToolResult:        (*fold).onToolResult,
	event.KindSubagentCompleted: (*fold).onSubagentCompleted,
	event.KindMetric:            (*fold).onMetric,
}

// add folds one event, whose ID the fold has not seen.
func (f *fold) add(e *event.Event) {
	f.addCommon(e)
	if h := kindHandlers[e.Kind]; h != nil {
		h(f, e)
	}
}

// addCommon folds what every event carries, whatever its kind.
func (f *fold) addCommon(e *event.Event) {
	at := orderOf(e)
	if f.count == 0 || e.Time.Before(f.first) {
		f.first = e.Time
	}
	if f.count == 0 || e.Time.After(f.last) {
		f.last = e.Time
	}
	f.count++
	f.sessionID.earliest(at, e.SessionID)
	if e.Tier >= event.TierMetadata && e.Tier < f.tier {
		f.tier = e.Tier
	}
	if e.User != "" {
		f.user.earliest(at, e.User)
	}
	if e.Host != "" {
		f.host.earliest(at, e.Host)
	}
	if e.Git == nil {
		return
	}
	if e.Git.Remote != "" {
		f.repo.latest(at, e.Git.Remote)
	}
	if e.Git.Branch != "" {
		f.branch.latest(at, e.Git.Branch)
		f.noteBranch(e.Git.Branch, branchAt{at: at})
	}
}

func (f *fold) noteBranch(name string, at branchAt) {
	if name == "" {
		return
	}
	if old, ok := f.branches[name]; !ok || at.before(old) {
		f.branches[name] = at
	}
}

func (f *fold) onBranch(e *event.Event) {
	if e.Branch != nil {
		f.noteBranch(e.Branch.Name, branchAt{at: orderOf(e), seq: 1})
	}
}

func (f *fold) onCostState(e *event.Event) {
	if e.CostState == nil {
		return
	}
	// The latest reading wins. Running totals only grow, so on a time tie the larger one
	// is the later; on a full tie the first in canonical order stays.
	cur, at := f.costState, orderOf(e)
	if !cur.ok || e.Time.After(cur.at.t) || (e.Time.Equal(cur.at.t) &&
		(e.CostState.TotalCostUSD > cur.v.TotalCostUSD ||
			(e.CostState.TotalCostUSD == cur.v.TotalCostUSD && e.ID < cur.at.id))) {
		f.costState = pick[*event.CostState]{ok: true, at: at, v: e.CostState}
	}
}

func (f *fold) onUsage(e *event.Event) {
	if e.Usage == nil {
		return
	}
	key := usageKey(e)
	f.claimRequest(e.Usage.RequestID, key)
	if old, ok := f.usage[key]; ok && !betterUsage(e, old) {
		return
	}
	c := *e
	f.usage[key] = &c
	f.changed.usage[key] = true
}

// usageKey is the API response a usage event reads. One API response is one message.id.
// A /btw side question's transcript replays the parent's responses with the same
// message.id under a new requestId (so a new event ID); counting both would double the
// cost.
func usageKey(e *event.Event) string {
	if e.Usage.MessageID == "" {
		return "\x01" + e.ID
	}
	return e.Usage.MessageID
}

// replace swaps the folded copy old of an event for the preferred copy e, when only
// e's usage differs (a transcript line re-read while it grew, the common case), and
// reports whether it could. Every other rule saw the same fields from both copies, so
// only the response's reading is recomputed. Any other difference needs a refold.
func (f *fold) replace(old, e *event.Event) bool {
	if old.Kind != event.KindUsage || e.Kind != event.KindUsage || old.Usage == nil || e.Usage == nil ||
		old.Usage.MessageID != e.Usage.MessageID || old.Usage.Sidechain != e.Usage.Sidechain ||
		!sameContext(old, e) {
		return false
	}
	if kept := f.usage[usageKey(e)]; kept != nil && kept.ID == e.ID {
		// e's total is at least old's (PreferEvent keeps the larger) and its sidechain
		// flag and ID are old's, so e beats whatever old beat for this response.
		c := *e
		f.usage[usageKey(e)] = &c
		f.changed.usage[usageKey(e)] = true
		return true
	}
	f.onUsage(e)
	return true
}

// sameContext reports whether two copies agree on everything addCommon reads.
func sameContext(a, b *event.Event) bool {
	if !a.Time.Equal(b.Time) || a.SessionID != b.SessionID || a.Tier != b.Tier ||
		a.User != b.User || a.Host != b.Host || (a.Git == nil) != (b.Git == nil) {
		return false
	}
	return a.Git == nil || (a.Git.Remote == b.Git.Remote && a.Git.Branch == b.Git.Branch)
}

// betterUsage is ccusage's rule: the main chain's reading beats a sidechain replay of
// the same response, then the larger token total wins, then the smaller ID (so the rule
// is a total order and the winner does not depend on arrival).
func betterUsage(a, b *event.Event) bool {
	if a.Usage.Sidechain != b.Usage.Sidechain {
		return !a.Usage.Sidechain
	}
	ta, tb := a.Usage.Total(), b.Usage.Total()
	if ta != tb {
		return ta > tb
	}
	return a.ID < b.ID
}
