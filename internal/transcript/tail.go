// Package transcript reads Claude Code's session transcripts (JSONL) incrementally and
// turns them into events: one usage event per API response, counted once, and Claude
// Code's own cost-state totals. Import backfills whole transcript trees with the same
// event IDs live capture produces.
package transcript

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// maxBatch is the most events handed to emit at once; progressEvery is how many bytes
// Import reads between progress reports.
const (
	maxBatch      = 500
	progressEvery = 4 << 20
)

// fingerprintLen is how much of a file's head State remembers to notice a rewrite.
const fingerprintLen = 4096

// State is where Tail left off in one file. It is small and JSON-serialisable so the
// deliverer can keep it in its spool database between runs.
type State struct {
	// Offset is the byte offset after the last complete line processed.
	Offset int64 `json:"offset"`
	// HeadLen and HeadHash fingerprint the file's first bytes, so a file rewritten with
	// different content is noticed even when it did not shrink.
	HeadLen  int    `json:"head_len,omitempty"`
	HeadHash string `json:"head_hash,omitempty"`
	// PromptID is the promptId of the nearest user line before Offset.
	PromptID string `json:"prompt_id,omitempty"`
	// LastTime is the latest line timestamp before Offset; cost-state lines carry none.
	LastTime time.Time `json:"last_time,omitzero"`
	// Pending is the trailing API response, whose lines may still be arriving.
	Pending *event.Event `json:"pending,omitempty"`
}

// Options say how to read one file.
type Options struct {
	// SessionID is used when lines carry no sessionId; by default the file name's.
	SessionID string
	// AgentID marks a subagent transcript when lines carry no agentId; by default taken
	// from a file named agent-<id>.jsonl.
	AgentID string
	// Tier is the privacy tier of the events (1 when zero). The assistant text is kept
	// only at tier 3.
	Tier int
	// Final says the file is complete (the session ended, or it is being imported): the
	// trailing response is emitted instead of held back, and a last line lacking its
	// newline is read if it is whole JSON.
	Final bool
}

// Tail reads path from st.Offset to EOF and returns the events found and the state to
// pass next time.
//
// Each API response (message.id + requestId, or message.id alone) becomes one
// event.KindUsage event however many lines repeat it, keeping the line with the largest
// usage. The last response is held in State until a line of another response follows or
// opts.Final is set, so a response is never emitted from part of its lines. A truncated
// last line is left for the next call. A file that shrank or whose head changed is read
// again from the start: event IDs are stable, so receivers store each fact once.
//
// A missing file is not an error: Tail returns no events and st unchanged, because the
// transcript may not have been written yet or may have been cleaned up.
func Tail(path string, st State, opts Options) ([]event.Event, State, error) {
	var out []event.Event
	st, err := tailFile(path, st, opts, nil, func(evs []event.Event) error {
		out = append(out, evs...)
		return nil
	}, nil)
	return out, st, err
}

// hookSink receives tool and prompt facts during Import; nil for Tail.
type hookSink interface {
	userLine(p *parser, l *rawLine, raw []byte, at time.Time) error
	assistantBlocks(p *parser, l *rawLine, bs []block, at time.Time) error
}

// parser holds one file's reading state.
type parser struct {
	path      string
	st        State
	sessionID string // fallback
	agentID   string // fallback
	tier      int
	out       []event.Event
	hooks     hookSink
}

func tailFile(path string, st State, opts Options, hooks hookSink, emit func([]event.Event) error, progress func(int64)) (State, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("open transcript: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return st, fmt.Errorf("stat transcript: %w", err)
	}
	if info.Size() < st.Offset || !sameHead(f, st) || !lineBoundary(f, st.Offset) {
		st = State{}
	}
	if _, err := f.Seek(st.Offset, io.SeekStart); err != nil {
		return st, fmt.Errorf("seek transcript: %w", err)
	}
	p := newParser(path, st, opts, hooks, info.ModTime())
	if err := p.readLines(bufio.NewReaderSize(f, 256<<10), opts.Final, emit, progress); err != nil {
		return p.st, err
	}
	if opts.Final && p.st.Pending != nil {
		p.out = append(p.out, *p.st.Pending)
		p.st.Pending = nil
	}
	if p.st.HeadLen < fingerprintLen && p.st.Offset > int64(p.st.HeadLen) {
		p.st.HeadLen, p.st.HeadHash = fingerprint(f, min(p.st.Offset, fingerprintLen))
	}
	if err := p.flush(emit); err != nil {
		return p.st, err
	}
	if progress != nil {
		progress(p.st.Offset)
	}
	return p.st, nil
}

