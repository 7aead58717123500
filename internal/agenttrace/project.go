package agenttrace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/event"
)

// Pricer prices one API response's usage. ok is false when the model is unknown, and then
// the cost is reported as unknown (null), never as a silent 0.
type Pricer interface {
	Cost(model string, u Usage) (usd float64, ok bool)
}

// ResponsePricer is a Pricer that prices one API response from everything the usage
// event carries: besides the model and tokens, its speed (fast mode is billed at a
// premium) and web search requests. Project uses it when the Pricer has it; the
// pricing package's Table.Cost(u.Model, pricing.FromEvent(u)) is one.
type ResponsePricer interface {
	Pricer
	CostOfResponse(u *event.Usage) (usd float64, ok bool)
}

// price prices one usage event, or returns nil when its model cannot be priced.
func price(p Pricer, u *event.Usage) *float64 {
	if p == nil {
		return nil
	}
	var usd float64
	var ok bool
	if rp, is := p.(ResponsePricer); is {
		usd, ok = rp.CostOfResponse(u)
	} else {
		usd, ok = p.Cost(u.Model, ToUsage(u))
	}
	if !ok {
		return nil
	}
	return &usd
}

// ProjectionVersion changes whenever Project's rules change, so stores know to re-project
// what they stored with older rules.
const ProjectionVersion = "1"

// Project folds one session's events into its Session.
//
// The result depends only on the set of events: their order and any duplicates (the same
// ID twice) do not change it, so a store can re-project from whatever it holds after
// every ingest and get the same answer however the events arrived. Events of kinds or
// hook events it does not know are counted but otherwise ignored. It returns nil for no
// events. A nil Pricer prices nothing (every model is unpriced).
func Project(events []event.Event, p Pricer) *Session {
	evs := canonical(events)
	if len(evs) == 0 {
		return nil
	}
	pr := &projector{pricer: p, evs: evs}
	return pr.run()
}

// canonical deduplicates events by ID and sorts them by time, then ID, so everything
// after it sees one fixed sequence whatever the input order.
func canonical(events []event.Event) []event.Event {
	byID := make(map[string]int, len(events))
	out := make([]event.Event, 0, len(events))
	for _, e := range events {
		if i, ok := byID[e.ID]; ok {
			if PreferEvent(&e, &out[i]) {
				out[i] = e
			}
			continue
		}
		byID[e.ID] = len(out)
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return eventLess(out[i], out[j]) })
	for i := range out {
		out[i].Time = out[i].Time.UTC()
	}
	return out
}

func eventLess(a, b event.Event) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.ID < b.ID
}

func encodeTimeless(e *event.Event) []byte {
	c := *e
	c.Time = time.Time{}
	b, _ := json.Marshal(&c)
	return b
}

// PreferEvent reports whether a should be kept instead of b, two events with the same ID.
// Stores that keep one copy per ID apply the same rule, so what they keep never depends
// on arrival order. In order:
//
//   - usage: the larger token total (a transcript line re-read while still growing);
//   - the lower privacy tier (a copy never raises what is kept);
//   - the longer JSON encoding, leaving the time out: the richer copy, e.g. a live hook
//     payload (with duration_ms, the full tool_response) over one a transcript import
//     rebuilt. The time must not count: RFC 3339 drops trailing zeros, so the same
//     payload captured twice would otherwise be told apart by its clock reading;
//   - the earlier time, then the encoding that sorts first: only to decide ties.
func PreferEvent(a, b *event.Event) bool {
	if a.Kind == event.KindUsage && b.Kind == event.KindUsage && a.Usage != nil && b.Usage != nil {
		ta, tb := a.Usage.Total(), b.Usage.Total()
		if ta != tb {
			return ta > tb
		}
	}
	if a.Tier != b.Tier {
		return a.Tier < b.Tier
	}
	ja, jb := encodeTimeless(a), encodeTimeless(b)
	if len(ja) != len(jb) {
		return len(ja) > len(jb)
	}
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return bytes.Compare(ja, jb) < 0
}

