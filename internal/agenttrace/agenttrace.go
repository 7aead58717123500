// Package agenttrace holds agent-trace's domain: the session model that events are projected
// into (by internal/projection), and the storage ports every adapter implements
// (internal/sqlite; internal/postgres, which hands derived rows to an AnalyticsBackend
// such as internal/clickhouse). It depends on nothing but the event envelope, so
// adapters, the API and the dashboard all speak the same types and no adapter needs
// another.
package agenttrace

import (
	"context"
	"errors"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// Session statuses. A session is ended only by SessionEnd; Stop ends a turn, not a session,
// and a resumed session becomes active again. A session without a SessionEnd whose last
// event is older than the idle time (a closed terminal, an imported transcript) reads as
// idle: stores decide it when read, since it depends on the clock, not on the events.
const (
	StatusActive = "active"
	StatusIdle   = "idle"
	StatusEnded  = "ended"
)

// DefaultIdleAfter is how long an active session may go without an event before it
// reads as idle.
const DefaultIdleAfter = 30 * time.Minute

// MarkIdle sets an active session whose last event is before cutoff to idle. A zero
// cutoff marks nothing.
func MarkIdle(s *SessionSummary, cutoff time.Time) {
	if s.Status == StatusActive && !cutoff.IsZero() && s.LastEventAt.Before(cutoff) {
		s.Status = StatusIdle
	}
}

// Tool call statuses.
const (
	ToolOK      = "ok"
	ToolError   = "error"
	ToolPending = "pending"
	// ToolRejected is a call whose use was refused (OTel's tool_decision said reject)
	// and that never ran: it has no result.
	ToolRejected = "rejected"
)

// Usage is a token count broken down the way Anthropic prices it.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheCreation5mTokens    int64 `json:"cache_creation_5m_input_tokens"`
	CacheCreation1hTokens    int64 `json:"cache_creation_1h_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	// WebSearchRequests are billed per request, not per token.
	WebSearchRequests int64 `json:"web_search_requests,omitempty"`
}

// Total is every token of every kind.
func (u Usage) Total() int64 {
	return u.InputTokens + u.OutputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

// Add returns u + v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		InputTokens:              u.InputTokens + v.InputTokens,
		OutputTokens:             u.OutputTokens + v.OutputTokens,
		CacheCreationInputTokens: u.CacheCreationInputTokens + v.CacheCreationInputTokens,
		CacheCreation5mTokens:    u.CacheCreation5mTokens + v.CacheCreation5mTokens,
		CacheCreation1hTokens:    u.CacheCreation1hTokens + v.CacheCreation1hTokens,
		CacheReadInputTokens:     u.CacheReadInputTokens + v.CacheReadInputTokens,
		WebSearchRequests:        u.WebSearchRequests + v.WebSearchRequests,
	}
}

// SessionSummary is what a session list shows: one row per session, no children.
type SessionSummary struct {
	ID                string     `json:"id"`
	StartedAt         time.Time  `json:"started_at"`
	EndedAt           *time.Time `json:"ended_at"`
	LastEventAt       time.Time  `json:"last_event_at"`
	Status            string     `json:"status"`
	DurationMS        int64      `json:"duration_ms"`
	CWD               string     `json:"cwd"`
	Repo              string     `json:"repo"`
	Branch            string     `json:"branch"`
	Branches          []string   `json:"branches"`
	Models            []string   `json:"models"`
	ClaudeCodeVersion string     `json:"claude_code_version,omitempty"`
	User              string     `json:"user"`
	Host              string     `json:"host"`
	Tier              int        `json:"tier"`
	FirstPrompt       string     `json:"first_prompt,omitempty"` // tier 2 and above
	PromptCount       int        `json:"prompt_count"`
	ToolCallCount     int        `json:"tool_call_count"`
	ErrorCount        int        `json:"error_count"`
	CommitCount       int        `json:"commit_count"`
	PRCount           int        `json:"pr_count"`
	LinesAdded        int        `json:"lines_added"`
	LinesRemoved      int        `json:"lines_removed"`
	Usage             Usage      `json:"usage"`
	CostUSD           *float64   `json:"cost_usd"`          // null when a model could not be priced
	ReportedCostUSD   *float64   `json:"reported_cost_usd"` // Claude Code's own estimate, when known
	UnpricedModels    []string   `json:"unpriced_models,omitempty"`
	EventCount        int        `json:"event_count"`
	// What Claude Code's own telemetry (OTel) adds. OTelCostUSD is the sum of its
	// api_request cost_usd, once per request: an estimate shown beside ours, never summed
	// with it. APIErrorCount counts failed API attempts (api_error), beside ErrorCount,
	// which counts failed tool calls. Active time is the active_time.total metric.
	OTelCostUSD       *float64 `json:"otel_cost_usd"`
	APIErrorCount     int      `json:"api_error_count"`
	ActiveUserSeconds float64  `json:"active_user_seconds"`
	ActiveCLISeconds  float64  `json:"active_cli_seconds"`
	// OTelPRCount is the pull_request.count metric: PRs Claude Code says it created,
	// shown beside PRCount (the PRs whose URL we saw).
	OTelPRCount int `json:"otel_pr_count"`
}

// Session is the full projection of one Claude Code session.
type Session struct {
	SessionSummary
	Prompts      []Prompt      `json:"prompts"`
	Commits      []Commit      `json:"commits"`
	PullRequests []PullRequest `json:"pull_requests"`
	// Subagents are the subagents OTel's subagent_completed reported, by agent ID.
	Subagents []Subagent `json:"subagents,omitempty"`
}

// Subagent is what Claude Code's subagent_completed says of one subagent (agent_id).
type Subagent struct {
	AgentID     string `json:"agent_id"`
	Type        string `json:"type,omitempty"`
	Model       string `json:"model,omitempty"`
	TotalTokens int64  `json:"total_tokens"`
	ToolUses    int64  `json:"tool_uses"`
	DurationMS  int64  `json:"duration_ms"`
}

// APIRequest is one API request of a prompt, or one failed attempt: the tokens and
// cost we count for it (the transcript's reading, else OTel's), and what OTel's
// api_request or api_error adds.
type APIRequest struct {
	RequestID   string    `json:"request_id,omitempty"`
	Time        time.Time `json:"time"`
	Model       string    `json:"model,omitempty"`
	Usage       Usage     `json:"usage"`
	CostUSD     *float64  `json:"cost_usd"`               // ours; null when unpriced or for an error
	OTelCostUSD *float64  `json:"otel_cost_usd"`          // Claude Code's estimate, when OTel reported it
	DurationMS  int64     `json:"duration_ms,omitempty"`  //
	TTFTMS      int64     `json:"ttft_ms,omitempty"`      // time to first token
	QuerySource string    `json:"query_source,omitempty"` // main, subagent, auxiliary, …
	Attempt     int64     `json:"attempt,omitempty"`      // the failed attempt (retries exhausted: the total)
	StatusCode  int64     `json:"status_code,omitempty"`  //
	Error       string    `json:"error,omitempty"`        // set for a failed attempt
	// Sources says who reported it: "transcript", "otel" or "transcript+otel".
	Sources string `json:"sources"`
}

// Prompt is one user prompt (a prompt_id) and everything it caused.
type Prompt struct {
	ID    string `json:"id"`
	Index int    `json:"index"` // 0-based, in order of submission
	Text  string `json:"text,omitempty"`
	// Origin is set on a user turn Claude Code injected rather than a person typed
	// (task-notification, local-command, compact-summary, interrupted): the replay
	// shows it as a system note, and it is not counted in prompt_count.
	Origin       string        `json:"origin,omitempty"`
	StartedAt    time.Time     `json:"started_at"`
	DurationMS   int64         `json:"duration_ms"`
	Usage        Usage         `json:"usage"`
	CostUSD      *float64      `json:"cost_usd"`
	Models       []string      `json:"models"`
	Response     string        `json:"response,omitempty"` // tier 3
	ToolCalls    []ToolCall    `json:"tool_calls"`
	Commits      []Commit      `json:"commits"`
	PullRequests []PullRequest `json:"pull_requests"`
	LinesAdded   int           `json:"lines_added"`
	LinesRemoved int           `json:"lines_removed"`
	ErrorCount   int           `json:"error_count"`
	// Requests are the prompt's API requests and failed attempts, by time.
	Requests []APIRequest `json:"requests,omitempty"`
}

// ToolCall is one tool_use_id, however many hook events it had.
type ToolCall struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	DurationMS int64      `json:"duration_ms"`
	AgentID    string     `json:"agent_id,omitempty"` // set when a subagent made the call
	// Decision is OTel's tool_decision (accept, reject) and who made it (config, user…).
	Decision       string `json:"decision,omitempty"`
	DecisionSource string `json:"decision_source,omitempty"`
	Error          string `json:"error,omitempty"` // tier 2 and above
	// Input summary (tier 2 and above).
	Command     string `json:"command,omitempty"`
	FilePath    string `json:"file_path,omitempty"`
	Pattern     string `json:"pattern,omitempty"`
	Description string `json:"description,omitempty"`
	// Diff is the edit's structuredPatch (tier 2 and above).
	Diff         []DiffHunk `json:"diff,omitempty"`
	LinesAdded   int        `json:"lines_added"`
	LinesRemoved int        `json:"lines_removed"`
	Output       string     `json:"output,omitempty"` // tier 3
	// Children are the calls a subagent made, under the Agent call that launched it.
	Children []ToolCall `json:"children,omitempty"`
}

// DiffHunk is one hunk of Claude Code's structuredPatch.
type DiffHunk struct {
	OldStart int      `json:"oldStart"`
	OldLines int      `json:"oldLines"`
	NewStart int      `json:"newStart"`
	NewLines int      `json:"newLines"`
	Lines    []string `json:"lines"`
}

// Commit is a commit produced during a session.
type Commit struct {
	SHA          string    `json:"sha"`
	SessionID    string    `json:"session_id"`
	PromptID     string    `json:"prompt_id"`
	ToolUseID    string    `json:"tool_use_id,omitempty"`
	Message      string    `json:"message,omitempty"`
	Branch       string    `json:"branch"`
	Repo         string    `json:"repo"`
	CommittedAt  time.Time `json:"committed_at"`
	Files        []string  `json:"files,omitempty"`
	FilesChanged int       `json:"files_changed"`
	LinesAdded   int       `json:"lines_added"`
	LinesRemoved int       `json:"lines_removed"`
	User         string    `json:"user,omitempty"`
}

// PullRequest is a pull or merge request opened or viewed during a session.
type PullRequest struct {
	URL       string    `json:"url,omitempty"`
	Forge     string    `json:"forge"`
	Repo      string    `json:"repo"` // owner/name
	Number    int       `json:"number"`
	SessionID string    `json:"session_id"`
	PromptID  string    `json:"prompt_id"`
	SeenAt    time.Time `json:"seen_at"`
	User      string    `json:"user,omitempty"`
}

// IngestResult says what one Ingest call did.
type IngestResult struct {
	Stored     int      `json:"stored"`     // new events
	Duplicates int      `json:"duplicates"` // events whose ID was already stored
	Sessions   []string `json:"sessions"`   // sessions whose projection changed
}

// SessionFilter selects and orders sessions. Zero values mean "any".
type SessionFilter struct {
	From, To   time.Time // started_at within [From, To)
	User       string
	Repo       string
	Branch     string
	Status     string
	Model      string
	HasCommits *bool
	Query      string // text search over prompts (tier 2 and above)
	File       string // sessions that touched this file (tool call or commit): PathMatches
	Sort       string // "started_at" (default), "cost", "duration"
	Desc       bool   // newest/largest first; the API defaults to true
	Cursor     string // opaque, from a previous page
	Limit      int    // 1..200
}

// SessionPage is one page of sessions. NextCursor is empty on the last page.
type SessionPage struct {
	Sessions   []SessionSummary `json:"sessions"`
	NextCursor string           `json:"next_cursor"`
}

// EventPage is one page of a session's raw (tiered, redacted) events, oldest first.
type EventPage struct {
	Events     []event.Event `json:"events"`
	NextCursor string        `json:"next_cursor"`
}

// CommitFilter selects commits or pull requests. Zero values mean "any".
type CommitFilter struct {
	From, To  time.Time
	Repo      string
	User      string
	SessionID string
	SHA       string // commits whose SHA starts with these 4–40 hex digits; PRs ignore it
	Cursor    string
	Limit     int
}

// CommitPage is one page of commits, newest first.
type CommitPage struct {
	Commits    []Commit `json:"commits"`
	NextCursor string   `json:"next_cursor"`
}

// PullRequestPage is one page of pull requests, newest first.
type PullRequestPage struct {
	PullRequests []PullRequest `json:"pull_requests"`
	NextCursor   string        `json:"next_cursor"`
}

// Grouping for daily cost.
const (
	GroupBySession = "session"
	GroupByModel   = "model"
	GroupByUser    = "user"
	GroupByRepo    = "repo"
)

// DailyCost is one day's spend for one group key.
type DailyCost struct {
	Day     string  `json:"day"` // YYYY-MM-DD, UTC
	Key     string  `json:"key"` // session ID, model, user or repo
	CostUSD float64 `json:"cost_usd"`
	Usage   Usage   `json:"usage"`
}

// Summary totals everything in a time range.
type Summary struct {
	Sessions         int      `json:"sessions"`
	Prompts          int      `json:"prompts"`
	ToolCalls        int      `json:"tool_calls"`
	ToolErrors       int      `json:"tool_errors"`
	Commits          int      `json:"commits"`
	PullRequests     int      `json:"pull_requests"`
	LinesAdded       int      `json:"lines_added"`
	LinesRemoved     int      `json:"lines_removed"`
	Usage            Usage    `json:"usage"`
	CostUSD          float64  `json:"cost_usd"`
	CostPerCommitUSD *float64 `json:"cost_per_commit_usd"`
	UnpricedModels   []string `json:"unpriced_models,omitempty"`
}

// Add adds o's counts, tokens and cost to s; cost per commit is left to the caller
// (SetCostPerCommit), unpriced models are not merged.
func (s *Summary) Add(o Summary) {
	s.Sessions += o.Sessions
	s.Prompts += o.Prompts
	s.ToolCalls += o.ToolCalls
	s.ToolErrors += o.ToolErrors
	s.Commits += o.Commits
	s.PullRequests += o.PullRequests
	s.LinesAdded += o.LinesAdded
	s.LinesRemoved += o.LinesRemoved
	s.Usage = s.Usage.Add(o.Usage)
	s.CostUSD += o.CostUSD
}

// Token scopes, from least to most powerful. ScopeRead is the scope tokens had before
// tokens carried a user: it reads everything, like ScopeReadAll, so existing tokens keep
// working. ScopeReadOwn and ScopeReadTeam read only the sessions of the token's user or
// of its team's users.
const (
	ScopeIngest   = "ingest"
	ScopeRead     = "read"
	ScopeReadOwn  = "read:own"
	ScopeReadTeam = "read:team"
	ScopeReadAll  = "read:all"
	ScopeAdmin    = "admin"
)

// Token is an API token's record. The secret itself is never stored, only its hash.
type Token struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Scope string `json:"scope"`
	// User is whom the token belongs to: ingest stamps it on events and refuses events of
	// another user; read:own shows only this user's sessions. Empty for an unbound token
	// (made before tokens had users), which keeps the events' own user and reads all.
	User string `json:"user,omitempty"`
	// Team is the token's user's team, if any: read:team shows the sessions of every user
	// with a token of this team.
	Team       string     `json:"team,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Errors every Store returns for the same conditions, so the edge maps them to HTTP once.
var (
	ErrNotFound       = errors.New("not found")
	ErrInvalid        = errors.New("invalid request")
	ErrSchemaOutdated = errors.New("database schema is out of date")
)

// The storage contract is a set of narrow ports, each a few methods, so that a caller
// (or an adapter) depends only on what it uses. Store composes them for the edges (the
// API, the dashboard, the commands). Every method is safe for concurrent use.

// Ingester stores events.
type Ingester interface {
	// Ingest stores events and updates the projection of every session they touch, in one
	// all-or-nothing transaction. It is idempotent by event ID: an event already stored is
	// counted as a duplicate and changes nothing, unless PreferEvent prefers the new copy,
	// which then replaces the stored one. The order of events, within a call or across
	// calls, does not change the resulting projections. Events must be valid
	// (event.Validate); an invalid one fails the whole call with ErrInvalid.
	Ingest(ctx context.Context, events []event.Event) (IngestResult, error)
}

// Reader answers the session and git-outcome reads. Every read of Reader and Analytics
// honours the restriction WithVisibleUsers put on ctx: a session of another user reads
// as not found, and lists, commits, pull requests and totals leave it out.
type Reader interface {
	// ListSessions returns one page of session summaries matching f.
	ListSessions(ctx context.Context, f SessionFilter) (SessionPage, error)
	// Session returns the full projection of one session, or ErrNotFound.
	Session(ctx context.Context, id string) (*Session, error)
	// Events returns one page of a session's stored events, oldest first, or ErrNotFound.
	Events(ctx context.Context, sessionID, cursor string, limit int) (EventPage, error)
	// Commits and PullRequests list git outcomes across sessions, newest first.
	Commits(ctx context.Context, f CommitFilter) (CommitPage, error)
	PullRequests(ctx context.Context, f CommitFilter) (PullRequestPage, error)
}

// Owners tells whose sessions are stored, for the ingest rule that keeps one user's
// token from writing into another user's session.
type Owners interface {
	// SessionUsers returns the user of each of ids whose session is stored; IDs of
	// sessions not stored are absent from the map. It honours VisibleUsers(ctx) like
	// every read (callers checking ownership pass an unrestricted context).
	SessionUsers(ctx context.Context, ids []string) (map[string]string, error)
}

// Analytics answers the cost questions.
type Analytics interface {
	// DailyCost returns spend per UTC day in [from, to) per group key, days ascending.
	DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]DailyCost, error)
	// Summary totals sessions that started in [from, to).
	Summary(ctx context.Context, from, to time.Time) (Summary, error)
	// Breakdown totals sessions that started in [f.From, f.To) per user, repository or
	// repository and branch (f.By), largest cost first. The rows add up to Summary's
	// counts and tokens, and to its cost when every session could be priced.
	Breakdown(ctx context.Context, f BreakdownFilter) ([]BreakdownRow, error)
	// Tools reports the tool calls that started in [from, to): per tool and per MCP
	// server, and the failed commands that recur most.
	Tools(ctx context.Context, from, to time.Time) (ToolReport, error)
}