// newParser starts reading path from st. The caller keeps its State (it may retry with
// it after a failed spool write), so the pending response is copied, never updated in
// place.
func newParser(path string, st State, opts Options, hooks hookSink, modTime time.Time) *parser {
	st.Pending = clonePending(st.Pending)
	p := &parser{path: path, st: st, hooks: hooks, tier: opts.Tier}
	if p.tier == 0 {
		p.tier = event.TierMetadata
	}
	p.sessionID, p.agentID = namesFromPath(path)
	if opts.SessionID != "" {
		p.sessionID = opts.SessionID
	}
	if opts.AgentID != "" {
		p.agentID = opts.AgentID
	}
	if p.st.LastTime.IsZero() {
		// Only a cost-state line before any timestamped line needs this.
		p.st.LastTime = modTime.UTC()
	}
	return p
}

// readLines parses whole lines from r to its end, emitting events in batches of
// maxBatch and reporting progress every progressEvery bytes.
func (p *parser) readLines(r *bufio.Reader, final bool, emit func([]event.Event) error, progress func(int64)) error {
	var long []byte // a line longer than the buffer, being assembled
	reported := p.st.Offset
	for {
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read transcript: %w", err)
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		if errors.Is(err, io.EOF) {
			// A last line without its newline is still being written, unless the file is
			// final and the line is whole.
			if len(line) > 0 && final && json.Valid(line) {
				return p.consume(line)
			}
			return nil
		}
		if err := p.consume(line); err != nil {
			return err
		}
		long = nil
		if len(p.out) >= maxBatch {
			if err := p.flush(emit); err != nil {
				return err
			}
		}
		if progress != nil && p.st.Offset-reported >= progressEvery {
			reported = p.st.Offset
			progress(p.st.Offset)
		}
	}
}

// consume parses one line and moves the offset past it.
func (p *parser) consume(line []byte) error {
	if err := p.line(line); err != nil {
		return err
	}
	p.st.Offset += int64(len(line))
	return nil
}

// flush emits what has been parsed, in batches of at most maxBatch events.
func (p *parser) flush(emit func([]event.Event) error) error {
	for len(p.out) > 0 {
		n := min(len(p.out), maxBatch)
		if err := emit(p.out[:n]); err != nil {
			return err
		}
		p.out = p.out[n:]
	}
	p.out = nil
	return nil
}

func clonePending(e *event.Event) *event.Event {
	if e == nil {
		return nil
	}
	c := *e
	if e.Usage != nil {
		u := *e.Usage
		u.ToolUseIDs = append([]string(nil), e.Usage.ToolUseIDs...)
		c.Usage = &u
	}
	return &c
}

// sameHead reports whether the file still starts with the bytes State fingerprinted.
func sameHead(f *os.File, st State) bool {
	if st.HeadLen == 0 {
		return true
	}
	n, h := fingerprint(f, int64(st.HeadLen))
	return n == st.HeadLen && h == st.HeadHash
}

// lineBoundary reports whether off follows the end of a line, as every saved offset does
// (a newline, or the closing brace of a final line that had none); a file rewritten
// behind a matching head usually fails this.
func lineBoundary(f *os.File, off int64) bool {
	if off == 0 {
		return true
	}
	var b [1]byte
	n, _ := f.ReadAt(b[:], off-1)
	return n == 1 && (b[0] == '\n' || b[0] == '}')
}

func fingerprint(f *os.File, n int64) (int, string) {
	buf := make([]byte, n)
	got, _ := f.ReadAt(buf, 0)
	sum := sha256.Sum256(buf[:got])
	return got, hex.EncodeToString(sum[:8])
}

// namesFromPath derives the session and agent IDs a transcript's location implies:
// <session>.jsonl, and <session>/subagents/agent-<id>.jsonl.
func namesFromPath(path string) (sessionID, agentID string) {
	base := strings.TrimSuffix(filepath.Base(path), ".jsonl")
	if strings.HasPrefix(base, "agent-") {
		agentID = strings.TrimPrefix(base, "agent-")
		dir := filepath.Dir(path)
		if filepath.Base(dir) == "subagents" {
			sessionID = filepath.Base(filepath.Dir(dir))
		}
		return sessionID, agentID
	}
	return base, ""
}

// line processes one complete line (with or without its newline).
func (p *parser) line(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || !mayMatter(b) {
		return nil
	}
	var l rawLine
	if json.Unmarshal(b, &l) != nil {
		// One unreadable line (a format change, a torn write) must not stop the rest.
		return nil
	}
	at := parseTime(l.Timestamp)
	if !at.IsZero() {
		p.st.LastTime = at
	} else {
		at = p.st.LastTime
	}
	switch l.Type {
	case "user":
		if l.PromptID != "" {
			p.st.PromptID = l.PromptID
		}
		if p.hooks != nil {
			return p.hooks.userLine(p, &l, b, at)
		}
	case "assistant":
		return p.assistant(&l, at)
	case "cost-state":
		p.costState(&l, b)
	}
	return nil
}

func (p *parser) session(l *rawLine) string {
	if l.SessionID != "" {
		return l.SessionID
	}
	return p.sessionID
}

