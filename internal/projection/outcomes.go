package projection

import (
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
	f.changed.gitKeys[commitKey(c.SHA)] = true
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
	f.changed.gitKeys[prKey(key)] = true
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