// ToolReport is what the Tools page shows of a range.
type ToolReport struct {
	Tools []ToolStat `json:"tools"` // most calls first
	// MCPServers totals the tools of each MCP server (mcp__<server>__<tool>).
	MCPServers []ToolStat `json:"mcp_servers"`
	// FailingCommands are the Bash commands (first line, tier 2 and above) that failed
	// most often, at most 20.
	FailingCommands []FailingCommand `json:"failing_commands"`
}

// ToolStat is the calls of one tool (or of one MCP server's tools) in a range.
type ToolStat struct {
	Name      string `json:"name"`                 // tool name, or the MCP server's name
	MCPServer string `json:"mcp_server,omitempty"` // for an MCP tool
	Calls     int    `json:"calls"`
	Errors    int    `json:"errors"`
	// Rejected counts calls refused by a permission decision (OTel's tool_decision).
	Rejected int `json:"rejected"`
	// Duration percentiles of the finished calls, in milliseconds (nearest rank).
	P50MS int64 `json:"p50_ms"`
	P95MS int64 `json:"p95_ms"`
}

// FailingCommand is a command that failed, with how often.
type FailingCommand struct {
	Command      string    `json:"command"`
	Failures     int       `json:"failures"`
	LastFailedAt time.Time `json:"last_failed_at"`
}

