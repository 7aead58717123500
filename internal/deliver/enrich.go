package deliver

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/privacy"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/readstate"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// State keys in the spool. Bash PreToolUse heads wait under pre: until their PostToolUse
// arrives (possibly in a later round, after the PreToolUse itself was delivered).
const (
	statePre        = "pre:"                     // + tool_use_id: headRecord at PreToolUse
	stateHead       = "head:"                    // + session_id: the last headRecord seen
	stateGitRetry   = "gitretry:"                // + tool_use_id: failed attempts at reading its outcomes
	stateTranscript = readstate.TranscriptPrefix // + path: the transcript reader's position
	stateOpen       = readstate.OpenPrefix       // + path: a transcript not yet read as final (openRecord)
)

// scanLimit bounds the events one round scans for enrichment.
const scanLimit = 2000

var errScanLimit = errors.New("scan limit reached")

// gitRetries bounds how often a transient git error postpones a call's outcomes.
const gitRetries = 3

// headRecord is a git state and when the hook saw it.
type headRecord struct {
	Git  event.GitState `json:"git"`
	Time time.Time      `json:"time"`
}

// openRecord remembers whose transcript a path is, so it can be read as final once it
// has been quiet for QuietFinal even if its session never sends another hook event.
type openRecord struct {
	SessionID string `json:"session_id"`
	Tier      int    `json:"tier"`
	User      string `json:"user,omitempty"`
	Host      string `json:"host,omitempty"`
}

// plan is what one round must enrich, read from the spool under its lock so the slow
// part (reading transcripts and git objects) runs without it.
type plan struct {
	last  uint64            // the scan covered keys up to here
	hooks []event.Event     // hook events with a transcript or a git state, in capture order
	state map[string][]byte // state records those events need
	open  map[string][]byte // open transcripts (stateOpen records)
}

