package projection

import (
	"math"
	"sort"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// view is one finishing of a fold into a Session. The phases below fill it in order; none
// changes the fold, so a Projector can go on folding after it.
type view struct {
	f            *fold
	s            *agenttrace.Session
	calls        map[string]*callView
	callOrder    []string // calls by their first event
	prompts      map[string]*promptView
	ordered      []*promptView // by start, then ID
	promptOfCall map[string]string
	usages       []agenttrace.PricedUsage
}

type callView struct {
	call     agenttrace.ToolCall
	promptID string
	parentID string
	spawn    string
}

type promptView struct {
	p        agenttrace.Prompt
	start    time.Time
	last     time.Time
	usage    agenttrace.Usage
	unpriced bool
	cost     float64
	models   []string
}

// finish runs the phases; nil for a fold without events.
func (f *fold) finish(p agenttrace.Pricer) (*agenttrace.Session, []agenttrace.PricedUsage) {
	if f.count == 0 {
		return nil, nil
	}
	v := &view{f: f}
	v.header()
	v.status()
	v.toolCalls()
	v.promptsByStart()
	v.attributeCalls()
	v.priceUsage(p)
	v.gitOutcomes()
	v.assemblePrompts()
	v.totals()
	return v.s, v.usages
}

// header is what the session's events say about it as a whole.
func (v *view) header() {
	f := v.f
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
	s.Branches = v.branches()
	v.s = s
}

// branches in order of first mention; a commit's branch counts from its kept sighting.
func (v *view) branches() []string {
	at := make(map[string]branchAt, len(v.f.branches))
	for b, a := range v.f.branches {
		at[b] = a
	}
	for _, c := range v.f.commits {
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

// status is decided by event times, never arrival: a SessionStart after the latest
// SessionEnd is a resume.
func (v *view) status() {
	f, s := v.f, v.s
	if f.hasEnd && !f.lastStart.After(f.lastEnd) {
		s.Status = agenttrace.StatusEnded
		t := f.lastEnd
		s.EndedAt = &t
		s.DurationMS = f.lastEnd.Sub(s.StartedAt).Milliseconds()
		return
	}
	s.Status = agenttrace.StatusActive
	s.DurationMS = s.LastEventAt.Sub(s.StartedAt).Milliseconds()
}

// toolCalls builds every call and nests a subagent's calls under the Agent call that
// launched it: the first such call, by the calls' first events.
func (v *view) toolCalls() {
	v.calls = make(map[string]*callView, len(v.f.calls))
	v.callOrder = make([]string, 0, len(v.f.calls))
	for id, ca := range v.f.calls {
		v.calls[id] = &callView{call: ca.toolCall(), promptID: ca.promptID.v, spawn: ca.spawn.v}
		v.callOrder = append(v.callOrder, id)
	}
	sort.Slice(v.callOrder, func(i, j int) bool {
		return v.f.calls[v.callOrder[i]].seen.before(v.f.calls[v.callOrder[j]].seen)
	})
	agentParent := map[string]string{}
	for _, id := range v.callOrder {
		if sp := v.calls[id].spawn; sp != "" {
			if _, ok := agentParent[sp]; !ok {
				agentParent[sp] = id
			}
		}
	}
	for _, id := range v.callOrder {
		cv := v.calls[id]
		if a := cv.call.AgentID; a != "" {
			if parent, ok := agentParent[a]; ok && parent != id && !v.isAncestor(id, parent) {
				cv.parentID = parent
			}
		}
	}
}

// isAncestor reports whether id is already above candidate in the tree, so attaching
// id under candidate would make a cycle.
func (v *view) isAncestor(id, candidate string) bool {
	cur := candidate
	for i := 0; i < 64 && cur != ""; i++ {
		if cur == id {
			return true
		}
		cur = v.calls[cur].parentID
	}
	return false
}

// promptsByStart orders the prompts by start (submission), then ID.
func (v *view) promptsByStart() {
	v.prompts = make(map[string]*promptView, len(v.f.prompts))
	v.ordered = make([]*promptView, 0, len(v.f.prompts))
	for id, pa := range v.f.prompts {
		pv := &promptView{start: pa.start(), last: pa.last}
		pv.p.ID, pv.p.Text, pv.p.Response = id, pa.submit.v, pa.stop.v
		v.prompts[id] = pv
		v.ordered = append(v.ordered, pv)
	}
	sort.Slice(v.ordered, func(i, j int) bool {
		a, b := v.ordered[i], v.ordered[j]
		if !a.start.Equal(b.start) {
			return a.start.Before(b.start)
		}
		return a.p.ID < b.p.ID
	})
}

// promptAt attributes something without a prompt ID to the latest prompt started at or
// before t.
func (v *view) promptAt(t time.Time) string {
	i := sort.Search(len(v.ordered), func(i int) bool { return v.ordered[i].start.After(t) })
	if i == 0 {
		return ""
	}
	return v.ordered[i-1].p.ID
}

// attributeCalls gives every call a prompt: its root call's, else its own, else the
// prompt running when it started.
func (v *view) attributeCalls() {
	v.promptOfCall = make(map[string]string, len(v.calls))
	for _, id := range v.callOrder {
		root := v.calls[id]
		for i := 0; root.parentID != "" && i < 64; i++ {
			root = v.calls[root.parentID]
		}
		pid := firstNonEmpty(root.promptID, v.calls[id].promptID)
		if pid == "" {
			pid = v.promptAt(v.calls[id].call.StartedAt)
		}
		v.promptOfCall[id] = pid
	}
}

// priceUsage counts each API response once, priced, under the prompt it belongs to.
func (v *view) priceUsage(p agenttrace.Pricer) {
	evs := make([]*event.Event, 0, len(v.f.usage))
	for _, e := range v.f.usage {
		evs = append(evs, e)
	}
	sort.Slice(evs, func(i, j int) bool { return orderOf(evs[i]).before(orderOf(evs[j])) })
	s := v.s
	var totalCost float64
	unpriced := map[string]bool{}
	for _, e := range evs {
		u, model := ToUsage(e.Usage), e.Usage.Model
		if model != "" && !contains(s.Models, model) {
			s.Models = append(s.Models, model)
		}
		pid := v.promptOfUsage(e)
		cost := price(p, e.Usage)
		s.Usage = s.Usage.Add(u)
		if cost == nil {
			unpriced[model] = true
		} else {
			totalCost += *cost
		}
		if pv, ok := v.prompts[pid]; ok {
			pv.addUsage(u, model, cost)
		}
		user := firstNonEmpty(e.User, s.User)
		v.usages = append(v.usages, agenttrace.PricedUsage{
			EventID: e.ID, Time: e.Time, PromptID: pid, Model: model, User: user, Usage: u, CostUSD: cost,
		})
	}
	if len(unpriced) == 0 {
		c := round9(totalCost)
		s.CostUSD = &c
		return
	}
	for m := range unpriced {
		s.UnpricedModels = append(s.UnpricedModels, m)
	}
	sort.Strings(s.UnpricedModels)
}

// promptOfUsage is the usage event's prompt ID, else the prompt of a tool call the
// response made, else the prompt running at its time.
func (v *view) promptOfUsage(e *event.Event) string {
	if e.PromptID != "" {
		return e.PromptID
	}
	for _, tid := range e.Usage.ToolUseIDs {
		if p := v.promptOfCall[tid]; p != "" {
			return p
		}
	}
	return v.promptAt(e.Time)
}

func (pv *promptView) addUsage(u agenttrace.Usage, model string, cost *float64) {
	pv.usage = pv.usage.Add(u)
	if cost == nil {
		pv.unpriced = true
	} else {
		pv.cost += *cost
	}
	if model != "" && !contains(pv.models, model) {
		pv.models = append(pv.models, model)
	}
}

func round9(f float64) float64 { return math.Round(f*1e9) / 1e9 }

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