// BreakdownFilter is what a Breakdown totals: the sessions that started in [From, To)
// (a zero end is open), per By (BreakdownBy*); with Repo or User set, only that
// repository's or person's sessions, as their pages show them.
type BreakdownFilter struct {
	From, To   time.Time
	By         string
	Repo, User string
}

// What a Breakdown groups by.
const (
	BreakdownByUser   = "user"
	BreakdownByTeam   = "team" // the users' teams (agent-trace-server user create --team)
	BreakdownByRepo   = "repo"
	BreakdownByBranch = "branch" // repository and branch
)

// BreakdownRow is the totals of one user, repository, or repository and branch: the
// Summary fields (cost of the priced sessions; unpriced_models left empty) and how many
// sessions could not be priced.
type BreakdownRow struct {
	User   string `json:"user,omitempty"`
	Team   string `json:"team,omitempty"`
	Repo   string `json:"repo,omitempty"`
	Branch string `json:"branch,omitempty"`
	Summary
	Unpriced      int       `json:"unpriced_sessions"`
	LastStartedAt time.Time `json:"last_started_at"`
}

// Eraser erases sessions (on request and for retention).
type Eraser interface {
	// DeleteSession erases a session and every event, prompt, tool call, commit and PR
	// of it. ErrNotFound when there is no such session.
	DeleteSession(ctx context.Context, id string) error
	// DeleteBefore erases every session whose last event is older than t (retention) and
	// returns how many it erased.
	DeleteBefore(ctx context.Context, t time.Time) (int, error)
}

