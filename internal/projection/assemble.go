package projection

import (
	"sort"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// assemblePrompts lists the prompts in submission order, each with its call trees,
// commits and PRs. Calls that fit no prompt (tool events before any prompt) still count
// for the session; they appear under a synthetic prompt so none is lost from the page.
func (v *view) assemblePrompts() {
	for idx, pv := range v.ordered {
		pv.fillPrompt(idx)
	}
	var unattached []agenttrace.ToolCall
	children := v.children()
	var roots []string
	for _, id := range v.callOrder {
		if v.calls[id].parentID == "" {
			roots = append(roots, id)
		}
	}
	for _, id := range v.sortedCalls(roots) {
		tc := v.tree(id, children, 0)
		if pv, ok := v.prompts[v.promptOfCall[id]]; ok {
			pv.p.ToolCalls = append(pv.p.ToolCalls, tc)
		} else {
			unattached = append(unattached, tc)
		}
	}
	for _, c := range v.s.Commits {
		if pv, ok := v.prompts[c.PromptID]; ok {
			pv.p.Commits = append(pv.p.Commits, c)
		}
	}
	for _, p := range v.s.PullRequests {
		if pv, ok := v.prompts[p.PromptID]; ok {
			pv.p.PullRequests = append(pv.p.PullRequests, p)
		}
	}
	for _, pv := range v.ordered {
		p := pv.p
		countCalls(&p, p.ToolCalls)
		v.s.Prompts = append(v.s.Prompts, p)
	}
	if len(unattached) > 0 {
		zero := 0.0
		p := agenttrace.Prompt{ID: "", Index: len(v.s.Prompts), StartedAt: unattached[0].StartedAt, CostUSD: &zero,
			ToolCalls: unattached, Commits: []agenttrace.Commit{}, PullRequests: []agenttrace.PullRequest{}, Models: []string{}}
		for _, tc := range unattached {
			p.LinesAdded += tc.LinesAdded
			p.LinesRemoved += tc.LinesRemoved
			if tc.Status == agenttrace.ToolError {
				p.ErrorCount++
			}
		}
		v.s.Prompts = append(v.s.Prompts, p)
	}
}

// fillPrompt sets what the prompt's own events and usage say, and empty lists to fill.
func (pv *promptView) fillPrompt(idx int) {
	p := &pv.p
	p.Index = idx
	p.StartedAt = pv.start
	if pv.last.After(p.StartedAt) {
		p.DurationMS = pv.last.Sub(p.StartedAt).Milliseconds()
	}
	p.Usage = pv.usage
	if !pv.unpriced {
		c := round9(pv.cost)
		p.CostUSD = &c
	}
	p.Models = append([]string{}, pv.models...)
	p.ToolCalls = []agenttrace.ToolCall{}
	p.Commits = []agenttrace.Commit{}
	p.PullRequests = []agenttrace.PullRequest{}
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

func (v *view) children() map[string][]string {
	children := map[string][]string{}
	for _, id := range v.callOrder {
		if p := v.calls[id].parentID; p != "" {
			children[p] = append(children[p], id)
		}
	}
	return children
}

// tree is the call with its subagents' calls under it, in start order.
func (v *view) tree(id string, children map[string][]string, depth int) agenttrace.ToolCall {
	c := v.calls[id].call
	if depth < 64 {
		for _, ch := range v.sortedCalls(children[id]) {
			c.Children = append(c.Children, v.tree(ch, children, depth+1))
		}
	}
	return c
}

func (v *view) sortedCalls(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Slice(out, func(i, j int) bool {
		a, b := v.calls[out[i]].call.StartedAt, v.calls[out[j]].call.StartedAt
		if !a.Equal(b) {
			return a.Before(b)
		}
		return out[i] < out[j]
	})
	return out
}

// totals are the session's counts over every call.
//
// Session lines come from edit diffs only. A commit's lines are the same lines the edits
// made, so adding them again would double count.
//
// Compared with Claude Code 2.1.332's own cost-state totalLinesAdded/Removed on the
// fixtures (TestProjectLinesAgainstClaudeCode): both count Edit diffs alike and both
// ignore edits made through Bash (secrets fixture: its bashEditDiff adds 2 lines, both
// say 0). They differ on a Write that creates a file: Claude Code counts
// strings.Split(content, "\n"), one line more than the file has when it ends in a
// newline (commit fixture: Claude Code +4 -1, we +3 -1, as git's commit stats and the
// hook's counts say). The rule that matches Claude Code exactly is ours plus one line per
// created file whose content ends in a newline; we keep git's count.
func (v *view) totals() {
	s := v.s
	for _, id := range v.callOrder {
		c := v.calls[id].call
		s.ToolCallCount++
		s.LinesAdded += c.LinesAdded
		s.LinesRemoved += c.LinesRemoved
		if c.Status == agenttrace.ToolError {
			s.ErrorCount++
		}
	}
	s.PromptCount = len(v.ordered)
	if len(v.ordered) > 0 {
		s.FirstPrompt = s.Prompts[0].Text
	}
}
