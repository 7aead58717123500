package projection

import (
	"math"
	"slices"
	"sort"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// usageSums are the session's usage totals over usageOrder[:upTo], in canonical order:
// the cost is a float sum, so it is only ever extended at the end, never corrected in
// the middle, and equals a sum over every row from the start.
type usageSums struct {
	upTo     int
	usage    agenttrace.Usage
	cost     float64
	models   []string
	unpriced map[string]bool
}

// updateUsage prices the new and changed API responses and attributes each to a prompt:
// its own prompt ID, else that of a call it made, else the prompt running at its time.
func (v *view) updateUsage(f *fold) {
	v.dropUsage(f)
	for _, k := range touched(v.full, f.changed.usage, f.usage) {
		v.redoUsage[k] = true
	}
	for k := range v.redoUsage {
		e := f.usage[k]
		if e == nil {
			continue // a key a call or an unknown prompt still names, no longer counted
		}
		uv := v.usage[k]
		if uv == nil {
			uv = &usageView{key: k, at: orderOf(e)}
			v.usage[k] = uv
			v.insertOrder(uv)
		} else {
			v.leave(uv)
			if at := orderOf(e); !uv.at.equal(at) {
				v.removeOrder(uv)
				uv.at = at
				v.insertOrder(uv)
			} else {
				v.resum(uv)
			}
			if uv.row.EventID != e.ID {
				v.delta.drop(uv.row.EventID)
			}
		}
		for _, t := range e.Usage.ToolUseIDs {
			if !slices.Contains(v.callUsage[t], k) {
				v.callUsage[t] = append(v.callUsage[t], k)
			}
		}
		pid := v.promptOfUsage(e)
		uv.row = agenttrace.PricedUsage{EventID: e.ID, Time: e.Time, PromptID: pid, Model: e.Usage.Model,
			User: firstNonEmpty(e.User, v.user), Usage: ToUsage(e.Usage), CostUSD: price(v.pricer, e.Usage)}
		uv.req = requestRow(f, e, uv.row)
		if pv, ok := v.prompts[pid]; ok {
			pv.usages[k], uv.home = uv, pv
			v.dirty[pv] = true
		} else if pid != "" {
			v.orphans[pid] = append(v.orphans[pid], k)
		}
		v.delta.set(uv.row)
	}
}

// dropUsage takes out the rows the fold no longer counts: the store is told they are
// gone and the sums are redone from where they were.
func (v *view) dropUsage(f *fold) {
	for k := range f.changed.usageGone {
		uv := v.usage[k]
		if uv == nil || f.usage[k] != nil {
			continue
		}
		v.leave(uv)
		v.removeOrder(uv)
		delete(v.usage, k)
		v.delta.drop(uv.row.EventID)
	}
}

// leave takes a response out of the prompt it counted for.
func (v *view) leave(uv *usageView) {
	if uv.home != nil {
		delete(uv.home.usages, uv.key)
		v.dirty[uv.home] = true
		uv.home = nil
	}
}

// promptOfUsage is the usage event's prompt ID, else the prompt of a tool call the
// response made, else the prompt running at its time.
func (v *view) promptOfUsage(e *event.Event) string {
	if e.PromptID != "" {
		return e.PromptID
	}
	for _, tid := range e.Usage.ToolUseIDs {
		if c, ok := v.calls[tid]; ok && c.prompt != "" {
			return c.prompt
		}
	}
	return v.placeAt(e.Time)
}

// position is where a response at `at` is or goes in usageOrder.
func (v *view) position(at order) int {
	return sort.Search(len(v.usageOrder), func(i int) bool { return !v.usageOrder[i].at.before(at) })
}

func (v *view) insertOrder(uv *usageView) {
	i := v.position(uv.at)
	v.usageOrder = slices.Insert(v.usageOrder, i, uv)
	v.sums.touch(i)
}

func (v *view) removeOrder(uv *usageView) {
	i := v.position(uv.at)
	v.usageOrder = slices.Delete(v.usageOrder, i, i+1)
	v.sums.touch(i)
}

// resum marks a response whose row changes in place as not summed yet.
func (v *view) resum(uv *usageView) { v.sums.touch(v.position(uv.at)) }

// touch notes a change at position i: sums that hold it are redone from the start.
func (sm *usageSums) touch(i int) {
	if i < sm.upTo {
		sm.upTo = 0
	}
}

// usageTotals counts each API response once, priced: the sums are extended over the
// responses after the last one they hold, or redone from the start when a response
// before it changed.
func (v *view) usageTotals(s *agenttrace.Session) {
	sm := &v.sums
	if sm.upTo == 0 || sm.unpriced == nil {
		*sm = usageSums{unpriced: map[string]bool{}}
	}
	for _, uv := range v.usageOrder[sm.upTo:] {
		r := uv.row
		if r.Model != "" && !slices.Contains(sm.models, r.Model) {
			sm.models = append(sm.models, r.Model)
		}
		sm.usage = sm.usage.Add(r.Usage)
		if r.CostUSD == nil {
			sm.unpriced[r.Model] = true
		} else {
			sm.cost += *r.CostUSD
		}
	}
	sm.upTo = len(v.usageOrder)
	s.Usage = sm.usage
	s.Models = append(s.Models, sm.models...)
	if len(sm.unpriced) == 0 {
		c := round9(sm.cost)
		s.CostUSD = &c
		return
	}
	for m := range sm.unpriced {
		s.UnpricedModels = append(s.UnpricedModels, m)
	}
	sort.Strings(s.UnpricedModels)
}

// usages are the priced rows, by time.
func (v *view) usages() []agenttrace.PricedUsage {
	if len(v.usageOrder) == 0 {
		return nil
	}
	out := make([]agenttrace.PricedUsage, len(v.usageOrder))
	for i, uv := range v.usageOrder {
		out[i] = uv.row
	}
	return out
}

// pending is what changed since a Projector's last Delta.
type pending struct {
	full    bool
	prompts map[int]bool
	commits map[string]agenttrace.Commit      // by SHA
	prs     map[string]agenttrace.PullRequest // by fold key
	usage   map[string]agenttrace.PricedUsage // by event ID
	gone    map[string]bool
}

func newPending(full bool) *pending {
	return &pending{full: full, prompts: map[int]bool{}, commits: map[string]agenttrace.Commit{},
		prs: map[string]agenttrace.PullRequest{}, usage: map[string]agenttrace.PricedUsage{}, gone: map[string]bool{}}
}

func (d *pending) set(r agenttrace.PricedUsage) {
	d.usage[r.EventID] = r
	delete(d.gone, r.EventID)
}

func (d *pending) drop(eventID string) {
	delete(d.usage, eventID)
	d.gone[eventID] = true
}

func round9(f float64) float64 { return math.Round(f*1e9) / 1e9 }

func contains(ss []string, s string) bool { return slices.Contains(ss, s) }
