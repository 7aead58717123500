package deliver

import (
	"encoding/json"
	"path/filepath"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/spool"
	"github.com/agent-trace/agent-trace/transcript"
)

// State keys in the spool. Bash PreToolUse heads wait under pre: until their PostToolUse
// arrives (possibly in a later round, after the PreToolUse itself was delivered).
const (
	statePre        = "pre:"        // + tool_use_id: GitState at PreToolUse
	stateHead       = "head:"       // + session_id: the last GitState seen
	stateTranscript = "transcript:" // + path: the transcript reader's position
)

// plan is what one round must enrich, read from the spool under its lock so the slow
// part (reading transcripts and git objects) runs without it.
type plan struct {
	last  uint64            // the scan covered keys up to here
	hooks []event.Event     // hook events with a transcript or a git state, in capture order
	state map[string][]byte // state records those events need
}

func (d *deliverer) planEnrichment(s *spool.Spool, after uint64) (plan, error) {
	p := plan{last: after, state: map[string][]byte{}}
	last, err := s.Scan(after, func(it spool.Item) error {
		e := it.Event
		if e.Kind != event.KindHook {
			return nil
		}
		hasGit := d.opts.Outcomes != nil && e.Git != nil && e.Git.Head != ""
		hasTranscript := d.opts.Tail != nil && len(transcriptPaths(e)) > 0
		if hasGit || hasTranscript {
			p.hooks = append(p.hooks, e)
		}
		return nil
	})
	if err != nil {
		return p, err
	}
	p.last = last
	for _, e := range p.hooks {
		keys := []string{stateHead + e.SessionID}
		if e.ToolUseID != "" {
			keys = append(keys, statePre+e.ToolUseID)
		}
		if d.opts.Tail != nil {
			for _, path := range transcriptPaths(e) {
				keys = append(keys, stateTranscript+path)
			}
		}
		for _, k := range keys {
			if _, ok := p.state[k]; ok {
				continue
			}
			v, err := s.State(k)
			if err != nil {
				return p, err
			}
			p.state[k] = v
		}
	}
	return p, nil
}

// transcriptPaths lists the transcripts a hook event points at: the session's own, its
// subagents' (<session>/subagents/*.jsonl) and a SubagentStop's agent_transcript_path.
func transcriptPaths(e event.Event) []string {
	if len(e.Payload) == 0 {
		return nil
	}
	var p struct {
		TranscriptPath      string `json:"transcript_path"`
		AgentTranscriptPath string `json:"agent_transcript_path"`
	}
	if json.Unmarshal(e.Payload, &p) != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(path string) {
		if path != "" && filepath.IsAbs(path) && !seen[path] {
			seen[path] = true
			out = append(out, path)
		}
	}
	if p.TranscriptPath != "" {
		for _, f := range transcript.Files(p.TranscriptPath) {
			add(f)
		}
	}
	add(p.AgentTranscriptPath)
	return out
}

