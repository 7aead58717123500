package transcript

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// Tier is the privacy tier of the usage and cost-state events Import builds itself
	// (1 when zero). Hook-shaped events get theirs from Build.
	Tier int
	// Build turns a hook-shaped payload into events, applying the privacy tier and
	// redaction exactly as live capture does (a closure over capture.Build). When nil, Import
	// produces only usage and cost-state events.
	Build func(raw []byte, at time.Time) ([]event.Event, error)
	// Warn, when set, hears about payloads Build rejected; Import skips them and goes on.
	Warn func(path string, err error)
}

// DefaultRoot is where Claude Code keeps transcripts: $CLAUDE_CONFIG_DIR/projects (the
// first directory when it lists several) or ~/.claude/projects.
func DefaultRoot() (string, error) {
	if dir := os.Getenv("CLAUDE_CONFIG_DIR"); dir != "" {
		first, _, _ := strings.Cut(dir, ",")
		return filepath.Join(strings.TrimSpace(first), "projects"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find transcripts: %w", err)
	}
	return filepath.Join(home, ".claude", "projects"), nil
}

// Import backfills every *.jsonl transcript under root (DefaultRoot when empty): usage
// and cost-state events as Tail makes them, plus the prompt and tool hook events live
// capture would have made, with the same IDs, so importing a session that was also
// captured live counts nothing twice. Events go to emit in batches of at most 500;
// progress hears bytes read so far and the total. An emit error stops the import.
//
// Hook events rebuilt from a transcript: UserPromptSubmit once per prompt_id (from the
// typed prompt line), PreToolUse per tool_use block, PostToolUse or PostToolUseFailure
// (is_error) per tool_result, SubagentStart per subagent transcript. Events whose live
// IDs hash the payload (SessionStart, Stop, ...) cannot be rebuilt identically and are
// not produced.
func Import(root string, opts ImportOptions, emit func([]event.Event) error, progress func(doneBytes, totalBytes int64)) error {
	if root == "" {
		var err error
		if root, err = DefaultRoot(); err != nil {
			return err
		}
	}
	type file struct {
		path    string
		size    int64
		session string // the session the file belongs to, by location
		sub     bool   // a subagent transcript
	}
	var files []file
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // an unreadable subdirectory does not stop the rest
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".jsonl") {
			if info, err := d.Info(); err == nil {
				// A session is keyed by its directory: <project>/<session>(.jsonl|/subagents/...).
				session, sub := strings.TrimSuffix(path, ".jsonl"), false
				if _, agent := namesFromPath(path); agent != "" && filepath.Base(filepath.Dir(path)) == "subagents" {
					session, sub = filepath.Dir(filepath.Dir(path)), true
				}
				files = append(files, file{path, info.Size(), session, sub})
				total += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import transcripts: %w", err)
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	var done int64
	progress(0, total)
	// Each session's main transcript before its subagents', so replays can be recognised.
	sort.SliceStable(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.session != b.session {
			return a.session < b.session
		}
		return !a.sub && b.sub
	})
	var (
		session string
		parent  map[string]bool // message IDs of the current session's main-thread responses
	)
	for _, f := range files {
		if f.session != session {
			session, parent = f.session, map[string]bool{}
		}
		var out func([]event.Event) error
		if f.sub {
			out = func(evs []event.Event) error {
				if evs = dropReplays(evs, parent); len(evs) == 0 {
					return nil
				}
				return emit(evs)
			}
		} else {
			out = func(evs []event.Event) error {
				for _, e := range evs {
					if e.Kind == event.KindUsage && !e.Usage.Sidechain {
						parent[e.Usage.MessageID] = true
					}
				}
				return emit(evs)
			}
		}
		sink := &importSink{opts: opts, toolUses: map[string]toolUse{}, seen: map[string]bool{}}
		_, err := tailFile(f.path, State{}, Options{Tier: opts.Tier, Final: true}, sink, out, func(off int64) {
			progress(done+min(off, f.size), total)
		})
		if err != nil {
			return fmt.Errorf("import %s: %w", f.path, err)
		}
		done += f.size
		progress(done, total)
	}
	return nil
}

// dropReplays removes usage that a sidechain transcript (a /btw side question) re-logs
// from the parent conversation: the same message.id under a new requestId, which would
// otherwise count the parent's responses twice (ccusage#913). Sidechain responses of
// their own are kept.
func dropReplays(evs []event.Event, parent map[string]bool) []event.Event {
	kept := evs[:0:0]
	for _, e := range evs {
		if e.Kind == event.KindUsage && e.Usage.Sidechain && parent[e.Usage.MessageID] {
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

type toolUse struct {
	name  string
	input json.RawMessage
}

// importSink rebuilds hook payloads from one transcript file's lines.
type importSink struct {
	opts     ImportOptions
	toolUses map[string]toolUse // tool_use id → what was called, for the result's payload
	seen     map[string]bool    // hook event + key already produced in this file
	started  bool               // SubagentStart produced
}

// hookPayload is the common shape of Claude Code hook stdin (claude-code-interface.md §1.5).
type hookPayload struct {
	SessionID      string          `json:"session_id"`
	TranscriptPath string          `json:"transcript_path,omitempty"`
	Cwd            string          `json:"cwd,omitempty"`
	PromptID       string          `json:"prompt_id,omitempty"`
	PermissionMode string          `json:"permission_mode,omitempty"`
	AgentID        string          `json:"agent_id,omitempty"`
	HookEventName  string          `json:"hook_event_name"`
	Prompt         *string         `json:"prompt,omitempty"`
	ToolName       string          `json:"tool_name,omitempty"`
	ToolInput      json.RawMessage `json:"tool_input,omitempty"`
	ToolResponse   json.RawMessage `json:"tool_response,omitempty"`
	ToolUseID      string          `json:"tool_use_id,omitempty"`
	Error          *string         `json:"error,omitempty"`
	IsInterrupt    *bool           `json:"is_interrupt,omitempty"`
}

func (s *importSink) base(p *parser, l *rawLine, hookEvent string) hookPayload {
	return hookPayload{
		SessionID:      p.session(l),
		TranscriptPath: mainTranscript(p.path),
		Cwd:            l.Cwd,
		PromptID:       p.st.PromptID,
		AgentID:        p.agent(l),
		HookEventName:  hookEvent,
	}
}

// mainTranscript is the transcript_path hooks report: inside a subagent too, the
// session's main transcript, not <session>/subagents/agent-<id>.jsonl.
func mainTranscript(path string) string {
	dir := filepath.Dir(path)
	if filepath.Base(dir) == "subagents" && strings.HasPrefix(filepath.Base(path), "agent-") {
		return filepath.Dir(dir) + ".jsonl"
	}
	return path
}

func (s *importSink) build(p *parser, hp hookPayload, key string, at time.Time) error {
	if s.opts.Build == nil || hp.SessionID == "" {
		return nil
	}
	if s.seen[hp.HookEventName+"\x00"+key] {
		return nil
	}
	s.seen[hp.HookEventName+"\x00"+key] = true
	if at.IsZero() {
		at = p.st.LastTime
	}
	raw, err := json.Marshal(hp)
	if err != nil {
		return fmt.Errorf("encode %s payload: %w", hp.HookEventName, err)
	}
	evs, err := s.opts.Build(raw, at)
	if err != nil {
		if s.opts.Warn != nil {
			s.opts.Warn(p.path, fmt.Errorf("%s %s: %w", hp.HookEventName, key, err))
		}
		return nil
	}
	p.out = append(p.out, evs...)
	return nil
}

func (s *importSink) subagentStart(p *parser, l *rawLine, at time.Time) error {
	if s.started || p.agent(l) == "" {
		return nil
	}
	s.started = true
	hp := s.base(p, l, "SubagentStart")
	return s.build(p, hp, hp.AgentID, at)
}

func (s *importSink) userLine(p *parser, l *rawLine, raw []byte, at time.Time) error {
	if err := s.subagentStart(p, l, at); err != nil {
		return err
	}
	if l.Message == nil {
		return nil
	}
	bs := blocks(l.Message.Content)
	var results []block
	var text []string
	for _, b := range bs {
		switch b.Type {
		case "tool_result":
			results = append(results, b)
		case "text":
			text = append(text, b.Text)
		}
	}
	for _, b := range results {
		if b.ToolUseID == "" {
			continue
		}
		tu := s.toolUses[b.ToolUseID]
		hp := s.base(p, l, "PostToolUse")
		hp.ToolName, hp.ToolInput, hp.ToolUseID = tu.name, tu.input, b.ToolUseID
		if b.IsError {
			hp.HookEventName = "PostToolUseFailure"
			msg := plainText(b.Content)
			interrupted := false
			hp.Error, hp.IsInterrupt = &msg, &interrupted
		} else if len(l.ToolUseResult) > 0 && len(results) == 1 {
			hp.ToolResponse = l.ToolUseResult
		} else {
			// Several results on one line share toolUseResult; each gets its own text.
			resp, _ := json.Marshal(plainText(b.Content))
			hp.ToolResponse = resp
		}
		if err := s.build(p, hp, b.ToolUseID, at); err != nil {
			return err
		}
	}
	// A typed prompt: not a tool result, not Claude Code's own meta lines, not inside a
	// subagent (whose first line is the task it was given, under the parent's prompt).
	if len(results) == 0 && len(text) > 0 && !l.IsMeta && !l.IsCompactSummary && l.PromptID != "" && p.agent(l) == "" {
		prompt := strings.Join(text, "\n")
		hp := s.base(p, l, "UserPromptSubmit")
		hp.PermissionMode = l.PermissionMode
		hp.Prompt = &prompt
		return s.build(p, hp, l.PromptID, at)
	}
	return nil
}

func (s *importSink) assistantBlocks(p *parser, l *rawLine, bs []block, at time.Time) error {
	if err := s.subagentStart(p, l, at); err != nil {
		return err
	}
	for _, b := range bs {
		if b.Type != "tool_use" || b.ID == "" {
			continue
		}
		s.toolUses[b.ID] = toolUse{name: b.Name, input: b.Input}
		hp := s.base(p, l, "PreToolUse")
		hp.ToolName, hp.ToolInput, hp.ToolUseID = b.Name, b.Input, b.ID
		if err := s.build(p, hp, b.ID, at); err != nil {
			return err
		}
	}
	return nil
}
