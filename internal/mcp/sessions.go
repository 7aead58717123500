package mcp

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

const searchDescription = `Search past Claude Code sessions recorded by agent-trace, newest first. ` +
	`query finds sessions whose prompts contain the text (case-insensitive); repo, branch, user and ` +
	`the since/until range narrow the search. Answers each session's id, start, repo, branch, first ` +
	`prompt, matching prompts, counts and cost; get_session reads one in full.`

type searchInput struct {
	Query  string `json:"query,omitempty" jsonschema:"text to find in the prompts, case-insensitive substring"`
	Repo   string `json:"repo,omitempty" jsonschema:"repository, e.g. github.com/acme/app"`
	Branch string `json:"branch,omitempty" jsonschema:"git branch the session was on"`
	User   string `json:"user,omitempty" jsonschema:"user who ran the session"`
	Since  string `json:"since,omitempty" jsonschema:"sessions started at or after: RFC 3339, YYYY-MM-DD, or a span back from now such as 7d, 2w, 36h"`
	Until  string `json:"until,omitempty" jsonschema:"sessions started before: same forms as since"`
	Limit  int    `json:"limit,omitempty" jsonschema:"how many sessions, 1 to 50 (default 10)"`
}

// sessionHit is one session in a listing.
type sessionHit struct {
	ID          string   `json:"id"`
	StartedAt   string   `json:"started_at"`
	Status      string   `json:"status"`
	Repo        string   `json:"repo,omitempty"`
	Branch      string   `json:"branch,omitempty"`
	User        string   `json:"user,omitempty"`
	FirstPrompt string   `json:"first_prompt,omitempty"`
	Matches     []string `json:"matching_prompts,omitempty"`
	Prompts     int      `json:"prompts"`
	ToolCalls   int      `json:"tool_calls"`
	Errors      int      `json:"errors"`
	Commits     int      `json:"commits"`
	CostUSD     *float64 `json:"cost_usd,omitempty"`
}

type searchOutput struct {
	Sessions []sessionHit `json:"sessions"`
	More     bool         `json:"more"` // more sessions match than were listed
}

func (s *server) searchSessions(ctx context.Context, _ *sdk.CallToolRequest, in searchInput) (*sdk.CallToolResult, searchOutput, error) {
	out := searchOutput{Sessions: []sessionHit{}}
	n, err := limit(in.Limit, 10, 50)
	if err != nil {
		return nil, out, err
	}
	from, to, err := parseRange(in.Since, in.Until, s.now())
	if err != nil {
		return nil, out, err
	}
	page, err := s.store.ListSessions(ctx, agenttrace.SessionFilter{Query: in.Query, Repo: in.Repo, Branch: in.Branch,
		User: in.User, From: from, To: to, Desc: true, Limit: n})
	if err != nil {
		return nil, out, fmt.Errorf("search sessions: %w", err)
	}
	out.More = page.NextCursor != ""
	for _, sum := range page.Sessions {
		hit := newHit(sum)
		if in.Query != "" {
			// The listing says a prompt matched, not which: read the session for them.
			if sess, err := s.store.Session(ctx, sum.ID); err == nil {
				hit.Matches = matchingPrompts(sess, in.Query, 3)
			}
		}
		out.Sessions = append(out.Sessions, hit)
	}
	return text(renderHits(out.Sessions, out.More)), out, nil
}

func newHit(sum agenttrace.SessionSummary) sessionHit {
	return sessionHit{ID: sum.ID, StartedAt: stamp(sum.StartedAt), Status: sum.Status, Repo: sum.Repo, Branch: sum.Branch,
		User: sum.User, FirstPrompt: oneLine(sum.FirstPrompt, maxSnippetChars), Prompts: sum.PromptCount,
		ToolCalls: sum.ToolCallCount, Errors: sum.ErrorCount, Commits: sum.CommitCount, CostUSD: sum.CostUSD}
}

// matchingPrompts are up to n prompts of sess containing q (case-insensitive), as
// "#index: text" snippets.
func matchingPrompts(sess *agenttrace.Session, q string, n int) []string {
	var out []string
	lq := strings.ToLower(q)
	for _, p := range sess.Prompts {
		if len(out) == n {
			break
		}
		if strings.Contains(strings.ToLower(p.Text), lq) {
			out = append(out, fmt.Sprintf("#%d: %s", p.Index+1, oneLine(p.Text, maxSnippetChars)))
		}
	}
	return out
}

