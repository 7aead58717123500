package projection

import (
	"sort"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// assemble builds the prompts the update touched, and the session's prompt list and
// totals around them. Prompts are in submission order, each with its call trees,
// commits and PRs. Calls that fit no prompt (tool events before any prompt) still count
// for the session; they appear under a synthetic last prompt so none is lost from the
// page.
func (v *view) assemble(s *agenttrace.Session) {
	for pv := range v.dirty {
		if pv == v.unattached {
			continue
		}
		for len(v.out) <= pv.index {
			v.out = append(v.out, agenttrace.Prompt{})
		}
		built := v.buildPrompt(pv)
		v.notes += noteCount(built) - noteCount(v.out[pv.index])
		v.out[pv.index] = built
		v.delta.prompts[pv.index] = true
	}
	n := len(v.ordered)
	// Shared with the view: Projector.Result copies it, Delta's reader is done with it
	// before the next update.
	if n > 0 {
		s.Prompts = v.out[:n:n]
	}
	if u := v.unattached; u != nil && len(u.roots) > 0 {
		if v.dirty[u] {
			u.index = n
			v.delta.prompts[n] = true
		}
		s.Prompts = append(s.Prompts, v.buildUnattached())
	}
	s.ToolCallCount = len(v.calls)
	s.LinesAdded, s.LinesRemoved, s.ErrorCount = v.callSums.added, v.callSums.removed, v.callSums.errors
	// Injected turns (system notes) are not prompts: neither counted nor the first.
	s.PromptCount = n - v.notes
	for i := 0; i < n; i++ {
		if s.Prompts[i].Origin == "" {
			s.FirstPrompt = s.Prompts[i].Text
			break
		}
	}
	s.Commits, s.PullRequests = v.commits, v.prs
	if s.Commits == nil {
		s.Commits = []agenttrace.Commit{}
	}
	if s.PullRequests == nil {
		s.PullRequests = []agenttrace.PullRequest{}
	}
	s.CommitCount, s.PRCount = len(s.Commits), len(s.PullRequests)
}

// noteCount is 1 for a system note (an injected turn), 0 for a prompt.
func noteCount(p agenttrace.Prompt) int {
	if p.Origin != "" {
		return 1
	}
	return 0
}

// buildPrompt is one prompt: what its own events say, its usage priced in canonical
// order, its call trees, commits and PRs.
func (v *view) buildPrompt(pv *promptView) agenttrace.Prompt {
	pa := pv.acc
	p := agenttrace.Prompt{ID: pv.id, Index: pv.index, Text: pa.text(), Origin: pa.origin(), Response: pa.response(),
		StartedAt: pv.start, Models: []string{}}
	if pa.last.After(p.StartedAt) {
		p.DurationMS = pa.last.Sub(p.StartedAt).Milliseconds()
	}
	us := make([]*usageView, 0, len(pv.usages))
	for _, uv := range pv.usages {
		us = append(us, uv)
	}
	sort.Slice(us, func(i, j int) bool { return us[i].at.before(us[j].at) })
	var cost float64
	unpriced := false
	for _, uv := range us {
		r := uv.row
		p.Usage = p.Usage.Add(r.Usage)
		if r.CostUSD == nil {
			unpriced = true
		} else {
			cost += *r.CostUSD
		}
		if r.Model != "" && !contains(p.Models, r.Model) {
			p.Models = append(p.Models, r.Model)
		}
	}
	if !unpriced {
		c := round9(cost)
		p.CostUSD = &c
	}
	p.Requests = v.requests(pv, us)
	p.ToolCalls = v.trees(pv)
	p.Commits, p.PullRequests = pv.git.commits, pv.git.prs
	if p.Commits == nil {
		p.Commits = []agenttrace.Commit{}
	}
	if p.PullRequests == nil {
		p.PullRequests = []agenttrace.PullRequest{}
	}
	countCalls(&p, p.ToolCalls)
	return p
}

// buildUnattached is the synthetic prompt of the calls that fit no prompt. Its lines and
// errors count its top-level calls.
func (v *view) buildUnattached() agenttrace.Prompt {
	u := v.unattached
	calls := v.trees(u)
	zero := 0.0
	p := agenttrace.Prompt{ID: "", Index: u.index, StartedAt: calls[0].StartedAt, CostUSD: &zero,
		ToolCalls: calls, Commits: []agenttrace.Commit{}, PullRequests: []agenttrace.PullRequest{}, Models: []string{}}
	for _, tc := range calls {
		p.LinesAdded += tc.LinesAdded
		p.LinesRemoved += tc.LinesRemoved
		if tc.Status == agenttrace.ToolError {
			p.ErrorCount++
		}
	}
	return p
}

// trees are a prompt's root calls, each with its subagents' calls under it, in start
// order.
func (v *view) trees(pv *promptView) []agenttrace.ToolCall {
	roots := make([]string, 0, len(pv.roots))
	for id := range pv.roots {
		roots = append(roots, id)
	}
	out := []agenttrace.ToolCall{}
	for _, id := range v.sortedCalls(roots) {
		out = append(out, v.tree(id, 0))
	}
	return out
}

// tree is the call with its subagents' calls under it, in start order.
func (v *view) tree(id string, depth int) agenttrace.ToolCall {
	c := v.calls[id].call
	if depth < 64 && len(v.children[id]) > 0 {
		kids := make([]string, 0, len(v.children[id]))
		for k := range v.children[id] {
			kids = append(kids, k)
		}
		for _, ch := range v.sortedCalls(kids) {
			c.Children = append(c.Children, v.tree(ch, depth+1))
		}
	}
	return c
}

func (v *view) sortedCalls(ids []string) []string {
	sort.Slice(ids, func(i, j int) bool {
		a, b := v.calls[ids[i]].call.StartedAt, v.calls[ids[j]].call.StartedAt
		if !a.Equal(b) {
			return a.Before(b)
		}
		return ids[i] < ids[j]
	})
	return ids
}

// countCalls adds the lines and errors of calls and their subagents' calls to p.
func countCalls(p *agenttrace.Prompt, calls []agenttrace.ToolCall) {
	for _, tc := range calls {
		p.LinesAdded += tc.LinesAdded
		p.LinesRemoved += tc.LinesRemoved
		if tc.Status == agenttrace.ToolError {
			p.ErrorCount++
		}
		countCalls(p, tc.Children)
	}
}

// placeGit lists the commits and PRs, oldest first, each under the prompt it belongs
// to, when any may have changed or moved: the prompts listing one that did are rebuilt,
// and the store is told which.
func (v *view) placeGit(f *fold) {
	if len(f.commits) == 0 && len(f.prs) == 0 && len(f.otel.commits) == 0 || !v.gitMayMove(f) {
		return
	}
	g := v.gitOutcomes(f)
	var moved []string
	for k, pid := range g.place {
		if old, ok := v.gitPrompt[k]; !ok || old != pid || f.changed.gitKeys[k] || v.full {
			moved = append(moved, k)
		}
	}
	if len(moved) == 0 {
		return
	}
	for _, k := range moved {
		for _, pid := range []string{v.gitPrompt[k], g.place[k]} {
			if pv, ok := v.prompts[pid]; ok {
				v.dirty[pv] = true
			}
		}
		if c, ok := g.commits[k]; ok {
			v.delta.commits[c.SHA] = c
		} else {
			v.delta.prs[k] = g.prs[k]
		}
	}
	v.listGit(g)
}

// listGit files the commits and PRs under their prompts.
func (v *view) listGit(g gitPlaces) {
	for _, pid := range v.gitPrompt {
		if pv, ok := v.prompts[pid]; ok {
			pv.git.commits, pv.git.prs = nil, nil
		}
	}
	for _, c := range g.commitList {
		if pv, ok := v.prompts[c.PromptID]; ok {
			pv.git.commits = append(pv.git.commits, c)
		}
	}
	for _, p := range g.prList {
		if pv, ok := v.prompts[p.PromptID]; ok {
			pv.git.prs = append(pv.git.prs, p)
		}
	}
	v.commits, v.prs, v.gitPrompt = g.commitList, g.prList, g.place
}

// gitPlaces is the commits and PRs, oldest first, and by key (commitKey, prKey), with
// the prompt each is placed under.
type gitPlaces struct {
	commitList []agenttrace.Commit
	prList     []agenttrace.PullRequest
	commits    map[string]agenttrace.Commit
	prs        map[string]agenttrace.PullRequest
	place      map[string]string
}

// gitOutcomes places each commit and PR under its prompt: its own, else that of the
// call that made it, else the one running at its time.
func (v *view) gitOutcomes(f *fold) gitPlaces {
	n := len(f.commits) + len(f.otel.commits) + len(f.prs)
	g := gitPlaces{commitList: []agenttrace.Commit{}, prList: []agenttrace.PullRequest{},
		commits: make(map[string]agenttrace.Commit, len(f.commits)),
		prs:     make(map[string]agenttrace.PullRequest, len(f.prs)), place: make(map[string]string, n)}
	v.gitCalls = map[string]bool{}
	for _, p := range f.commitPicks() {
		c := p.v
		if c.PromptID == "" && c.ToolUseID != "" {
			c.PromptID = v.promptOfCall(c.ToolUseID)
			v.gitCalls[c.ToolUseID] = true
		}
		if c.PromptID == "" {
			c.PromptID = v.gitAt(c.CommittedAt)
		}
		g.commitList = append(g.commitList, c)
		g.commits[commitKey(c.SHA)], g.place[commitKey(c.SHA)] = c, c.PromptID
	}
	SortCommits(g.commitList)
	for key, acc := range f.prs {
		p := acc.first.v
		p.URL = acc.url.v
		if p.PromptID == "" && acc.call != "" {
			p.PromptID = v.promptOfCall(acc.call)
			v.gitCalls[acc.call] = true
		}
		if p.PromptID == "" {
			p.PromptID = v.gitAt(p.SeenAt)
		}
		g.prList = append(g.prList, p)
		g.prs[prKey(key)], g.place[prKey(key)] = p, p.PromptID
	}
	SortPullRequests(g.prList)
	return g
}

// SortCommits orders commits as a session lists them: by commit time, then SHA.
func SortCommits(cs []agenttrace.Commit) {
	sort.Slice(cs, func(i, j int) bool {
		if !cs[i].CommittedAt.Equal(cs[j].CommittedAt) {
			return cs[i].CommittedAt.Before(cs[j].CommittedAt)
		}
		return cs[i].SHA < cs[j].SHA
	})
}

// SortPullRequests orders pull requests as a session lists them: by first sighting,
// then forge, repo and number.
func SortPullRequests(ps []agenttrace.PullRequest) {
	sort.Slice(ps, func(i, j int) bool { return prLess(ps[i], ps[j]) })
}

// gitMayMove reports whether a commit or PR may be new, changed or placed elsewhere: one
// was folded, a prompt was added (one placed by time may belong to it), or a call that
// one names was placed again.
func (v *view) gitMayMove(f *fold) bool {
	if v.full || len(f.changed.gitKeys) > 0 || (v.added && !v.firstAdded.After(v.gitTimed)) {
		return true
	}
	for id := range v.redoCalls {
		if v.gitCalls[id] {
			return true
		}
	}
	return false
}

// gitAt is promptAt for a commit or PR: a prompt added later that starts after every
// one placed by time moves none of them.
func (v *view) gitAt(t time.Time) string {
	if t.After(v.gitTimed) {
		v.gitTimed = t
	}
	return v.promptAt(t)
}

func (v *view) promptOfCall(id string) string {
	if c, ok := v.calls[id]; ok {
		return c.prompt
	}
	return ""
}

// commitKey and prKey name a commit and a PR among a session's git outcomes.
func commitKey(sha string) string { return "c\x00" + sha }
func prKey(key string) string     { return "p\x00" + key }

func prLess(a, b agenttrace.PullRequest) bool {
	if !a.SeenAt.Equal(b.SeenAt) {
		return a.SeenAt.Before(b.SeenAt)
	}
	if a.Forge != b.Forge {
		return a.Forge < b.Forge
	}
	if a.Repo != b.Repo {
		return a.Repo < b.Repo
	}
	return a.Number < b.Number
}
