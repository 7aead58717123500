package projection

import (
	"sort"
	"strconv"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// onCommit keeps each SHA's first sighting in canonical order.
func (f *fold) onCommit(e *event.Event) {
	c := e.Commit
	if c == nil || c.SHA == "" {
		return
	}
	cm := agenttrace.Commit{
		SHA: c.SHA, SessionID: e.SessionID, PromptID: e.PromptID, ToolUseID: e.ToolUseID,
		Branch: c.Branch, Repo: c.Repo, CommittedAt: c.CommittedAt.UTC(),
		FilesChanged: c.FilesChanged, LinesAdded: c.LinesAdded, LinesRemoved: c.LinesRemoved,
		User: e.User,
	}
	if e.Tier >= event.TierDetails {
		cm.Message = c.Message
		cm.Files = append([]string(nil), c.Files...)
	}
	if cm.Repo == "" && e.Git != nil {
		cm.Repo = e.Git.Remote
	}
	if cm.CommittedAt.IsZero() {
		cm.CommittedAt = e.Time
	}
	p := f.commits[c.SHA]
	if p == nil {
		p = &pick[agenttrace.Commit]{}
		f.commits[c.SHA] = p
	}
	p.earliest(orderOf(e), cm)
}

// prAcc is one pull request: its first sighting, and the first URL a tier 2 event gave.
type prAcc struct {
	first pick[agenttrace.PullRequest]
	call  string // the tool call of the first sighting, to find its prompt when it has none
	url   pick[string]
}

func (f *fold) onPullRequest(e *event.Event) {
	p := e.PullRequest
	if p == nil {
		return
	}
	repo := p.Repo
	if p.Owner != "" {
		repo = p.Owner + "/" + p.Repo
	}
	key := p.Forge + "\x00" + repo + "\x00" + strconv.Itoa(p.Number)
	acc := f.prs[key]
	if acc == nil {
		acc = &prAcc{}
		f.prs[key] = acc
	}
	at := orderOf(e)
	if e.Tier >= event.TierDetails && p.URL != "" {
		acc.url.earliest(at, p.URL)
	}
	if acc.first.ok && !at.before(acc.first.at) {
		return
	}
	acc.first.earliest(at, agenttrace.PullRequest{Forge: p.Forge, Repo: repo, Number: p.Number,
		SessionID: e.SessionID, PromptID: e.PromptID, SeenAt: e.Time, User: e.User})
	acc.call = ""
	if e.PromptID == "" {
		acc.call = e.ToolUseID
	}
}

// gitOutcomes is the commits and PRs, oldest first, each with the prompt it belongs to.
func (v *view) gitOutcomes() {
	commits := make([]agenttrace.Commit, 0, len(v.f.commits))
	for _, p := range v.f.commits {
		c := p.v
		if c.PromptID == "" && c.ToolUseID != "" {
			c.PromptID = v.promptOfCall[c.ToolUseID]
		}
		if c.PromptID == "" {
			c.PromptID = v.promptAt(c.CommittedAt)
		}
		commits = append(commits, c)
	}
	sort.Slice(commits, func(i, j int) bool {
		if !commits[i].CommittedAt.Equal(commits[j].CommittedAt) {
			return commits[i].CommittedAt.Before(commits[j].CommittedAt)
		}
		return commits[i].SHA < commits[j].SHA
	})
	prs := make([]agenttrace.PullRequest, 0, len(v.f.prs))
	for _, acc := range v.f.prs {
		p := acc.first.v
		p.URL = acc.url.v
		if p.PromptID == "" && acc.call != "" {
			p.PromptID = v.promptOfCall[acc.call]
		}
		if p.PromptID == "" {
			p.PromptID = v.promptAt(p.SeenAt)
		}
		prs = append(prs, p)
	}
	sort.Slice(prs, func(i, j int) bool { return prLess(prs[i], prs[j]) })
	v.s.Commits, v.s.PullRequests = commits, prs
	v.s.CommitCount, v.s.PRCount = len(commits), len(prs)
}

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
