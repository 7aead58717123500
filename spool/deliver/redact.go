package deliver

import (
	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/hook"
)

// RedactDerived applies the hook's secret redaction to the free text of an event that
// did not come through hook.Build: assistant text read from a transcript (tier 3),
// commit messages and file names, branch names, PR URLs. Secrets are redacted at every
// tier, wherever they come from; the counts join the event's Redactions.
func RedactDerived(e *event.Event) {
	counts := map[string]int{}
	if e.Usage != nil && e.Usage.Text != "" {
		u := *e.Usage
		u.Text = hook.Redact(u.Text, counts)
		e.Usage = &u
	}
	if e.Commit != nil {
		c := *e.Commit
		c.Message = hook.Redact(c.Message, counts)
		c.Repo = hook.Redact(c.Repo, counts)
		if len(c.Files) > 0 {
			files := make([]string, len(c.Files))
			for i, f := range c.Files {
				files[i] = hook.Redact(f, counts)
			}
			c.Files = files
		}
		e.Commit = &c
	}
	if e.Branch != nil {
		b := *e.Branch
		b.Name = hook.Redact(b.Name, counts)
		b.From = hook.Redact(b.From, counts)
		e.Branch = &b
	}
	if e.PullRequest != nil {
		p := *e.PullRequest
		p.URL = hook.Redact(p.URL, counts)
		e.PullRequest = &p
	}
	if len(counts) == 0 {
		return
	}
	merged := make(map[string]int, len(e.Redactions)+len(counts))
	for k, v := range e.Redactions {
		merged[k] = v
	}
	for k, v := range counts {
		merged[k] += v
	}
	e.Redactions = merged
}