func renderHits(hits []sessionHit, more bool) string {
	if len(hits) == 0 {
		return "No session matches."
	}
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "session %s  %s  %s", h.ID, h.StartedAt, h.Status)
		if h.Repo != "" {
			fmt.Fprintf(&b, "  %s", h.Repo)
		}
		if h.Branch != "" {
			fmt.Fprintf(&b, " (%s)", h.Branch)
		}
		fmt.Fprintf(&b, "\n  %d prompt%s, %d tool call%s (%d error%s), %d commit%s, %s\n", h.Prompts, plural(h.Prompts),
			h.ToolCalls, plural(h.ToolCalls), h.Errors, plural(h.Errors), h.Commits, plural(h.Commits), dollars(h.CostUSD))
		if h.FirstPrompt != "" {
			fmt.Fprintf(&b, "  first prompt: %s\n", h.FirstPrompt)
		}
		for _, m := range h.Matches {
			fmt.Fprintf(&b, "  matching prompt %s\n", m)
		}
	}
	if more {
		b.WriteString("More sessions match: narrow the search or raise limit.\n")
	}
	return b.String()
}

const getDescription = `Read one recorded Claude Code session: its prompts (text as stored, long ones ` +
	`truncated), for each prompt the tool calls it made (tool counts, commands, files, errors), the ` +
	`commits and pull requests it produced, tokens and cost. session_id comes from search_sessions, ` +
	`find_file_history or find_commit.`

type getInput struct {
	SessionID string `json:"session_id" jsonschema:"the session's id"`
}

// promptView is one prompt as get_session shows it.
type promptView struct {
	Index     int      `json:"index"` // 1-based
	StartedAt string   `json:"started_at"`
	Text      string   `json:"text,omitempty"`
	Tools     string   `json:"tools,omitempty"` // "Bash×3 (1 error), Edit×2"
	Calls     []string `json:"calls,omitempty"` // the calls' commands and paths
	Commits   []string `json:"commits,omitempty"`
	CostUSD   *float64 `json:"cost_usd,omitempty"`
}

type sessionView struct {
	sessionHit
	EndedAt      string           `json:"ended_at,omitempty"`
	CWD          string           `json:"cwd,omitempty"`
	Models       []string         `json:"models,omitempty"`
	Usage        agenttrace.Usage `json:"usage"`
	PromptList   []promptView     `json:"prompt_list"`
	Omitted      int              `json:"prompts_omitted,omitempty"` // prompts left out of the middle
	OmittedAt    int              `json:"-"`                         // where in PromptList they were
	CommitList   []commitView     `json:"commit_list,omitempty"`
	PullRequests []string         `json:"pull_requests,omitempty"`
}

type commitView struct {
	SHA     string `json:"sha"`
	Message string `json:"message,omitempty"`
	Branch  string `json:"branch,omitempty"`
	Prompt  int    `json:"prompt,omitempty"` // 1-based index of the prompt that made it
}

func (s *server) getSession(ctx context.Context, _ *sdk.CallToolRequest, in getInput) (*sdk.CallToolResult, sessionView, error) {
	id := strings.TrimSpace(in.SessionID)
	if id == "" {
		return nil, sessionView{}, errors.New("session_id is required")
	}
	sess, err := s.store.Session(ctx, id)
	if errors.Is(err, agenttrace.ErrNotFound) {
		return nil, sessionView{}, fmt.Errorf("no session %q is recorded", id)
	}
	if err != nil {
		return nil, sessionView{}, fmt.Errorf("get session: %w", err)
	}
	v := newSessionView(sess)
	return text(renderSession(v)), v, nil
}

func newSessionView(sess *agenttrace.Session) sessionView {
	v := sessionView{sessionHit: newHit(sess.SessionSummary), CWD: sess.CWD, Models: sess.Models, Usage: sess.Usage,
		PromptList: []promptView{}}
	if sess.EndedAt != nil {
		v.EndedAt = stamp(*sess.EndedAt)
	}
	promptOf := map[string]int{}
	for _, p := range sess.Prompts {
		promptOf[p.ID] = p.Index + 1
	}
	v.PromptList, v.OmittedAt, v.Omitted = selectPrompts(sess.Prompts)
	for _, c := range sess.Commits {
		v.CommitList = append(v.CommitList, commitView{SHA: c.SHA, Message: oneLine(c.Message, maxSnippetChars), Branch: c.Branch,
			Prompt: promptOf[c.PromptID]})
	}
	for _, pr := range sess.PullRequests {
		v.PullRequests = append(v.PullRequests, firstNonEmpty(pr.URL, fmt.Sprintf("%s#%d", pr.Repo, pr.Number)))
	}
	return v
}