// TelemetrySources remembers when Claude Code's own telemetry (OTLP) last arrived from
// each installation, named by its OTel user.id (a device id Claude Code keeps in its
// global config), so a machine can ask whether its telemetry reaches the server whichever
// replica received it and across restarts.
type TelemetrySources interface {
	// SawTelemetry records that telemetry from source arrived at t; an earlier time than
	// the one stored changes nothing.
	SawTelemetry(ctx context.Context, source string, at time.Time) error
	// TelemetrySeen is when telemetry from source last arrived, "" meaning any source;
	// the zero time when none has.
	TelemetrySeen(ctx context.Context, source string) (time.Time, error)
}

// TokenStore keeps API tokens' records.
type TokenStore interface {
	// CreateToken stores a token's record and the hash of its secret.
	CreateToken(ctx context.Context, t Token, secretHash string) error
	// Tokens lists every token, revoked ones included.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks a token revoked; ErrNotFound when there is no such token.
	RevokeToken(ctx context.Context, id string) error
	// TokenBySecretHash returns the live (unrevoked) token with that hash, or ErrNotFound.
	TokenBySecretHash(ctx context.Context, secretHash string) (*Token, error)
	// RevokeUserTokens revokes every live token of user and returns how many it revoked
	// (0 for an unknown user: no error), so disabling a user shuts them out at once.
	RevokeUserTokens(ctx context.Context, user string) (int, error)
}