// EventUsageTotal is the token total of a usage event (0 for other kinds); stores use it
// to keep the larger of two readings of the same API response.
func EventUsageTotal(e *event.Event) int64 {
	if e.Kind != event.KindUsage || e.Usage == nil {
		return 0
	}
	return e.Usage.Total()
}

// ToUsage converts an event's usage into the domain's Usage.
func ToUsage(u *event.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	return Usage{
		InputTokens:              u.InputTokens,
		OutputTokens:             u.OutputTokens,
		CacheCreationInputTokens: u.CacheWrites(),
		CacheCreation5mTokens:    u.CacheCreation5mTokens,
		CacheCreation1hTokens:    u.CacheCreation1hTokens,
		CacheReadInputTokens:     u.CacheReadInputTokens,
		WebSearchRequests:        u.WebSearchRequests,
	}
}

// PricedUsage is one deduplicated API response as the projection counted it, with the
// prompt it was attributed to. Stores keep these rows for analytics.
type PricedUsage struct {
	EventID  string
	Time     time.Time
	PromptID string
	Model    string
	User     string
	Usage    Usage
	CostUSD  *float64 // nil when the model could not be priced
}

// ProjectWithUsage is Project that also returns the deduplicated usage rows, priced and
// attributed exactly as the Session counts them, ordered by time. Stores keep them for
// analytics.
func ProjectWithUsage(events []event.Event, p Pricer) (*Session, []PricedUsage) {
	evs := canonical(events)
	if len(evs) == 0 {
		return nil, nil
	}
	pr := &projector{pricer: p, evs: evs}
	s := pr.run()
	return s, pr.usages
}

type projector struct {
	pricer Pricer
	evs    []event.Event
	usages []PricedUsage
}

type callState struct {
	call       ToolCall
	promptID   string
	closeTime  time.Time
	closed     bool
	hasPre     bool
	hasInput   bool // the input summary is set
	lines      bool // the hook counted lines on an event
	parentID   string
	agentSpawn string // agentId the Agent call launched
}

type promptState struct {
	p        Prompt
	submit   time.Time
	hasSub   bool
	first    time.Time
	last     time.Time
	stopTime time.Time
	usage    Usage
	unpriced bool
	cost     float64
	models   []string
}

