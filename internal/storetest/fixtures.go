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

func loadFixture(name string) (Fixture, error) {
	dir := path.Join(fixtureRoot, name)
	f := Fixture{Name: name}

	shas, err := readGitLog(path.Join(dir, "git-log.txt"))
	if err != nil {
		return f, err
	}

	var transcripts []string
	err = fs.WalkDir(fixtureFS, path.Join(dir, "transcripts"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			transcripts = append(transcripts, p)
		}
		return err
	})
	if err != nil {
		return f, err
	}
	sort.Strings(transcripts)
	usage := map[string]*event.Event{}
	var usageOrder []string
	var realStart time.Time
	shift := dayShift(name)
	for _, tp := range transcripts {
		// The main transcript is named after the session.
		if !strings.Contains(tp, "/subagents/") {
			f.SessionID = strings.TrimSuffix(path.Base(tp), ".jsonl")
		}
	}
	for _, tp := range transcripts {
		evs, costs, first, err := readTranscript(tp, f.SessionID)
		if err != nil {
			return f, fmt.Errorf("%s: %w", tp, err)
		}
		if realStart.IsZero() || first.Before(realStart) {
			realStart = first
		}
		for _, e := range evs {
			k := e.Usage.MessageID + "\x00" + e.Usage.RequestID
			old, ok := usage[k]
			if !ok {
				usageOrder = append(usageOrder, k)
				usage[k] = e
				continue
			}
			// One response is written as several lines; keep the largest reading and the
			// union of the tool calls it requested.
			ids := append(append([]string(nil), old.Usage.ToolUseIDs...), e.Usage.ToolUseIDs...)
			text := old.Usage.Text + e.Usage.Text
			if projection.EventUsageTotal(e) > projection.EventUsageTotal(old) {
				usage[k] = e
			}
			usage[k].Usage.ToolUseIDs = dedupStrings(ids)
			usage[k].Usage.Text = text
		}
		for _, c := range costs {
			c.Time = c.Time.Add(shift)
			f.Events = append(f.Events, redacted(c))
			if c.CostState.TotalCostUSD >= f.CostState.TotalCostUSD {
				f.CostState = *c.CostState
			}
		}
	}
	hookFiles, err := fs.Glob(fixtureFS, path.Join(dir, "hooks", "*.json"))
	if err != nil {
		return f, err
	}
	sort.Strings(hookFiles)
	var base time.Time
	for i, hf := range hookFiles {
		raw, err := fixtureFS.ReadFile(hf)
		if err != nil {
			return f, err
		}
		raw = bytes.TrimSpace(raw)
		var h struct {
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
		if err := json.Unmarshal(raw, &h); err != nil {
			return f, fmt.Errorf("%s: %w", hf, err)
		}
		if i == 0 {
			if f.SessionID != h.SessionID {
				return f, fmt.Errorf("hooks and transcripts disagree on the session: %s, %s", h.SessionID, f.SessionID)
			}
			base = realStart.Add(shift)
		}
		t := base.Add(time.Duration(i) * time.Millisecond)
		// Exactly what the hook binary makes of the payload: tier, redaction, stable ID,
		// edit line counts, and the PR events a Bash call's output names.
		built, err := capture.Build(raw, agentconfig.Config{Tier: event.TierFull, User: FixtureUser, Host: FixtureHost}, t)
		if err != nil {
			return f, fmt.Errorf("%s: %w", hf, err)
		}
		for j := range built {
			// The deliverer's enrichment: the repository as seen at capture time.
			built[j].Git = &event.GitState{Root: h.CWD, Remote: FixtureRepo, Branch: fixtureBranch}
		}
		f.Hooks = append(f.Hooks, json.RawMessage(raw))
		f.Events = append(f.Events, built...)

		// What the deliverer derives from git after a successful Bash call.
		if op := h.ToolResponse.GitOperation; op != nil && h.HookEvent == "PostToolUse" {
			if c := op.Commit; c != nil {
				sha := c.SHA
				msg := ""
				for full, m := range shas {
					if strings.HasPrefix(full, c.SHA) {
						sha, msg = full, m
					}
				}
				f.Events = append(f.Events, redacted(event.Event{
					ID: event.ID(event.KindCommit, h.SessionID, sha), Kind: event.KindCommit,
					SessionID: h.SessionID, Time: t.Add(500 * time.Microsecond), Tier: event.TierFull,
					PromptID: h.PromptID, ToolUseID: h.ToolUseID, User: FixtureUser, Host: FixtureHost,
					Git:    &event.GitState{Root: h.CWD, Remote: FixtureRepo, Branch: c.Branch, Head: sha},
					Commit: &event.Commit{SHA: sha, Message: msg, Branch: c.Branch, Repo: FixtureRepo, CommittedAt: t},
				}))
				if c.Branch != fixtureBranch {
					f.Events = append(f.Events, redacted(event.Event{
						ID: event.ID(event.KindBranch, h.SessionID, c.Branch), Kind: event.KindBranch,
						SessionID: h.SessionID, Time: t.Add(400 * time.Microsecond), Tier: event.TierFull,
						PromptID: h.PromptID, ToolUseID: h.ToolUseID, User: FixtureUser, Host: FixtureHost,
						Branch: &event.Branch{Name: c.Branch, From: fixtureBranch, Action: "created"},
					}))
				}
			}
		}
	}

	for _, k := range usageOrder {
		e := *usage[k]
		e.Time = e.Time.Add(shift)
		f.Events = append(f.Events, redacted(e))
	}
	return f, nil
}