func (p *parser) agent(l *rawLine) string {
	if l.AgentID != "" {
		return l.AgentID
	}
	return p.agentID
}

func (p *parser) assistant(l *rawLine, at time.Time) error {
	m := l.Message
	if m == nil {
		return nil
	}
	var bs []block
	if p.hooks != nil || p.tier >= event.TierFull || bytes.Contains(m.Content, []byte(`"tool_use"`)) {
		bs = blocks(m.Content)
	}
	if p.hooks != nil {
		if err := p.hooks.assistantBlocks(p, l, bs, at); err != nil {
			return err
		}
	}
	if m.ID == "" || m.Usage == nil || m.Model == "<synthetic>" || l.IsAPIErrorMessage {
		return nil
	}
	pend := p.st.Pending
	if pend != nil && (pend.Usage.MessageID != m.ID || pend.Usage.RequestID != l.RequestID) {
		// A line of another response: the pending one is complete.
		p.out = append(p.out, *pend)
		pend = nil
	}
	if pend == nil {
		sid := p.session(l)
		pend = &event.Event{
			ID:        event.ID(event.KindUsage, sid, m.ID, l.RequestID),
			Kind:      event.KindUsage,
			SessionID: sid,
			Time:      at,
			Tier:      p.tier,
			PromptID:  p.st.PromptID,
			AgentID:   p.agent(l),
			Usage:     &event.Usage{MessageID: m.ID, RequestID: l.RequestID, Model: m.Model, Sidechain: l.IsSidechain},
		}
		setUsage(pend.Usage, m.Usage)
		p.st.Pending = pend
	} else if m.Usage.total() > pend.Usage.Total() {
		setUsage(pend.Usage, m.Usage)
	}
	u := pend.Usage
	if m.StopReason != "" {
		u.StopReason = m.StopReason
	}
	if u.Model == "" {
		u.Model = m.Model
	}
	for _, b := range bs {
		switch {
		case b.Type == "tool_use" && b.ID != "":
			u.ToolUseIDs = append(u.ToolUseIDs, b.ID)
		case b.Type == "text" && b.Text != "" && p.tier >= event.TierFull:
			if u.Text != "" {
				u.Text += "\n\n"
			}
			u.Text += b.Text
		}
	}
	return nil
}

func setUsage(dst *event.Usage, u *rawUsage) {
	dst.InputTokens = u.InputTokens
	dst.OutputTokens = u.OutputTokens
	dst.CacheReadInputTokens = u.CacheReadInputTokens
	dst.Speed = u.Speed
	dst.WebSearchRequests = 0
	if u.ServerToolUse != nil {
		dst.WebSearchRequests = u.ServerToolUse.WebSearchRequests
	}
	// Sum the per-lifetime split when present: older versions left
	// cache_creation_input_tokens at 0 when only the split was reported.
	if c := u.CacheCreation; c != nil && c.Ephemeral5m+c.Ephemeral1h > 0 {
		dst.CacheCreation5mTokens = c.Ephemeral5m
		dst.CacheCreation1hTokens = c.Ephemeral1h
		dst.CacheCreationInputTokens = c.Ephemeral5m + c.Ephemeral1h
	} else {
		dst.CacheCreation5mTokens = u.CacheCreationInputTokens
		dst.CacheCreation1hTokens = 0
		dst.CacheCreationInputTokens = u.CacheCreationInputTokens
	}
}

func (p *parser) costState(l *rawLine, raw []byte) {
	sid := p.session(l)
	sum := sha256.Sum256(raw)
	cs := &event.CostState{
		TotalCostUSD: l.TotalCostUSD,
		LinesAdded:   l.TotalLinesAdded,
		LinesRemoved: l.TotalLinesRemoved,
	}
	if len(l.ModelUsage) > 0 {
		cs.ModelUsage = make(map[string]event.ModelUsage, len(l.ModelUsage))
		for model, mu := range l.ModelUsage {
			cs.ModelUsage[model] = event.ModelUsage{
				InputTokens:              mu.InputTokens,
				OutputTokens:             mu.OutputTokens,
				CacheCreationInputTokens: mu.CacheCreationInputTokens,
				CacheReadInputTokens:     mu.CacheReadInputTokens,
				CostUSD:                  mu.CostUSD,
				CacheCreation5mTokens:    mu.CacheCreationEphemeral5mInputTokens,
				CacheCreation1hTokens:    mu.CacheCreationEphemeral1hInputTokens,
				WebSearchRequests:        mu.WebSearchRequests,
			}
		}
	}
	p.out = append(p.out, event.Event{
		ID:        event.ID(event.KindCostState, sid, hex.EncodeToString(sum[:])),
		Kind:      event.KindCostState,
		SessionID: sid,
		Time:      p.st.LastTime,
		Tier:      p.tier,
		PromptID:  p.st.PromptID,
		AgentID:   p.agent(l),
		CostState: cs,
	})
}