func (pr *projector) run() *Session {
	s := &Session{}
	s.ID = pr.evs[0].SessionID
	s.Tier = event.TierFull
	s.Branches = []string{}
	s.Models = []string{}
	s.Prompts = []Prompt{}
	s.Commits = []Commit{}
	s.PullRequests = []PullRequest{}

	var (
		lastEnd, lastStart time.Time
		hasEnd             bool
		calls              = map[string]*callState{}
		callOrder          []string
		prompts            = map[string]*promptState{}
		promptOrder        []string
		usageByKey         = map[string]int{}
		usageEvs           []event.Event
		costState          *event.CostState
		costStateTime      time.Time
		commits            = map[string]Commit{}
		prs                = map[string]PullRequest{}
		prCall             = map[string]string{} // PR key → the tool call that saw it
		branchSeen         = map[string]bool{}
	)
	addBranch := func(b string) {
		if b != "" && !branchSeen[b] {
			branchSeen[b] = true
			s.Branches = append(s.Branches, b)
		}
	}
	getPrompt := func(id string, t time.Time) *promptState {
		ps, ok := prompts[id]
		if !ok {
			ps = &promptState{first: t}
			ps.p.ID = id
			prompts[id] = ps
			promptOrder = append(promptOrder, id)
		}
		return ps
	}

	s.StartedAt = pr.evs[0].Time
	s.LastEventAt = pr.evs[len(pr.evs)-1].Time
	s.EventCount = len(pr.evs)

	for i := range pr.evs {
		e := &pr.evs[i]
		if e.Tier >= event.TierMetadata && e.Tier < s.Tier {
			s.Tier = e.Tier
		}
		if s.User == "" {
			s.User = e.User
		}
		if s.Host == "" {
			s.Host = e.Host
		}
		if e.Git != nil {
			if e.Git.Remote != "" {
				s.Repo = e.Git.Remote
			}
			if e.Git.Branch != "" {
				s.Branch = e.Git.Branch
				addBranch(e.Git.Branch)
			}
		}
		switch e.Kind {
		case event.KindHook:
			h := parseHook(e.Payload)
			hookEvent := firstNonEmpty(e.HookEvent, h.HookEventName)
			promptID := firstNonEmpty(e.PromptID, h.PromptID)
			if s.CWD == "" && h.CWD != "" {
				s.CWD = h.CWD
			}
			if v := firstNonEmpty(h.ClaudeCodeVersion, h.Version); v != "" {
				s.ClaudeCodeVersion = v
			}
			switch hookEvent {
			case "SessionStart":
				lastStart = e.Time
			case "SessionEnd":
				lastEnd, hasEnd = e.Time, true
			}
			if promptID != "" && hookEvent != "SessionStart" && hookEvent != "SessionEnd" {
				ps := getPrompt(promptID, e.Time)
				if e.Time.After(ps.last) {
					ps.last = e.Time
				}
				switch hookEvent {
				case "UserPromptSubmit":
					if !ps.hasSub {
						ps.hasSub, ps.submit = true, e.Time
						if e.Tier >= event.TierDetails {
							ps.p.Text = h.Prompt
						}
					}
				case "Stop":
					// The latest Stop of a prompt carries its final answer.
					if e.Tier >= event.TierFull && !e.Time.Before(ps.stopTime) {
						ps.stopTime = e.Time
						ps.p.Response = h.LastAssistantMessage
					}
				}
			}
			toolUseID := firstNonEmpty(e.ToolUseID, h.ToolUseID)
			if toolUseID == "" || !event.IsToolEvent(hookEvent) {
				continue
			}
			cs, ok := calls[toolUseID]
			if !ok {
				cs = &callState{}
				cs.call.ID = toolUseID
				cs.call.Status = ToolPending
				cs.call.StartedAt = e.Time
				calls[toolUseID] = cs
				callOrder = append(callOrder, toolUseID)
			}
			pr.applyToolEvent(cs, e, &h, hookEvent, promptID)
		case event.KindUsage:
			if e.Usage == nil {
				continue
			}
			// One API response is one message.id. A /btw side question's transcript replays
			// the parent's responses with the same message.id under a new requestId (so a
			// new event ID); counting both would double the cost.
			key := e.Usage.MessageID
			if key == "" {
				key = "\x01" + e.ID
			}
			if j, ok := usageByKey[key]; ok {
				if betterUsage(e, &usageEvs[j]) {
					usageEvs[j] = *e
				}
				continue
			}
			usageByKey[key] = len(usageEvs)
			usageEvs = append(usageEvs, *e)
		case event.KindCostState:
			if e.CostState == nil {
				continue
			}
			// Running totals only grow, so on a time tie the larger one is the later.
			if costState == nil || e.Time.After(costStateTime) ||
				(e.Time.Equal(costStateTime) && e.CostState.TotalCostUSD > costState.TotalCostUSD) {
				costState, costStateTime = e.CostState, e.Time
			}
		case event.KindCommit:
			c := e.Commit
			if c == nil || c.SHA == "" {
				continue
			}
			if _, ok := commits[c.SHA]; ok {
				continue // events are in time order: the first sighting wins
			}
			cm := Commit{
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
			addBranch(c.Branch)
			commits[c.SHA] = cm
		case event.KindPullRequest:
			p := e.PullRequest
			if p == nil {
				continue
			}
			repo := p.Repo
			if p.Owner != "" {
				repo = p.Owner + "/" + p.Repo
			}
			key := p.Forge + "\x00" + repo + "\x00" + strconv.Itoa(p.Number)
			old, seen := prs[key]
			if seen {
				if old.URL == "" && e.Tier >= event.TierDetails && p.URL != "" {
					old.URL = p.URL
					prs[key] = old
				}
				continue
			}
			pp := PullRequest{
				Forge: p.Forge, Repo: repo, Number: p.Number, SessionID: e.SessionID,
				PromptID: e.PromptID, SeenAt: e.Time, User: e.User,
			}
			if e.Tier >= event.TierDetails {
				pp.URL = p.URL
			}
			// Remember the tool call that saw it, to find the prompt when PromptID is missing.
			if pp.PromptID == "" && e.ToolUseID != "" {
				prCall[key] = e.ToolUseID
			}
			prs[key] = pp
		case event.KindBranch:
			if e.Branch != nil {
				addBranch(e.Branch.Name)
			}
		}
	}

	// Status is decided by event times, never arrival: a SessionStart after the latest
	// SessionEnd is a resume.
	if hasEnd && !lastStart.After(lastEnd) {
		s.Status = StatusEnded
		t := lastEnd
		s.EndedAt = &t
		s.DurationMS = lastEnd.Sub(s.StartedAt).Milliseconds()
	} else {
		s.Status = StatusActive
		s.DurationMS = s.LastEventAt.Sub(s.StartedAt).Milliseconds()
	}

	// Tool calls: resolve which prompt each belongs to, then nest subagent calls.
	agentParent := map[string]string{}
	for _, id := range callOrder {
		cs := calls[id]
		if cs.agentSpawn != "" {
			if _, ok := agentParent[cs.agentSpawn]; !ok {
				agentParent[cs.agentSpawn] = id
			}
		}
	}
	for _, id := range callOrder {
		cs := calls[id]
		c := &cs.call
		if cs.closed {
			t := cs.closeTime
			c.EndedAt = &t
			if c.DurationMS == 0 {
				c.DurationMS = cs.closeTime.Sub(c.StartedAt).Milliseconds()
			}
		}
		if !cs.lines {
			c.LinesAdded, c.LinesRemoved = diffLines(c.Diff)
		}
		if c.AgentID != "" {
			if parent, ok := agentParent[c.AgentID]; ok && parent != id && !isAncestor(calls, id, parent) {
				cs.parentID = parent
			}
		}
	}
	// A child belongs to its root's prompt; fill prompts of calls that had none.
	rootOf := func(id string) *callState {
		cs := calls[id]
		for i := 0; cs.parentID != "" && i < 64; i++ {
			cs = calls[cs.parentID]
		}
		return cs
	}
	promptOfCall := map[string]string{}
	for _, id := range callOrder {
		root := rootOf(id)
		pid := root.promptID
		if pid == "" {
			pid = calls[id].promptID
		}
		promptOfCall[id] = pid
	}
	sortedPrompts := func() []*promptState {
		out := make([]*promptState, 0, len(prompts))
		for _, id := range promptOrder {
			out = append(out, prompts[id])
		}
		sort.SliceStable(out, func(i, j int) bool {
			a, b := out[i].start(), out[j].start()
			if !a.Equal(b) {
				return a.Before(b)
			}
			return out[i].p.ID < out[j].p.ID
		})
		return out
	}
	// promptAt attributes something without a prompt ID to the latest prompt started at
	// or before t.
	var ordered []*promptState
	promptAt := func(t time.Time) string {
		id := ""
		for _, ps := range ordered {
			if ps.start().After(t) {
				break
			}
			id = ps.p.ID
		}
		return id
	}
	// Calls without any prompt ID get one by time; creating prompts first keeps ordering
	// stable.
	ordered = sortedPrompts()
	for _, id := range callOrder {
		if promptOfCall[id] == "" {
			promptOfCall[id] = promptAt(calls[id].call.StartedAt)
		}
	}

	// Build the trees bottom-up: attach children in start order.
	children := map[string][]string{}
	for _, id := range callOrder {
		if p := calls[id].parentID; p != "" {
			children[p] = append(children[p], id)
		}
	}
	var build func(id string, depth int) ToolCall
	build = func(id string, depth int) ToolCall {
		c := calls[id].call
		if depth < 64 {
			for _, ch := range sortedCalls(calls, children[id]) {
				c.Children = append(c.Children, build(ch, depth+1))
			}
		}
		return c
	}

	// Usage: one per API response, priced, attributed to a prompt.
	sort.SliceStable(usageEvs, func(i, j int) bool { return eventLess(usageEvs[i], usageEvs[j]) })
	var (
		total       Usage
		totalCost   float64
		unpricedSet = map[string]bool{}
		modelSeen   = map[string]bool{}
	)
	for i := range usageEvs {
		e := &usageEvs[i]
		u := ToUsage(e.Usage)
		model := e.Usage.Model
		if model != "" && !modelSeen[model] {
			modelSeen[model] = true
			s.Models = append(s.Models, model)
		}
		pid := e.PromptID
		if pid == "" {
			for _, tid := range e.Usage.ToolUseIDs {
				if p := promptOfCall[tid]; p != "" {
					pid = p
					break
				}
			}
		}
		if pid == "" {
			pid = promptAt(e.Time)
		}
		cost := price(pr.pricer, e.Usage)
		total = total.Add(u)
		if cost == nil {
			unpricedSet[model] = true
		} else {
			totalCost += *cost
		}
		if ps, ok := prompts[pid]; ok {
			ps.usage = ps.usage.Add(u)
			if cost == nil {
				ps.unpriced = true
			} else {
				ps.cost += *cost
			}
			if model != "" && !contains(ps.models, model) {
				ps.models = append(ps.models, model)
			}
		}
		user := e.User
		if user == "" {
			user = s.User
		}
		pr.usages = append(pr.usages, PricedUsage{
			EventID: e.ID, Time: e.Time, PromptID: pid, Model: model, User: user, Usage: u, CostUSD: cost,
		})
	}
	s.Usage = total
	if len(unpricedSet) == 0 {
		c := round9(totalCost)
		s.CostUSD = &c
	} else {
		for m := range unpricedSet {
			s.UnpricedModels = append(s.UnpricedModels, m)
		}
		sort.Strings(s.UnpricedModels)
	}
	if costState != nil {
		c := costState.TotalCostUSD
		s.ReportedCostUSD = &c
	}

	// Commits and PRs, newest last, each under its prompt.
	commitList := make([]Commit, 0, len(commits))
	for _, c := range commits {
		if c.PromptID == "" && c.ToolUseID != "" {
			c.PromptID = promptOfCall[c.ToolUseID]
		}
		if c.PromptID == "" {
			c.PromptID = promptAt(c.CommittedAt)
		}
		commitList = append(commitList, c)
	}
	sort.Slice(commitList, func(i, j int) bool {
		if !commitList[i].CommittedAt.Equal(commitList[j].CommittedAt) {
			return commitList[i].CommittedAt.Before(commitList[j].CommittedAt)
		}
		return commitList[i].SHA < commitList[j].SHA
	})
	prList := make([]PullRequest, 0, len(prs))
	for key, p := range prs {
		if p.PromptID == "" && prCall[key] != "" {
			p.PromptID = promptOfCall[prCall[key]]
		}
		if p.PromptID == "" {
			p.PromptID = promptAt(p.SeenAt)
		}
		prList = append(prList, p)
	}
	sort.Slice(prList, func(i, j int) bool {
		a, b := prList[i], prList[j]
		if !a.SeenAt.Equal(b.SeenAt) {
			return a.SeenAt.Before(b.SeenAt)
		}
		if a.Forge != b.Forge {
			return a.Forge < b.Forge
		}
		if a.Repo != b.Repo {
			return a.Repo < b.Repo
		}
		return a.Number < b.Number
	})
	s.Commits = commitList
	s.PullRequests = prList
	s.CommitCount = len(commitList)
	s.PRCount = len(prList)

	// Prompts in submission order, with their calls, commits and PRs.
	var unattached []ToolCall
	for idx, ps := range ordered {
		p := ps.p
		p.Index = idx
		p.StartedAt = ps.start()
		if ps.last.After(p.StartedAt) {
			p.DurationMS = ps.last.Sub(p.StartedAt).Milliseconds()
		}
		p.Usage = ps.usage
		if !ps.unpriced {
			c := round9(ps.cost)
			p.CostUSD = &c
		}
		p.Models = append([]string{}, ps.models...)
		p.ToolCalls = []ToolCall{}
		p.Commits = []Commit{}
		p.PullRequests = []PullRequest{}
		prompts[p.ID].p = p
	}
	var roots []string
	for _, id := range callOrder {
		if calls[id].parentID == "" {
			roots = append(roots, id)
		}
	}
	for _, id := range sortedCalls(calls, roots) {
		tc := build(id, 0)
		if ps, ok := prompts[promptOfCall[id]]; ok {
			ps.p.ToolCalls = append(ps.p.ToolCalls, tc)
		} else {
			unattached = append(unattached, tc)
		}
	}
	for _, c := range commitList {
		if ps, ok := prompts[c.PromptID]; ok {
			ps.p.Commits = append(ps.p.Commits, c)
		}
	}
	for _, p := range prList {
		if ps, ok := prompts[p.PromptID]; ok {
			ps.p.PullRequests = append(ps.p.PullRequests, p)
		}
	}
	for _, ps := range ordered {
		p := ps.p
		var walk func(tcs []ToolCall)
		walk = func(tcs []ToolCall) {
			for _, tc := range tcs {
				p.LinesAdded += tc.LinesAdded
				p.LinesRemoved += tc.LinesRemoved
				if tc.Status == ToolError {
					p.ErrorCount++
				}
				walk(tc.Children)
			}
		}
		walk(p.ToolCalls)
		s.Prompts = append(s.Prompts, p)
	}
	// Calls that fit no prompt (tool events before any prompt) still count for the
	// session; they appear under a synthetic prompt so none is lost from the page.
	if len(unattached) > 0 {
		p := Prompt{ID: "", Index: len(s.Prompts), StartedAt: unattached[0].StartedAt,
			ToolCalls: unattached, Commits: []Commit{}, PullRequests: []PullRequest{}, Models: []string{}}
		zero := 0.0
		p.CostUSD = &zero
		for _, tc := range unattached {
			p.LinesAdded += tc.LinesAdded
			p.LinesRemoved += tc.LinesRemoved
			if tc.Status == ToolError {
				p.ErrorCount++
			}
		}
		s.Prompts = append(s.Prompts, p)
	}

	// Session lines come from edit diffs only. A commit's lines are the same lines the
	// edits made, so adding them again would double count.
	//
	// Compared with Claude Code 2.1.332's own cost-state totalLinesAdded/Removed on the
	// fixtures (TestProjectLinesAgainstClaudeCode): both count Edit diffs alike and both
	// ignore edits made through Bash (secrets fixture: its bashEditDiff adds 2 lines, both
	// say 0). They differ on a Write that creates a file: Claude Code counts
	// strings.Split(content, "\n"), one line more than the file has when it ends in a
	// newline (commit fixture: Claude Code +4 -1, we +3 -1, as git's commit stats and the
	// hook's counts say). The rule that matches Claude Code exactly is ours plus one line
	// per created file whose content ends in a newline; we keep git's count.
	for _, id := range callOrder {
		c := calls[id].call
		s.ToolCallCount++
		s.LinesAdded += c.LinesAdded
		s.LinesRemoved += c.LinesRemoved
		if c.Status == ToolError {
			s.ErrorCount++
		}
	}
	s.PromptCount = len(ordered)
	if len(ordered) > 0 {
		s.FirstPrompt = s.Prompts[0].Text
	}
	return s
}

func (ps *promptState) start() time.Time {
	if ps.hasSub {
		return ps.submit
	}
	return ps.first
}

// applyToolEvent folds one hook event into its tool call.
func (pr *projector) applyToolEvent(cs *callState, e *event.Event, h *hookPayload, hookEvent, promptID string) {
	c := &cs.call
	if name := firstNonEmpty(e.ToolName, h.ToolName); name != "" {
		c.Name = name
	}
	if e.AgentID != "" {
		c.AgentID = e.AgentID
	} else if h.AgentID != "" {
		c.AgentID = h.AgentID
	}
	if promptID != "" && cs.promptID == "" {
		cs.promptID = promptID
	}
	if hookEvent == "PreToolUse" {
		if !cs.hasPre {
			cs.hasPre = true
			c.StartedAt = e.Time
		}
	} else if !cs.hasPre && e.Time.Before(c.StartedAt) {
		c.StartedAt = e.Time
	}
	// The input is the same on every event of a call: read it once, preferring PreToolUse.
	var in toolInput
	parsedInput := false
	if e.Tier >= event.TierDetails && (!cs.hasInput || hookEvent == "PreToolUse") {
		in, parsedInput = parseToolInput(h.ToolInput), true
		if in.Command != "" || in.FilePath != "" || in.Pattern != "" || in.Description != "" {
			c.Command, c.FilePath, c.Pattern, c.Description = in.Command, in.FilePath, in.Pattern, in.Description
			cs.hasInput = true
		}
	}
	if e.LinesAdded != 0 || e.LinesRemoved != 0 {
		cs.lines = true
		c.LinesAdded, c.LinesRemoved = e.LinesAdded, e.LinesRemoved
	}

	var status string
	switch hookEvent {
	case "PostToolUse":
		status = ToolOK
	case "PostToolUseFailure":
		status = ToolError
	case "PermissionDenied":
		status = ToolError
	default:
		return
	}
	// The latest closing event decides; events are visited in time order.
	cs.closed = true
	cs.closeTime = e.Time
	c.Status = status
	c.DurationMS = 0
	if h.DurationMS != nil && *h.DurationMS >= 0 {
		c.DurationMS = *h.DurationMS
	}
	c.Error = ""
	if status == ToolError && e.Tier >= event.TierDetails {
		c.Error = firstNonEmpty(h.Error, h.Reason)
		if c.Error == "" && hookEvent == "PermissionDenied" {
			c.Error = "permission denied"
		}
	}
	if status != ToolOK {
		return
	}
	resp := parseToolResponse(h.ToolResponse)
	if resp.AgentID != "" {
		cs.agentSpawn = resp.AgentID
	}
	if e.Tier >= event.TierDetails {
		if !parsedInput && resp.Type == "create" {
			in = parseToolInput(h.ToolInput)
		}
		c.Diff = resp.diff(in)
	}
	if e.Tier >= event.TierFull {
		c.Output = truncateOutput(resp.output())
	}
}

func betterUsage(a, b *event.Event) bool {
	// ccusage's rule: the main chain's reading beats a sidechain replay of the same
	// response, then the larger token total wins.
	if a.Usage.Sidechain != b.Usage.Sidechain {
		return !a.Usage.Sidechain
	}
	ta, tb := a.Usage.Total(), b.Usage.Total()
	if ta != tb {
		return ta > tb
	}
	return a.ID < b.ID
}

func sortedCalls(calls map[string]*callState, ids []string) []string {
	out := append([]string(nil), ids...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := calls[out[i]].call.StartedAt, calls[out[j]].call.StartedAt
		if !a.Equal(b) {
			return a.Before(b)
		}
		return out[i] < out[j]
	})
	return out
}

