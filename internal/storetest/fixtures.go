package storetest

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/capture"
	"github.com/agent-trace/agent-trace/internal/privacy"
	"github.com/agent-trace/agent-trace/internal/projection"
)

//go:embed testdata/claude-code-2.1.332
var fixtureFS embed.FS

const fixtureRoot = "testdata/claude-code-2.1.332"

// Fixture is one recorded Claude Code 2.1.332 session turned into the events the hook and
// its deliverer would send: hook events made by capture.Build (tier 3, secrets redacted),
// derived events passed through privacy.RedactEvent.
type Fixture struct {
	Name      string
	SessionID string
	// Events: one hook event per hooks/NNN.json (1 ms apart, in file order, tier 3), one
	// usage event per API response in the transcripts, cost_state events, and commit and
	// pull_request events for what the tool responses report.
	Events []event.Event
	// Hooks are the raw payloads as Claude Code wrote them, in order: unredacted (the
	// secrets fixture holds FixtureSecrets), for checking IDs only; never store them.
	Hooks []json.RawMessage
	// CostState is Claude Code's own final totals (the last cost-state line).
	CostState event.CostState
}

// FixtureUser and FixtureHost are the user and host set on fixture events.
const (
	FixtureUser   = "dev"
	FixtureHost   = "devbox"
	FixtureRepo   = "github.com/example/demo"
	fixtureBranch = "main"
	// FixtureSHA is the commit the recorded session that writes hello.py made.
	FixtureSHA = "f5e602fdd2e3d5c1c29443f5720013abab03a405"
)

// Fixtures loads every recorded session. It panics on a broken embedded fixture, which is
// a bug in this package, not in the caller.
func Fixtures() []Fixture {
	dirs, err := fs.ReadDir(fixtureFS, fixtureRoot)
	if err != nil {
		panic(err)
	}
	var out []Fixture
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		f, err := loadFixture(d.Name())
		if err != nil {
			panic(fmt.Sprintf("fixture %s: %v", d.Name(), err))
		}
		out = append(out, f)
	}
	return out
}

// TestPricer prices claude-opus-5-5 as Claude Code 2.1.332 does (USD per million tokens:
// input 4, output 20, cache write 5 m 5, 1 h 8, cache read 0.20) and nothing else.
type TestPricer struct{}

// Cost implements agenttrace.Pricer.
func (TestPricer) Cost(model string, u agenttrace.Usage) (float64, bool) {
	if model != "claude-opus-5-5" {
		return 0, false
	}
	unsplit := u.CacheCreationInputTokens - u.CacheCreation5mTokens - u.CacheCreation1hTokens
	if unsplit < 0 {
		unsplit = 0
	}
	micro := float64(u.InputTokens)*4 + float64(u.OutputTokens)*20 +
		float64(u.CacheCreation5mTokens+unsplit)*5 + float64(u.CacheCreation1hTokens)*8 +
		float64(u.CacheReadInputTokens)*0.20
	return micro / 1e6, true
}

// CostOfResponse implements agenttrace.ResponsePricer: Cost plus, as illustrative test rates,
// $10 per 1,000 web searches and fast mode at 6× the whole request.
func (p TestPricer) CostOfResponse(u *event.Usage) (float64, bool) {
	usd, ok := p.Cost(u.Model, projection.ToUsage(u))
	if !ok {
		return 0, false
	}
	if u.Speed == "fast" {
		usd *= 6
	}
	return usd + float64(u.WebSearchRequests)*0.01, true
}

var _ agenttrace.ResponsePricer = TestPricer{}

// fixtureLoader gathers one fixture's events: cost states while reading transcripts,
// then hook events and what the deliverer derives from them, then one usage event per
// API response (in the order the responses first appear).
type fixtureLoader struct {
	fsys       fs.FS
	f          Fixture
	dir        string
	shift      time.Duration
	shas       map[string]string // full SHA to message, from git-log.txt
	usage      map[string]*event.Event
	usageOrder []string
	realStart  time.Time // the earliest transcript timestamp, before shifting
}

func loadFixture(name string) (Fixture, error) {
	return LoadFixture(fixtureFS, path.Join(fixtureRoot, name))
}