// dayShift moves each fixture (all recorded within a minute) to its own day, so analytics
// tests see several days.
func dayShift(name string) time.Duration {
	days := map[string]int{"commit": 5, "failed-commit": 4, "multi-prompt": 3, "pull-request": 2, "secrets": 1, "subagent": 0}
	return -time.Duration(days[name]) * 24 * time.Hour
}

func readGitLog(p string) (map[string]string, error) {
	raw, err := fixtureFS.ReadFile(p)
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

// readTranscript is a small local transcript reader: assistant lines become usage events
// (one per line; the caller deduplicates) and cost-state lines cost_state events.
func readTranscript(p, sessionID string) (usage []*event.Event, costs []event.Event, first time.Time, err error) {
	raw, err := fixtureFS.ReadFile(p)
	if err != nil {
		return nil, nil, first, err
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	var promptID string
	var lastTime time.Time
	for n := 0; sc.Scan(); n++ {
		var l struct {
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
			m := l.Message
			if m.Usage == nil || m.ID == "" || m.Model == "<synthetic>" {
				continue
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
			usage = append(usage, &event.Event{
				ID: event.ID(event.KindUsage, sessionID, m.ID, l.RequestID), Kind: event.KindUsage,
				SessionID: sessionID, Time: l.Timestamp.UTC(), Tier: event.TierFull, PromptID: promptID,
				User: FixtureUser, Host: FixtureHost, Usage: u,
			})
		case "cost-state":
			cs := &event.CostState{TotalCostUSD: l.TotalCostUSD, LinesAdded: l.TotalLinesAdded, LinesRemoved: l.TotalLinesRemoved,
				ModelUsage: map[string]event.ModelUsage{}}
			for model, mu := range l.ModelUsage {
				cs.ModelUsage[model] = event.ModelUsage{InputTokens: mu.InputTokens, OutputTokens: mu.OutputTokens,
					CacheCreationInputTokens: mu.CacheCreation, CacheReadInputTokens: mu.CacheRead, CostUSD: mu.CostUSD}
			}
			costs = append(costs, event.Event{
				ID: event.ID(event.KindCostState, sessionID, p, fmt.Sprint(n)), Kind: event.KindCostState,
				SessionID: sessionID, Time: lastTime.UTC(), Tier: event.TierFull, User: FixtureUser, Host: FixtureHost,
				CostState: cs,
			})
		}
	}
	return usage, costs, first, sc.Err()
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