func (d *deliverer) planEnrichment(s *spool.Spool, after uint64) (plan, error) {
	p := plan{last: after, state: map[string][]byte{}}
	scanned := 0
	last, err := s.Scan(after, func(it spool.Item) error {
		scanned++
		e := it.Event
		if e.Kind == event.KindHook {
			hasGit := d.opts.Outcomes != nil && e.Git != nil && e.Git.Head != ""
			hasTranscript := d.opts.Tail != nil && len(transcriptPaths(e)) > 0
			if hasGit || hasTranscript {
				p.hooks = append(p.hooks, e)
			}
		}
		// A big backlog (an import, a long outage) is enriched a slice per round, so
		// the spool is never held long enough to push hooks into the inbox.
		if scanned >= scanLimit {
			return errScanLimit
		}
		return nil
	})
	if err != nil && !errors.Is(err, errScanLimit) {
		return p, err
	}
	p.last = last
	for _, e := range p.hooks {
		keys := []string{stateHead + e.SessionID}
		if e.ToolUseID != "" {
			keys = append(keys, statePre+e.ToolUseID, stateGitRetry+e.ToolUseID)
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
	if d.opts.Tail != nil {
		if p.open, err = s.StatePrefix(stateOpen); err != nil {
			return p, err
		}
		for k := range p.open {
			path := k[len(stateOpen):]
			if _, ok := p.state[stateTranscript+path]; !ok {
				v, err := s.State(stateTranscript + path)
				if err != nil {
					return p, err
				}
				p.state[stateTranscript+path] = v
			}
		}
	}
	return p, nil
}

// transcriptPaths lists the transcripts a hook event points at: the session's own, its
// subagents' (<session>/subagents/agent-*.jsonl) and a SubagentStop's
// agent_transcript_path.
func transcriptPaths(e event.Event) []string {
	main, agent := payloadPaths(e)
	var out []string
	seen := map[string]bool{}
	add := func(path string) {
		if path != "" && filepath.IsAbs(path) && !seen[path] {
			seen[path] = true
			out = append(out, path)
		}
	}
	if main != "" {
		for _, f := range transcript.Files(main) {
			add(f)
		}
	}
	add(agent)
	return out
}

func payloadPaths(e event.Event) (main, agent string) {
	if len(e.Payload) == 0 {
		return "", ""
	}
	var p struct {
		TranscriptPath      string `json:"transcript_path"`
		AgentTranscriptPath string `json:"agent_transcript_path"`
	}
	_ = json.Unmarshal(e.Payload, &p)
	return p.TranscriptPath, p.AgentTranscriptPath
}

// errRetryEnrichment postpones a round because git could not be read for now.
var errRetryEnrichment = errors.New("git outcomes temporarily unavailable")

// enrich derives usage, commit and branch events for the planned hook events and saves
// them with the new state and the scan position in one transaction.
func (d *deliverer) enrich(p plan) (int, error) {
	updates := map[string][]byte{}
	var derived []event.Event
	record := func(key string) (headRecord, bool) {
		var r headRecord
		v, ok := updates[key]
		if !ok {
			v = p.state[key]
		}
		if v == nil || json.Unmarshal(v, &r) != nil || r.Git.Head == "" {
			return r, false
		}
		return r, true
	}
	put := func(key string, e event.Event) {
		v, _ := json.Marshal(headRecord{Git: *e.Git, Time: e.Time})
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
					put(statePre+e.ToolUseID, e)
				case "PostToolUse", "PostToolUseFailure":
					before, ok := record(statePre + e.ToolUseID)
					if !ok {
						before, ok = record(stateHead + e.SessionID)
					}
					// A failed call records nothing, even if it moved HEAD.
					moved := before.Git.Head != e.Git.Head || before.Git.Branch != e.Git.Branch
					if ok && e.HookEvent == "PostToolUse" && moved {
						evts, err := d.outcomes(e, before, p.state[stateGitRetry+e.ToolUseID])
						if err != nil {
							return 0, err
						}
						derived = append(derived, evts...)
					}
					updates[statePre+e.ToolUseID] = nil
					updates[stateGitRetry+e.ToolUseID] = nil
				}
			}
			put(stateHead+e.SessionID, e)
		}
	}

	if d.opts.Tail != nil {
		var paths []string
		src := map[string]event.Event{}
		final := map[string]bool{}
		for _, e := range p.hooks {
			_, agent := payloadPaths(e)
			for _, path := range transcriptPaths(e) {
				if _, ok := src[path]; !ok {
					paths = append(paths, path)
				}
				src[path] = e // the newest event names the tier that applies now
				// The session's end closes all its files; a subagent's stop closes its
				// own. Stop does not: transcript lines can lag the hook.
				if e.HookEvent == "SessionEnd" || (e.HookEvent == "SubagentStop" && path == agent) {
					final[path] = true
				}
			}
		}
		// Transcripts of sessions that went quiet without a SessionEnd (killed, closed
		// terminal) are read as final once unchanged for QuietFinal.
		for k, v := range p.open {
			path := k[len(stateOpen):]
			if _, ok := src[path]; ok {
				continue
			}
			var o openRecord
			if json.Unmarshal(v, &o) != nil || !d.quiet(path) {
				continue
			}
			paths = append(paths, path)
			src[path] = event.Event{SessionID: o.SessionID, Tier: o.Tier, User: o.User, Host: o.Host}
			final[path] = true
		}
		for _, path := range paths {
			key := stateTranscript + path
			isFinal := final[path] || d.quiet(path)
			evts, next, err := d.opts.Tail(path, p.state[key], src[path], isFinal)
			if err != nil {
				d.logOnce("read transcript " + path + ": " + err.Error())
			}
			for _, ev := range evts {
				derived = append(derived, fill(ev, src[path]))
			}
			if next != nil {
				updates[key] = next
			}
			if isFinal {
				updates[stateOpen+path] = nil
			} else {
				s := src[path]
				v, _ := json.Marshal(openRecord{SessionID: s.SessionID, Tier: s.Tier, User: s.User, Host: s.Host})
				updates[stateOpen+path] = v
			}
		}
	}

	if len(derived) == 0 && len(updates) == 0 && len(p.hooks) == 0 {
		// Only the scan position moved (or nothing did); record it cheaply.
		return 0, d.advance(p.last)
	}
	raws := make([][]byte, 0, len(derived))
	for i := range derived {
		privacy.RedactEvent(&derived[i])
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

// quiet reports whether a transcript has not changed for QuietFinal (a missing file
// counts as quiet: nothing more will come).
func (d *deliverer) quiet(path string) bool {
	if d.opts.QuietFinal <= 0 {
		return false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	return d.opts.Now().Sub(fi.ModTime()) >= d.opts.QuietFinal
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
// A transient git error postpones the whole round (up to gitRetries times per call, the
// count kept in the spool); a permanent one (repository deleted, objects gone) drops
// the call's outcomes with one log line.
func (d *deliverer) outcomes(post event.Event, before headRecord, retried []byte) ([]event.Event, error) {
	after := *post.Git
	dir := after.Root
	if dir == "" {
		dir = before.Git.Root
	}
	if dir == "" {
		var p struct {
			Cwd string `json:"cwd"`
		}
		_ = json.Unmarshal(post.Payload, &p)
		dir = p.Cwd
	}
	if dir == "" {
		return nil, nil
	}
	commits, branches, err := d.opts.Outcomes(dir, before.Git, after, before.Time, post.Time)
	if err != nil {
		permanent := d.opts.GitErrorPermanent == nil || d.opts.GitErrorPermanent(err)
		var n int
		_ = json.Unmarshal(retried, &n)
		if !permanent && n+1 < gitRetries {
			d.setState(stateGitRetry+post.ToolUseID, n+1)
			return nil, fmt.Errorf("%w: %s in %s: %v", errRetryEnrichment, post.ToolUseID, dir, err)
		}
		d.logOnce("git outcomes of " + post.ToolUseID + " in " + dir + " dropped: " + err.Error())
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
		e := base
		e.ID = event.ID(event.KindBranch, post.SessionID, b.Name, b.Action, after.Head)
		e.Kind = event.KindBranch
		e.Branch = &b
		out = append(out, e)
	}
	return out, nil
}

func (d *deliverer) setState(key string, v any) {
	raw, _ := json.Marshal(v)
	s, err := d.open()
	if err != nil {
		return
	}
	defer s.Close()
	_ = s.SetState(map[string][]byte{key: raw})
}

// fill gives a transcript event the session facts of the hook event that named it, and
// holds it to that event's tier.
func fill(e, src event.Event) event.Event {
	if e.SessionID == "" {
		e.SessionID = src.SessionID
	}
	if e.Tier == 0 || (src.Tier > 0 && e.Tier > src.Tier) {
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