// LoadFixture loads a recorded session laid out like the embedded ones (hooks/NNN.json,
// transcripts/ or transcript/ with subagents/, git-log.txt) from dir in fsys, so other
// packages can turn their own recordings into events the same way.
func LoadFixture(fsys fs.FS, dir string) (Fixture, error) {
	name := path.Base(dir)
	l := &fixtureLoader{fsys: fsys, f: Fixture{Name: name}, dir: dir, shift: dayShift(name),
		usage: map[string]*event.Event{}}
	var err error
	if l.shas, err = readGitLog(fsys, path.Join(l.dir, "git-log.txt")); err != nil {
		return l.f, err
	}
	if err := l.readTranscripts(); err != nil {
		return l.f, err
	}
	if err := l.readHooks(); err != nil {
		return l.f, err
	}
	for _, k := range l.usageOrder {
		e := *l.usage[k]
		e.Time = e.Time.Add(l.shift)
		l.f.Events = append(l.f.Events, redacted(e))
	}
	return l.f, nil
}

// readTranscripts reads the session's transcripts (the main one is named after the
// session) in name order.
func (l *fixtureLoader) readTranscripts() error {
	var transcripts []string
	root := path.Join(l.dir, "transcripts")
	if _, err := fs.Stat(l.fsys, root); err != nil {
		root = path.Join(l.dir, "transcript") // the OTel recordings' layout
	}
	err := fs.WalkDir(l.fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			transcripts = append(transcripts, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(transcripts)
	for _, tp := range transcripts {
		if !strings.Contains(tp, "/subagents/") {
			l.f.SessionID = strings.TrimSuffix(path.Base(tp), ".jsonl")
		}
	}
	for _, tp := range transcripts {
		evs, costs, first, err := readTranscript(l.fsys, tp, l.f.SessionID)
		if err != nil {
			return fmt.Errorf("%s: %w", tp, err)
		}
		if l.realStart.IsZero() || first.Before(l.realStart) {
			l.realStart = first
		}
		for _, e := range evs {
			l.addUsage(e)
		}
		for _, c := range costs {
			c.Time = c.Time.Add(l.shift)
			l.f.Events = append(l.f.Events, redacted(c))
			if c.CostState.TotalCostUSD >= l.f.CostState.TotalCostUSD {
				l.f.CostState = *c.CostState
			}
		}
	}
	return nil
}

// addUsage merges one transcript line's usage into its response's. One response is
// written as several lines; keep the largest reading and the union of the tool calls it
// requested.
func (l *fixtureLoader) addUsage(e *event.Event) {
	k := e.Usage.MessageID + "\x00" + e.Usage.RequestID
	old, ok := l.usage[k]
	if !ok {
		l.usageOrder = append(l.usageOrder, k)
		l.usage[k] = e
		return
	}
	ids := append(append([]string(nil), old.Usage.ToolUseIDs...), e.Usage.ToolUseIDs...)
	text := old.Usage.Text + e.Usage.Text
	if projection.EventUsageTotal(e) > projection.EventUsageTotal(old) {
		l.usage[k] = e
	}
	l.usage[k].Usage.ToolUseIDs = dedupStrings(ids)
	l.usage[k].Usage.Text = text
}

// hookPayload is what the fixtures read of a hook payload themselves.
type hookPayload struct {
	SessionID    string `json:"session_id"`
	HookEvent    string `json:"hook_event_name"`
	PromptID     string `json:"prompt_id"`
	ToolUseID    string `json:"tool_use_id"`
	ToolName     string `json:"tool_name"`
	AgentID      string `json:"agent_id"`
	CWD          string `json:"cwd"`
	ToolResponse struct {
		GitOperation *struct {
			Commit *struct {
				SHA    string `json:"sha"`
				Branch string `json:"branch"`
			} `json:"commit"`
		} `json:"gitOperation"`
	} `json:"tool_response"`
}

// readHooks turns hooks/NNN.json, in order and 1 ms apart from the session's (shifted)
// start, into the events the hook and its deliverer send.
func (l *fixtureLoader) readHooks() error {
	hookFiles, err := fs.Glob(l.fsys, path.Join(l.dir, "hooks", "*.json"))
	if err != nil {
		return err
	}
	sort.Strings(hookFiles)
	base := l.realStart.Add(l.shift)
	for i, hf := range hookFiles {
		raw, err := fs.ReadFile(l.fsys, hf)
		if err != nil {
			return err
		}
		raw = bytes.TrimSpace(raw)
		var h hookPayload
		if err := json.Unmarshal(raw, &h); err != nil {
			return fmt.Errorf("%s: %w", hf, err)
		}
		if i == 0 && l.f.SessionID != h.SessionID {
			return fmt.Errorf("hooks and transcripts disagree on the session: %s, %s", h.SessionID, l.f.SessionID)
		}
		if err := l.addHook(raw, &h, base.Add(time.Duration(i)*time.Millisecond)); err != nil {
			return fmt.Errorf("%s: %w", hf, err)
		}
	}
	return nil
}

// addHook adds exactly what the hook binary makes of the payload (tier, redaction,
// stable ID, edit line counts, and the PR events a Bash call's output names), with the
// deliverer's enrichment, and the git events the deliverer derives.
func (l *fixtureLoader) addHook(raw []byte, h *hookPayload, t time.Time) error {
	built, err := capture.Build(raw, agentconfig.Config{Tier: event.TierFull, User: FixtureUser, Host: FixtureHost}, t)
	if err != nil {
		return err
	}
	for j := range built {
		// The repository as seen at capture time.
		built[j].Git = &event.GitState{Root: h.CWD, Remote: FixtureRepo, Branch: fixtureBranch}
	}
	l.f.Hooks = append(l.f.Hooks, json.RawMessage(raw))
	l.f.Events = append(l.f.Events, built...)
	// What the deliverer derives from git after a successful Bash call.
	if op := h.ToolResponse.GitOperation; op != nil && op.Commit != nil && h.HookEvent == "PostToolUse" {
		l.addCommit(h, op.Commit.SHA, op.Commit.Branch, t)
	}
	return nil
}

// addCommit adds the commit event (and the branch event, off the fixture branch) for a
// commit a tool response reported by its short SHA.
func (l *fixtureLoader) addCommit(h *hookPayload, short, branch string, t time.Time) {
	sha, msg := short, ""
	for full, m := range l.shas {
		if strings.HasPrefix(full, short) {
			sha, msg = full, m
		}
	}
	l.f.Events = append(l.f.Events, redacted(event.Event{
		ID: event.ID(event.KindCommit, h.SessionID, sha), Kind: event.KindCommit,
		SessionID: h.SessionID, Time: t.Add(500 * time.Microsecond), Tier: event.TierFull,
		PromptID: h.PromptID, ToolUseID: h.ToolUseID, User: FixtureUser, Host: FixtureHost,
		Git:    &event.GitState{Root: h.CWD, Remote: FixtureRepo, Branch: branch, Head: sha},
		Commit: &event.Commit{SHA: sha, Message: msg, Branch: branch, Repo: FixtureRepo, CommittedAt: t},
	}))
	if branch != fixtureBranch {
		l.f.Events = append(l.f.Events, redacted(event.Event{
			ID: event.ID(event.KindBranch, h.SessionID, branch), Kind: event.KindBranch,
			SessionID: h.SessionID, Time: t.Add(400 * time.Microsecond), Tier: event.TierFull,
			PromptID: h.PromptID, ToolUseID: h.ToolUseID, User: FixtureUser, Host: FixtureHost,
			Branch: &event.Branch{Name: branch, From: fixtureBranch, Action: "created"},
		}))
	}
}

// dayShift moves each fixture (all recorded within a minute) to its own day, so analytics
// tests see several days.
func dayShift(name string) time.Duration {
	days := map[string]int{"commit": 5, "failed-commit": 4, "multi-prompt": 3, "pull-request": 2, "secrets": 1, "subagent": 0}
	return -time.Duration(days[name]) * 24 * time.Hour
}

func readGitLog(fsys fs.FS, p string) (map[string]string, error) {
	raw, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		sha, msg, _ := strings.Cut(line, " ")
		out[sha] = msg
	}
	return out, nil
}

// transcriptLine is what the fixtures read of a transcript line: an assistant message
// with its usage, or a cost-state line.
type transcriptLine struct {
	Type        string    `json:"type"`
	PromptID    string    `json:"promptId"`
	RequestID   string    `json:"requestId"`
	IsSidechain bool      `json:"isSidechain"`
	Timestamp   time.Time `json:"timestamp"`
	Message     struct {
		ID         string          `json:"id"`
		Model      string          `json:"model"`
		StopReason string          `json:"stop_reason"`
		Content    json.RawMessage `json:"content"`
		Usage      *struct {
			InputTokens   int64 `json:"input_tokens"`
			OutputTokens  int64 `json:"output_tokens"`
			CacheCreation int64 `json:"cache_creation_input_tokens"`
			CacheRead     int64 `json:"cache_read_input_tokens"`
			Speed         string
			Split         *struct {
				M5 int64 `json:"ephemeral_5m_input_tokens"`
				H1 int64 `json:"ephemeral_1h_input_tokens"`
			} `json:"cache_creation"`
		} `json:"usage"`
	} `json:"message"`
	// cost-state
	TotalCostUSD      float64 `json:"totalCostUSD"`
	TotalLinesAdded   int64   `json:"totalLinesAdded"`
	TotalLinesRemoved int64   `json:"totalLinesRemoved"`
	ModelUsage        map[string]struct {
		InputTokens   int64   `json:"inputTokens"`
		OutputTokens  int64   `json:"outputTokens"`
		CacheRead     int64   `json:"cacheReadInputTokens"`
		CacheCreation int64   `json:"cacheCreationInputTokens"`
		CostUSD       float64 `json:"costUSD"`
	} `json:"modelUsage"`
}

// readTranscript is a small local transcript reader: assistant lines become usage events
// (one per line; the caller deduplicates) and cost-state lines cost_state events.
func readTranscript(fsys fs.FS, p, sessionID string) (usage []*event.Event, costs []event.Event, first time.Time, err error) {
	raw, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, nil, first, err
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	var promptID string
	var lastTime time.Time
	for n := 0; sc.Scan(); n++ {
		var l transcriptLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, nil, first, fmt.Errorf("line %d: %w", n+1, err)
		}
		if !l.Timestamp.IsZero() {
			lastTime = l.Timestamp
			if first.IsZero() || l.Timestamp.Before(first) {
				first = l.Timestamp.UTC()
			}
		}
		if l.PromptID != "" {
			promptID = l.PromptID
		}
		switch l.Type {
		case "assistant":
			if e := l.usageEvent(sessionID, promptID); e != nil {
				usage = append(usage, e)
			}
		case "cost-state":
			costs = append(costs, l.costStateEvent(sessionID, event.ID(event.KindCostState, sessionID, p, fmt.Sprint(n)), lastTime))
		}
	}
	return usage, costs, first, sc.Err()
}