// selectPrompts is the prompts get_session shows: all of them while they fit in
// maxPrompts and maxSessionChars, else the first and the last (how the session started
// and where it ended), dropping from the middle; at and omitted say where and how many
// were left out.
func selectPrompts(prompts []agenttrace.Prompt) (views []promptView, at, omitted int) {
	views = make([]promptView, 0, min(len(prompts), maxPrompts))
	for i, p := range prompts {
		if len(prompts) > maxPrompts && i >= maxPrompts/2 && i < len(prompts)-maxPrompts/2 {
			continue
		}
		views = append(views, newPromptView(p))
	}
	size := 0
	for _, pv := range views {
		size += pv.size()
	}
	at = len(views) / 2
	for size > maxSessionChars && len(views) > 2 {
		at = len(views) / 2
		size -= views[at].size()
		views = append(views[:at], views[at+1:]...)
	}
	return views, at, len(prompts) - len(views)
}

// size is roughly how many characters a prompt's view takes in an answer.
func (pv promptView) size() int {
	n := len(pv.Text) + len(pv.Tools) + 64
	for _, c := range pv.Calls {
		n += len(c)
	}
	for _, c := range pv.Commits {
		n += len(c)
	}
	return n
}

func newPromptView(p agenttrace.Prompt) promptView {
	pv := promptView{Index: p.Index + 1, StartedAt: stamp(p.StartedAt), Text: truncate(p.Text, maxPromptChars), CostUSD: p.CostUSD}
	if p.Origin != "" {
		pv.Text = "[" + p.Origin + "] " + pv.Text
	}
	counts, errs := map[string]int{}, map[string]int{}
	var walk func([]agenttrace.ToolCall)
	walk = func(calls []agenttrace.ToolCall) {
		for _, c := range calls {
			counts[c.Name]++
			if c.Status == agenttrace.ToolError {
				errs[c.Name]++
			}
			if len(pv.Calls) < maxCallsShown {
				if d := describeCall(c); d != "" {
					pv.Calls = append(pv.Calls, d)
				}
			}
			walk(c.Children)
		}
	}
	walk(p.ToolCalls)
	pv.Tools = toolCounts(counts, errs)
	for _, c := range p.Commits {
		pv.Commits = append(pv.Commits, shortSHA(c.SHA)+" "+oneLine(c.Message, maxCommandChars))
	}
	return pv
}

// describeCall is what a call did in one line: its command, path or pattern, and its
// error; "" for a call with nothing to show (tier 1 keeps no inputs).
func describeCall(c agenttrace.ToolCall) string {
	what := firstNonEmpty(c.Command, c.FilePath, c.Pattern, c.Description)
	if what == "" && c.Error == "" {
		return ""
	}
	d := c.Name + ": " + oneLine(what, maxCommandChars)
	if c.Status == agenttrace.ToolError {
		d += " → error"
		if c.Error != "" {
			d += ": " + oneLine(c.Error, maxCommandChars)
		}
	}
	return d
}

// toolCounts is "Bash×3 (1 error), Edit×2", by count then name.
func toolCounts(counts, errs map[string]int) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s×%d", n, counts[n])
		if e := errs[n]; e > 0 {
			parts[i] += fmt.Sprintf(" (%d error%s)", e, plural(e))
		}
	}
	return strings.Join(parts, ", ")
}

func renderSession(v sessionView) string {
	var b strings.Builder
	b.WriteString(renderHits([]sessionHit{v.sessionHit}, false))
	fmt.Fprintf(&b, "  tokens: %d input, %d output, %d cache write, %d cache read",
		v.Usage.InputTokens, v.Usage.OutputTokens, v.Usage.CacheCreationInputTokens, v.Usage.CacheReadInputTokens)
	if len(v.Models) > 0 {
		fmt.Fprintf(&b, "; models: %s", strings.Join(v.Models, ", "))
	}
	b.WriteString("\n")
	for i, p := range v.PromptList {
		if v.Omitted > 0 && i == v.OmittedAt {
			fmt.Fprintf(&b, "\n[%d prompts omitted]\n", v.Omitted)
		}
		fmt.Fprintf(&b, "\nprompt %d (%s, %s): %s\n", p.Index, p.StartedAt, dollars(p.CostUSD), p.Text)
		if p.Tools != "" {
			fmt.Fprintf(&b, "  tools: %s\n", p.Tools)
		}
		for _, c := range p.Calls {
			fmt.Fprintf(&b, "    %s\n", c)
		}
		for _, c := range p.Commits {
			fmt.Fprintf(&b, "  commit %s\n", c)
		}
	}
	for _, pr := range v.PullRequests {
		fmt.Fprintf(&b, "pull request: %s\n", pr)
	}
	return b.String()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func shortSHA(sha string) string { return sha[:min(len(sha), 12)] }