// isAncestor reports whether id is already above candidate in the tree, so attaching
// id under candidate would make a cycle.
func isAncestor(calls map[string]*callState, id, candidate string) bool {
	cur := candidate
	for i := 0; i < 64 && cur != ""; i++ {
		if cur == id {
			return true
		}
		cur = calls[cur].parentID
	}
	return false
}

func diffLines(hunks []DiffHunk) (added, removed int) {
	for _, h := range hunks {
		for _, l := range h.Lines {
			switch {
			case strings.HasPrefix(l, "+"):
				added++
			case strings.HasPrefix(l, "-"):
				removed++
			}
		}
	}
	return added, removed
}

// DiffLines counts the added and removed lines of a structuredPatch.
func DiffLines(hunks []DiffHunk) (added, removed int) { return diffLines(hunks) }

// CreateHunk is the diff of a file created with content: one hunk of added lines.
func CreateHunk(content string) []DiffHunk {
	if content == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	h := DiffHunk{OldStart: 0, OldLines: 0, NewStart: 1, NewLines: len(lines), Lines: make([]string, len(lines))}
	for i, l := range lines {
		h.Lines[i] = "+" + l
	}
	return []DiffHunk{h}
}

// MaxOutputBytes caps a tool call's output in the projection. Stores rewrite a session's
// projection on every ingest and the page shows the start of an output anyway; the whole
// output stays in the session's raw events.
const MaxOutputBytes = 64 << 10

func truncateOutput(s string) string {
	if len(s) <= MaxOutputBytes {
		return s
	}
	cut := MaxOutputBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n… [%d more bytes in the event timeline]", len(s)-cut)
}

func round9(f float64) float64 { return math.Round(f*1e9) / 1e9 }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