// usageEvent is an assistant line's usage event, or nil for a line without usage.
func (l *transcriptLine) usageEvent(sessionID, promptID string) *event.Event {
	m := l.Message
	if m.Usage == nil || m.ID == "" || m.Model == "<synthetic>" {
		return nil
	}
	u := &event.Usage{
		MessageID: m.ID, RequestID: l.RequestID, Model: m.Model, StopReason: m.StopReason,
		Sidechain: l.IsSidechain, InputTokens: m.Usage.InputTokens, OutputTokens: m.Usage.OutputTokens,
		CacheCreationInputTokens: m.Usage.CacheCreation, CacheReadInputTokens: m.Usage.CacheRead,
	}
	if s := m.Usage.Split; s != nil && s.M5+s.H1 > 0 {
		u.CacheCreation5mTokens, u.CacheCreation1hTokens = s.M5, s.H1
		u.CacheCreationInputTokens = s.M5 + s.H1
	}
	var blocks []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(m.Content, &blocks)
	for _, c := range blocks {
		switch c.Type {
		case "tool_use":
			u.ToolUseIDs = append(u.ToolUseIDs, c.ID)
		case "text":
			u.Text += c.Text
		}
	}
	return &event.Event{
		ID: event.ID(event.KindUsage, sessionID, m.ID, l.RequestID), Kind: event.KindUsage,
		SessionID: sessionID, Time: l.Timestamp.UTC(), Tier: event.TierFull, PromptID: promptID,
		User: FixtureUser, Host: FixtureHost, Usage: u,
	}
}

// costStateEvent is a cost-state line's event, timed at the last timestamp seen (the
// line has none of its own).
func (l *transcriptLine) costStateEvent(sessionID, id string, at time.Time) event.Event {
	cs := &event.CostState{TotalCostUSD: l.TotalCostUSD, LinesAdded: l.TotalLinesAdded, LinesRemoved: l.TotalLinesRemoved,
		ModelUsage: map[string]event.ModelUsage{}}
	for model, mu := range l.ModelUsage {
		cs.ModelUsage[model] = event.ModelUsage{InputTokens: mu.InputTokens, OutputTokens: mu.OutputTokens,
			CacheCreationInputTokens: mu.CacheCreation, CacheReadInputTokens: mu.CacheRead, CostUSD: mu.CostUSD}
	}
	return event.Event{
		ID: id, Kind: event.KindCostState,
		SessionID: sessionID, Time: at.UTC(), Tier: event.TierFull, User: FixtureUser, Host: FixtureHost,
		CostState: cs,
	}
}

// redacted passes a derived event through the deliverer's redaction, as production does.
func redacted(e event.Event) event.Event {
	privacy.RedactEvent(&e)
	return e
}

func dedupStrings(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