// User is a person tokens belong to (Token.User names them), in at most one team.
type User struct {
	Name       string     `json:"name"`
	Team       string     `json:"team,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// UserStore keeps the users tokens belong to.
type UserStore interface {
	// CreateUser stores a new user. An empty name, or a name already stored (disabled or
	// not), is ErrInvalid.
	CreateUser(ctx context.Context, u User) error
	// Users lists every user, disabled ones included, by name.
	Users(ctx context.Context) ([]User, error)
	// DisableUser marks a user disabled and revokes every live token of theirs in the
	// same transaction, returning how many tokens it revoked. ErrNotFound when there is
	// no such user; disabling a disabled user revokes what is still live (normally 0).
	DisableUser(ctx context.Context, name string) (int, error)
}

// Store is the whole storage contract, what the edges are handed.
type Store interface {
	Ingester
	Reader
	Owners
	Analytics
	Eraser
	TokenStore
	TelemetrySources
	UserStore
	DashboardSessions
	AuditLog
	BudgetStore

	// Ping reports whether storage is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// EventRecord is one stored event as an event log outside the store of record keeps it.
type EventRecord struct {
	ID, SessionID, Kind string
	TimeMS              int64
	User, Repo, Model   string
	Body                []byte // the stored encoding
	Version             uint64 // the usage total for usage events, else 0: the larger copy wins
}

// UsageRecord is one priced API response as a session projection counted it, or a
// tombstone (Deleted) that hides it. The record with the largest Version per EventID wins.
type UsageRecord struct {
	EventID, SessionID string
	TimeMS             int64
	SessionStartedMS   int64
	Model, User, Repo  string
	Usage              Usage
	CostUSD            *float64
	Deleted            bool
	Version            uint64
}

// UsageChange is one response's usage record before and after a re-projection: Old nil
// for a new response, New nil for one no longer counted (or erased). Version orders
// changes of one response: the larger wins.
type UsageChange struct {
	Old, New *UsageRecord
	Version  uint64
}

// OutboxBatch is a run of committed changes a store of record (PostgreSQL) keeps for a
// derived analytics store (ClickHouse), oldest first: event log rows and usage records to
// insert, then, when Erase is set, sessions to erase after them. Seqs identify the outbox
// rows, to acknowledge once the batch is shipped.
type OutboxBatch struct {
	Seqs   []int64
	Events []EventRecord
	Usage  []UsageRecord
	Erase  []string
}

// Empty reports whether the batch carries nothing to ship or acknowledge.
func (b *OutboxBatch) Empty() bool { return len(b.Seqs) == 0 }

// AnalyticsSink is a derived analytics store the shipper writes to. Writes are
// idempotent: receiving a row again is harmless, the copy with the larger Version wins.
type AnalyticsSink interface {
	// Write inserts event log rows and usage records, synchronously.
	Write(ctx context.Context, events []EventRecord, usage []UsageRecord) error
	// WriteSessionDays replaces the rollup of sessions with days, their complete current
	// totals (groups of theirs not in days are emptied), at version.
	WriteSessionDays(ctx context.Context, sessions []string, days []SessionDay, version uint64) error
	// EraseSessions removes the sessions' rows for good, possibly in the background (the
	// store of record hides them at once with tombstones first). Unknown sessions are no error.
	EraseSessions(ctx context.Context, ids []string) error
	// Ready reports whether the store answers and its schema is current.
	Ready(ctx context.Context) error
}

// AnalyticsLag says how far a derived analytics store trails the store of record.
type AnalyticsLag struct {
	// AsOf: every change committed before it is in the answer (when nothing waits, the
	// time of the answer).
	AsOf time.Time `json:"as_of"`
	// PendingRows are outbox rows (events, usage changes) not yet in the analytics store.
	PendingRows int64 `json:"pending_rows"`
}

// LagReporter is a store whose analytics come from a derived store that may lag.
type LagReporter interface {
	// AnalyticsLag is nil when analytics are answered by the store of record itself.
	AnalyticsLag(ctx context.Context) (*AnalyticsLag, error)
}

// UsageCost is the usage and priced cost of sessions started in a range.
type UsageCost struct {
	Usage          Usage
	CostUSD        float64
	UnpricedModels []string // models that could not be priced; nil when none
}

// CostAnalytics answers cost questions over the usage facts an AnalyticsSink received.
type CostAnalytics interface {
	// DailyCost is Analytics.DailyCost.
	DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]DailyCost, error)
	// UsageCost totals the usage and priced cost of sessions that started in [from, to):
	// the token and cost parts of Summary, from one source.
	UsageCost(ctx context.Context, from, to time.Time) (UsageCost, error)
}

// AnalyticsBackend is an analytics store beside a store of record: the shipper writes
// the derived rows to it and it answers the cost questions.
type AnalyticsBackend interface {
	AnalyticsSink
	CostAnalytics
}

// DayCounts are one UTC day's rows in an event log and its usage facts, for comparing a
// derived analytics store with the store of record (`clickhouse check`).
type DayCounts struct {
	Day       string // 2006-01-02
	Events    int64
	UsageRows int64 // live (not deleted) usage facts
	Tokens    int64 // every token of those usage facts
}

// SessionDay is one session's usage on one UTC day for one model, user, repo and
// pricing state, totalled: the analytics store's rollup row. Rows 0 means the group no
// longer has usage.
type SessionDay struct {
	SessionID        string
	Day              int64 // days since 1970-01-01
	Model, User      string
	Repo             string
	SessionStartedMS int64
	Priced           bool
	Rows             int64
	Usage            Usage
	CostUSD          float64
}
