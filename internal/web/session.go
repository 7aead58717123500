package web

import (
	"net/http"
	"net/url"
	"sort"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

type sessionData struct {
	S         *agenttrace.Session
	RepoLabel string
	Spun      bool
	Tier      int
	// CanText and CanFull say what the session's tier recorded: prompt text, commands
	// and diffs from tier 2, outputs and responses from tier 3.
	CanText bool
	CanFull bool
	// HasReported: Claude Code wrote its own cost estimate (a cost-state line).
	HasReported bool
	Models      []string
	// What Claude Code's telemetry adds: its own cost estimate (OTel api_request costs)
	// and the active time it measured, shown beside ours.
	HasOTelCost               bool
	ActiveUserMS, ActiveCLIMS int64
	// Numbers gives each real prompt its place among the prompts the user typed; the
	// turns Claude Code injected (notes) have none and are not counted.
	Numbers map[string]int
}

func (a *app) sessionPage(w http.ResponseWriter, r *http.Request) {
	s, err := a.store.Session(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, "load the session", err)
		return
	}
	sortSession(s)
	a.recent.put(s)
	prewarm(s, eagerBlocks)
	d := sessionData{
		S:           s,
		RepoLabel:   repoLabel(s.SessionSummary),
		Spun:        isSpun(s.SessionSummary),
		Tier:        s.Tier,
		CanText:     s.Tier >= event.TierDetails,
		CanFull:     s.Tier >= event.TierFull,
		HasReported: s.ReportedCostUSD != nil,
		Models:      s.Models,
		HasOTelCost: s.OTelCostUSD != nil,
		// Seconds to milliseconds, for the duration formatter the page already uses.
		ActiveUserMS: int64(s.ActiveUserSeconds * 1000), ActiveCLIMS: int64(s.ActiveCLISeconds * 1000),
		Numbers: promptNumbers(s.Prompts),
	}
	if r.URL.Query().Get("fragment") == "body" {
		a.render(w, r, http.StatusOK, "session", "body", d)
		return
	}
	title := "Session " + shortID(s.ID)
	a.render(w, r, http.StatusOK, "session", "layout", page{Title: title, Nav: "sessions", Live: a.sessionLiveURL(s.ID), Data: d})
}

// sortSession puts prompts in submission order and tool calls in start order, whatever
// order the store returned them in, because a replay is read top to bottom.
func sortSession(s *agenttrace.Session) {
	sort.SliceStable(s.Prompts, func(i, j int) bool { return s.Prompts[i].Index < s.Prompts[j].Index })
	for i := range s.Prompts {
		sortCalls(s.Prompts[i].ToolCalls)
	}
}

// promptNumbers numbers the prompts the user typed, in order, skipping injected turns.
func promptNumbers(prompts []agenttrace.Prompt) map[string]int {
	n := make(map[string]int, len(prompts))
	for _, p := range prompts {
		if p.Origin == "" {
			n[p.ID] = len(n) + 1
		}
	}
	return n
}

// originLabels names the user turns Claude Code injects, as the replay shows them.
var originLabels = map[string]string{
	event.OriginTaskNotification: "background task finished",
	event.OriginLocalCommand:     "local command output",
	event.OriginCompactSummary:   "conversation compacted",
	event.OriginInterrupted:      "request interrupted",
}

func originLabel(origin string) string {
	if l, ok := originLabels[origin]; ok {
		return l
	}
	return "system note"
}

func sortCalls(calls []agenttrace.ToolCall) {
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].StartedAt.Before(calls[j].StartedAt) })
	for i := range calls {
		sortCalls(calls[i].Children)
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// callView is one tool call with what the template needs to decide how to show it.
type callView struct {
	Call    agenttrace.ToolCall
	Kind    string // bash, edit, read, search, agent, other
	Tier    int
	CanText bool
	CanFull bool
}

func withTier(c agenttrace.ToolCall, tier int) callView {
	return callView{Call: c, Kind: toolKind(c.Name), Tier: tier,
		CanText: tier >= event.TierDetails, CanFull: tier >= event.TierFull}
}

func toolKind(name string) string {
	switch name {
	case "Bash", "BashOutput":
		return "bash"
	case "Edit", "Write", "MultiEdit", "NotebookEdit":
		return "edit"
	case "Read":
		return "read"
	case "Grep", "Glob", "LS":
		return "search"
	case "Agent", "Task":
		return "agent"
	}
	return "other"
}

// sessionLiveURL narrows the stream to one session (the hub's session parameter), so an
// open replay wakes only for its own changes.
func (a *app) sessionLiveURL(id string) string {
	if a.liveURL == "" {
		return ""
	}
	return a.liveURL + "?" + url.Values{"session": {id}}.Encode()
}