// enrich derives usage, commit and branch events for the planned hook events and saves
// them with the new state and the scan position in one transaction.
func (d *deliverer) enrich(p plan) (int, error) {
	updates := map[string][]byte{}
	var derived []event.Event
	gitState := func(key string) (event.GitState, bool) {
		var g event.GitState
		v, ok := updates[key]
		if !ok {
			v = p.state[key]
		}
		if v == nil || json.Unmarshal(v, &g) != nil || g.Head == "" {
			return g, false
		}
		return g, true
	}
	put := func(key string, g event.GitState) {
		v, _ := json.Marshal(g)
		updates[key] = v
	}

	if d.opts.Outcomes != nil {
		for _, e := range p.hooks {
			if e.Git == nil || e.Git.Head == "" {
				continue
			}
			if e.ToolName == "Bash" && e.ToolUseID != "" {
				switch e.HookEvent {
				case "PreToolUse":
					put(statePre+e.ToolUseID, *e.Git)
				case "PostToolUse", "PostToolUseFailure":
					before, ok := gitState(statePre + e.ToolUseID)
					if !ok {
						before, ok = gitState(stateHead + e.SessionID)
					}
					updates[statePre+e.ToolUseID] = nil
					// A failed call records nothing, even if it moved HEAD.
					if ok && e.HookEvent == "PostToolUse" && before.Head != e.Git.Head {
						derived = append(derived, d.outcomes(e, before)...)
					}
				}
			}
			put(stateHead+e.SessionID, *e.Git)
		}
	}

	if d.opts.Tail != nil {
		var paths []string
		src := map[string]event.Event{}
		for _, e := range p.hooks {
			for _, path := range transcriptPaths(e) {
				if _, ok := src[path]; !ok {
					paths = append(paths, path)
				}
				src[path] = e // the newest event names the tier that applies now
			}
		}
		for _, path := range paths {
			key := stateTranscript + path
			evts, next, err := d.opts.Tail(path, p.state[key], src[path])
			if err != nil {
				d.logOnce("read transcript " + path + ": " + err.Error())
			}
			for _, ev := range evts {
				derived = append(derived, fill(ev, src[path]))
			}
			if next != nil {
				updates[key] = next
			}
		}
	}

	if len(derived) == 0 && len(updates) == 0 && len(p.hooks) == 0 {
		// Only the scan position moved (or nothing did); record it cheaply.
		return 0, d.advance(p.last)
	}
	raws := make([][]byte, 0, len(derived))
	for i := range derived {
		raw, err := json.Marshal(&derived[i])
		if err != nil {
			d.logOnce("encode derived event: " + err.Error())
			continue
		}
		raws = append(raws, raw)
	}
	s, err := d.open()
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if _, err := s.AppendRaw(raws, updates, func(m *spool.Meta) {
		m.EnrichedKey = max(m.EnrichedKey, p.last)
	}); err != nil {
		return 0, err
	}
	d.res.Derived += len(raws)
	return len(raws), nil
}

func (d *deliverer) advance(last uint64) error {
	s, err := d.open()
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := s.Meta()
	if err != nil || m.EnrichedKey >= last {
		return err
	}
	return s.UpdateMeta(func(m *spool.Meta) { m.EnrichedKey = max(m.EnrichedKey, last) })
}

// outcomes asks git what a successful Bash call changed between before and post.Git.
func (d *deliverer) outcomes(post event.Event, before event.GitState) []event.Event {
	after := *post.Git
	dir := after.Root
	if dir == "" {
		dir = before.Root
	}
	if dir == "" {
		var p struct {
			Cwd string `json:"cwd"`
		}
		_ = json.Unmarshal(post.Payload, &p)
		dir = p.Cwd
	}
	if dir == "" {
		return nil
	}
	commits, branches, err := d.opts.Outcomes(dir, before, after)
	if err != nil {
		d.logOnce("git outcomes in " + dir + ": " + err.Error())
	}
	var out []event.Event
	base := event.Event{
		SessionID: post.SessionID,
		Time:      post.Time,
		Tier:      post.Tier,
		PromptID:  post.PromptID,
		ToolUseID: post.ToolUseID,
		ToolName:  post.ToolName,
		AgentID:   post.AgentID,
		User:      post.User,
		Host:      post.Host,
		Git:       &after,
	}
	for _, c := range commits {
		c := c
		if c.Repo == "" {
			c.Repo = after.Remote
		}
		if post.Tier < event.TierDetails {
			c.Message, c.Files = "", nil
		}
		e := base
		e.ID = event.ID(event.KindCommit, post.SessionID, c.SHA)
		e.Kind = event.KindCommit
		if !c.CommittedAt.IsZero() {
			e.Time = c.CommittedAt
		}
		e.Commit = &c
		out = append(out, e)
	}
	for _, b := range branches {
		b := b
		e := base
		e.ID = event.ID(event.KindBranch, post.SessionID, b.Name, b.Action, after.Head)
		e.Kind = event.KindBranch
		e.Branch = &b
		out = append(out, e)
	}
	return out
}

// fill gives a transcript event the session facts of the hook event that named it, and
// holds it to that event's tier.
func fill(e, src event.Event) event.Event {
	if e.SessionID == "" {
		e.SessionID = src.SessionID
	}
	if e.Tier == 0 || e.Tier > src.Tier {
		e.Tier = src.Tier
	}
	if e.User == "" {
		e.User = src.User
	}
	if e.Host == "" {
		e.Host = src.Host
	}
	if e.Usage != nil && e.Tier < event.TierFull && e.Usage.Text != "" {
		u := *e.Usage
		u.Text = ""
		e.Usage = &u
	}
	return e
}
