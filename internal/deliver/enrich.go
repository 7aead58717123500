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

// round is one enrichment pass over a plan: the state records it changes and the events
// it derives, saved together in one spool transaction.
type round struct {
	d       *deliverer
	p       plan
	updates map[string][]byte // state key -> new value (nil deletes)
	derived []event.Event
}

// enrich derives usage, commit and branch events for the planned hook events and saves
// them with the new state and the scan position in one transaction.
func (d *deliverer) enrich(p plan) (int, error) {
	r := &round{d: d, p: p, updates: map[string][]byte{}}
	if d.opts.Outcomes != nil {
		if err := r.gitOutcomes(); err != nil {
			return 0, err
		}
	}
	if d.opts.Tail != nil {
		r.transcripts()
	}
	if len(r.derived) == 0 && len(r.updates) == 0 && len(p.hooks) == 0 {
		// Only the scan position moved (or nothing did); record it cheaply.
		return 0, d.advance(p.last)
	}
	return r.save()
}

// record is the HEAD last recorded under key, as this round left it.
func (r *round) record(key string) (headRecord, bool) {
	var rec headRecord
	v, ok := r.updates[key]
	if !ok {
		v = r.p.state[key]
	}
	if v == nil || json.Unmarshal(v, &rec) != nil || rec.Git.Head == "" {
		return rec, false
	}
	return rec, true
}

func (r *round) put(key string, e event.Event) {
	v, _ := json.Marshal(headRecord{Git: *e.Git, Time: e.Time})
	r.updates[key] = v
}

// gitOutcomes compares HEAD before and after each Bash call and derives the commits and
// branch changes a call that moved it made.
func (r *round) gitOutcomes() error {
	for _, e := range r.p.hooks {
		if e.Git == nil || e.Git.Head == "" {
			continue
		}
		if e.ToolName == "Bash" && e.ToolUseID != "" {
			switch e.HookEvent {
			case "PreToolUse":
				r.put(statePre+e.ToolUseID, e)
			case "PostToolUse", "PostToolUseFailure":
				if err := r.bashEnded(e); err != nil {
					return err
				}
			}
		}
		r.put(stateHead+e.SessionID, e)
	}
	return nil
}

func (r *round) bashEnded(e event.Event) error {
	before, ok := r.record(statePre + e.ToolUseID)
	if !ok {
		before, ok = r.record(stateHead + e.SessionID)
	}
	// A failed call records nothing, even if it moved HEAD.
	moved := before.Git.Head != e.Git.Head || before.Git.Branch != e.Git.Branch
	if ok && e.HookEvent == "PostToolUse" && moved {
		evts, err := r.d.outcomes(e, before, r.p.state[stateGitRetry+e.ToolUseID])
		if err != nil {
			return err
		}
		r.derived = append(r.derived, evts...)
	}
	r.updates[statePre+e.ToolUseID] = nil
	r.updates[stateGitRetry+e.ToolUseID] = nil
	return nil
}

// transcripts reads on in every transcript the planned events name, and in those of
// sessions that went quiet, deriving usage and cost-state events.
func (r *round) transcripts() {
	paths, src, final := r.transcriptsNamed()
	// Transcripts of sessions that went quiet without a SessionEnd (killed, closed
	// terminal) are read as final once unchanged for QuietFinal.
	for k, v := range r.p.open {
		path := k[len(stateOpen):]
		if _, ok := src[path]; ok {
			continue
		}
		var o openRecord
		if json.Unmarshal(v, &o) != nil || !r.d.quiet(path) {
			continue
		}
		paths = append(paths, path)
		src[path] = event.Event{SessionID: o.SessionID, Tier: o.Tier, User: o.User, Host: o.Host}
		final[path] = true
	}
	for _, path := range paths {
		r.tail(path, src[path], final[path] || r.d.quiet(path))
	}
}

// transcriptsNamed lists the transcripts the planned hook events name, in first-seen
// order, with the newest event naming each (its tier applies now) and which are final.
func (r *round) transcriptsNamed() (paths []string, src map[string]event.Event, final map[string]bool) {
	src, final = map[string]event.Event{}, map[string]bool{}
	for _, e := range r.p.hooks {
		_, agent := payloadPaths(e)
		for _, path := range transcriptPaths(e) {
			if _, ok := src[path]; !ok {
				paths = append(paths, path)
			}
			src[path] = e
			// The session's end closes all its files; a subagent's stop closes its
			// own. Stop does not: transcript lines can lag the hook.
			if e.HookEvent == "SessionEnd" || (e.HookEvent == "SubagentStop" && path == agent) {
				final[path] = true
			}
		}
	}
	return paths, src, final
}

// tail reads one transcript on from its recorded position.
func (r *round) tail(path string, src event.Event, isFinal bool) {
	key := stateTranscript + path
	evts, next, err := r.d.opts.Tail(path, r.p.state[key], src, isFinal)
	if err != nil {
		r.d.logOnce("read transcript " + path + ": " + err.Error())
	}
	for _, ev := range evts {
		r.derived = append(r.derived, fill(ev, src))
	}
	if next != nil {
		r.updates[key] = next
	}
	if isFinal {
		r.updates[stateOpen+path] = nil
		return
	}
	v, _ := json.Marshal(openRecord{SessionID: src.SessionID, Tier: src.Tier, User: src.User, Host: src.Host})
	r.updates[stateOpen+path] = v
}

// save redacts the derived events and writes them with the state updates and the new
// scan position in one spool transaction.
func (r *round) save() (int, error) {
	raws := make([][]byte, 0, len(r.derived))
	for i := range r.derived {
		privacy.RedactEvent(&r.derived[i])
		raw, err := json.Marshal(&r.derived[i])
		if err != nil {
			r.d.logOnce("encode derived event: " + err.Error())
			continue
		}
		raws = append(raws, raw)
	}
	s, err := r.d.open()
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if _, err := s.AppendRaw(raws, r.updates, func(m *spool.Meta) {
		m.EnrichedKey = max(m.EnrichedKey, r.p.last)
	}); err != nil {
		return 0, err
	}
	r.d.res.Derived += len(raws)
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
