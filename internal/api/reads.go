package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/live"
)

type listSessionsInput struct {
	Cursor string `query:"cursor" doc:"Opaque cursor from a previous page's next_cursor."`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	SessionFilterInput
}

// SessionFilterInput selects sessions: the list's filters and order, shared by the list
// and the exports (exported, since huma reads only exported embedded structs).
type SessionFilterInput struct {
	From       time.Time `query:"from" doc:"Only sessions started at or after this time (RFC 3339)." example:"2026-11-01T00:00:00Z"`
	To         time.Time `query:"to" doc:"Only sessions started before this time (RFC 3339)."`
	User       string    `query:"user" doc:"User name, as set at hook init." example:"ada"`
	Repo       string    `query:"repo" doc:"Normalised repository remote." example:"github.com/agent-trace/agent-trace"`
	Branch     string    `query:"branch" doc:"A branch the session worked on." example:"main"`
	Status     string    `query:"status" enum:"active,idle,ended" doc:"Session status: ended (a SessionEnd came), idle (no event for the server's idle time, 30 minutes by default) or active."`
	Model      string    `query:"model" doc:"A model the session used." example:"claude-opus-4-5"`
	HasCommits string    `query:"has_commits" enum:"true,false" doc:"Only sessions with (true) or without (false) commits."`
	Q          string    `query:"q" doc:"Text search over prompts (tier 2 and above)."`
	Sort       string    `query:"sort" enum:"started_at,cost,duration" default:"started_at" doc:"Sort key."`
	Order      string    `query:"order" enum:"asc,desc" default:"desc" doc:"Sort direction."`
}

func (in *SessionFilterInput) filter() agenttrace.SessionFilter {
	f := agenttrace.SessionFilter{
		From: in.From, To: in.To,
		User: in.User, Repo: in.Repo, Branch: in.Branch, Status: in.Status, Model: in.Model,
		Query: in.Q,
		Sort:  in.Sort,
		Desc:  in.Order != "asc",
	}
	if in.HasCommits != "" {
		b := in.HasCommits == "true"
		f.HasCommits = &b
	}
	return f
}

type sessionPageOutput struct{ Body agenttrace.SessionPage }

type sessionIDInput struct {
	ID string `path:"id" maxLength:"128" doc:"Claude Code session_id." example:"3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"`
}

type sessionOutput struct{ Body *agenttrace.Session }

type eventsInput struct {
	ID     string `path:"id" maxLength:"128" doc:"Claude Code session_id."`
	Cursor string `query:"cursor" doc:"Opaque cursor from a previous page's next_cursor."`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"200" doc:"Page size."`
}

type eventPageOutput struct{ Body agenttrace.EventPage }

func (a *API) registerSessions(api huma.API) {
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "list-sessions",
		Method:      http.MethodGet,
		Path:        "/v1/sessions",
		Summary:     "List sessions",
		Description: "One page of session summaries, newest first by default. Pagination is by cursor and stays stable while new sessions arrive.",
		Tags:        []string{"Sessions"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, agenttrace.SessionPage{Sessions: []agenttrace.SessionSummary{exSummary}, NextCursor: "eyJ0IjoiMjAyNi0xMS0yNFQwOTozMDowMFoiLCJpZCI6IjNmMWMifQ"}), agenttrace.ScopeRead), a.listSessions)

	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "get-session",
		Method:      http.MethodGet,
		Path:        "/v1/sessions/{id}",
		Summary:     "Get a session",
		Description: "The full session: summary, prompts in order with their tool calls (subagent calls nested under the Agent call that launched them), commits and pull requests.",
		Tags:        []string{"Sessions"},
		Errors:      []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, exSession), agenttrace.ScopeRead), a.getSession)

	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "list-session-events",
		Method:      http.MethodGet,
		Path:        "/v1/sessions/{id}/events",
		Summary:     "List a session's raw events",
		Description: "The stored (tiered, redacted) events of one session, oldest first.",
		Tags:        []string{"Sessions"},
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, agenttrace.EventPage{Events: []event.Event{exEvent}, NextCursor: ""}), agenttrace.ScopeRead), a.sessionEvents)

	huma.Register(api, scoped(huma.Operation{
		OperationID:   "delete-session",
		Method:        http.MethodDelete,
		Path:          "/v1/sessions/{id}",
		Summary:       "Erase a session",
		Description:   "Erases the session and every event, prompt, tool call, commit and pull request of it. Needs the admin scope.",
		Tags:          []string{"Sessions"},
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, agenttrace.ScopeAdmin), a.deleteSession)
}

func (a *API) listSessions(ctx context.Context, in *listSessionsInput) (*sessionPageOutput, error) {
	f := in.filter()
	f.Cursor, f.Limit = in.Cursor, in.Limit
	page, err := a.store.ListSessions(ctx, f)
	if err != nil {
		return nil, a.storeError(ctx, "list sessions", err)
	}
	if page.Sessions == nil {
		page.Sessions = []agenttrace.SessionSummary{}
	}
	return &sessionPageOutput{Body: page}, nil
}

func (a *API) getSession(ctx context.Context, in *sessionIDInput) (*sessionOutput, error) {
	s, err := a.store.Session(ctx, in.ID)
	if err != nil {
		return nil, a.storeError(ctx, "get session", err)
	}
	return &sessionOutput{Body: s}, nil
}

func (a *API) sessionEvents(ctx context.Context, in *eventsInput) (*eventPageOutput, error) {
	page, err := a.store.Events(ctx, in.ID, in.Cursor, in.Limit)
	if err != nil {
		return nil, a.storeError(ctx, "list events", err)
	}
	if page.Events == nil {
		page.Events = []event.Event{}
	}
	return &eventPageOutput{Body: page}, nil
}

func (a *API) deleteSession(ctx context.Context, in *sessionIDInput) (*struct{}, error) {
	e := audit.Actor(agenttrace.AuditEntry{Action: agenttrace.AuditSessionDelete, Target: in.ID,
		Remote: audit.Remote(ctx)}, auth.TokenFrom(ctx))
	if err := a.store.DeleteSession(ctx, in.ID); err != nil {
		e.Outcome, e.Detail = agenttrace.AuditFailed, err.Error()
		_ = a.audit.Record(context.WithoutCancel(ctx), e)
		return nil, a.storeError(ctx, "delete session", err)
	}
	// The session is gone either way; a failure to record it is logged by Record.
	_ = a.audit.Record(context.WithoutCancel(ctx), e)
	a.pub.Deleted(in.ID)
	return nil, nil
}

type commitFilterInput struct {
	Cursor    string    `query:"cursor" doc:"Opaque cursor from a previous page's next_cursor."`
	Limit     int       `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	From      time.Time `query:"from" doc:"At or after this time (RFC 3339)."`
	To        time.Time `query:"to" doc:"Before this time (RFC 3339)."`
	Repo      string    `query:"repo" doc:"Repository." example:"github.com/agent-trace/agent-trace"`
	User      string    `query:"user" doc:"User name." example:"ada"`
	SessionID string    `query:"session_id" doc:"Only this session's."`
}

func (in *commitFilterInput) filter() agenttrace.CommitFilter {
	return agenttrace.CommitFilter{From: in.From, To: in.To, Repo: in.Repo, User: in.User,
		SessionID: in.SessionID, Cursor: in.Cursor, Limit: in.Limit}
}

type commitPageOutput struct{ Body agenttrace.CommitPage }
type prPageOutput struct{ Body agenttrace.PullRequestPage }

func (a *API) registerGit(api huma.API) {
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "list-commits",
		Method:      http.MethodGet,
		Path:        "/v1/commits",
		Summary:     "List commits",
		Description: "Commits that sessions produced (a successful Bash tool call that moved HEAD), newest first.",
		Tags:        []string{"Git"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, agenttrace.CommitPage{Commits: []agenttrace.Commit{exCommit}}), agenttrace.ScopeRead), func(ctx context.Context, in *commitFilterInput) (*commitPageOutput, error) {
		page, err := a.store.Commits(ctx, in.filter())
		if err != nil {
			return nil, a.storeError(ctx, "list commits", err)
		}
		if page.Commits == nil {
			page.Commits = []agenttrace.Commit{}
		}
		return &commitPageOutput{Body: page}, nil
	})
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "list-pull-requests",
		Method:      http.MethodGet,
		Path:        "/v1/pull-requests",
		Summary:     "List pull requests",
		Description: "Pull and merge requests seen in sessions' tool output, newest first.",
		Tags:        []string{"Git"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, agenttrace.PullRequestPage{PullRequests: []agenttrace.PullRequest{exPR}}), agenttrace.ScopeRead), func(ctx context.Context, in *commitFilterInput) (*prPageOutput, error) {
		page, err := a.store.PullRequests(ctx, in.filter())
		if err != nil {
			return nil, a.storeError(ctx, "list pull requests", err)
		}
		if page.PullRequests == nil {
			page.PullRequests = []agenttrace.PullRequest{}
		}
		return &prPageOutput{Body: page}, nil
	})
}

// RangeInput is the from/to query of the analytics operations. It is exported because
// huma reads the query parameters of embedded structs only when they are exported: as
// an unexported embed, daily cost silently ignored from and to.
type RangeInput struct {
	From time.Time `query:"from" doc:"Start of the range (RFC 3339); default 30 days before to." example:"2026-11-01T00:00:00Z"`
	To   time.Time `query:"to" doc:"End of the range, exclusive (RFC 3339); default the end of today (UTC), so today is included."`
}

// bounds fills in the defaults: the last 30 days, today included.
func (in *RangeInput) bounds() (from, to time.Time, err error) {
	to = in.To
	if to.IsZero() {
		to = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	}
	from = in.From
	if from.IsZero() {
		from = to.Add(-30 * 24 * time.Hour)
	}
	if !from.Before(to) {
		return from, to, huma.Error422UnprocessableEntity("validation failed",
			&huma.ErrorDetail{Location: "query.from", Message: "must be before to", Value: from})
	}
	return from, to, nil
}

type dailyCostInput struct {
	RangeInput
	GroupBy string `query:"group_by" enum:"session,model,user,repo" default:"model" doc:"What each row's key is."`
}

type dailyCostOutput struct {
	Body struct {
		From    time.Time                `json:"from"`
		To      time.Time                `json:"to"`
		GroupBy string                   `json:"group_by"`
		Days    []agenttrace.DailyCost   `json:"days"`
		Lag     *agenttrace.AnalyticsLag `json:"analytics_lag,omitempty" doc:"Team store: how far the analytics store (ClickHouse) trails PostgreSQL; changes committed after as_of are not in this answer yet."`
	}
}

type summaryOutput struct {
	Body struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
		agenttrace.Summary
		Lag *agenttrace.AnalyticsLag `json:"analytics_lag,omitempty" doc:"Team store: how far the analytics store (ClickHouse), which answers usage and cost, trails PostgreSQL, which answers the counts; changes committed after as_of are not in usage and cost yet."`
	}
}

// analyticsLag is how far the store's analytics trail its store of record, read before
// the analytics query so the answer holds at least what it says; nil when they cannot
// trail (SQLite, PostgreSQL alone) or it cannot be told.
func (a *API) analyticsLag(ctx context.Context) *agenttrace.AnalyticsLag {
	r, ok := a.store.(agenttrace.LagReporter)
	if !ok {
		return nil
	}
	lag, err := r.AnalyticsLag(ctx)
	if err != nil {
		a.log.Warn("analytics lag", "err", err)
		return nil
	}
	return lag
}

func (a *API) registerAnalytics(api huma.API) {
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "daily-cost",
		Method:      http.MethodGet,
		Path:        "/v1/analytics/cost/daily",
		Summary:     "Daily cost",
		Description: "Spend per UTC day and group key (session, model, user or repo), days ascending.",
		Tags:        []string{"Analytics"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, map[string]any{"from": exStart.Truncate(24 * time.Hour), "to": exStart.Truncate(24 * time.Hour).Add(24 * time.Hour), "group_by": "model", "days": []agenttrace.DailyCost{{Day: "2026-11-24", Key: "claude-opus-4-5", CostUSD: exCost, Usage: exUsage}}}), agenttrace.ScopeRead), func(ctx context.Context, in *dailyCostInput) (*dailyCostOutput, error) {
		from, to, err := in.bounds()
		if err != nil {
			return nil, err
		}
		lag := a.analyticsLag(ctx)
		days, err := a.store.DailyCost(ctx, from, to, in.GroupBy)
		if err != nil {
			return nil, a.storeError(ctx, "daily cost", err)
		}
		if days == nil {
			days = []agenttrace.DailyCost{}
		}
		out := &dailyCostOutput{}
		out.Body.From, out.Body.To, out.Body.GroupBy, out.Body.Days, out.Body.Lag = from, to, in.GroupBy, days, lag
		return out, nil
	})
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "summary",
		Method:      http.MethodGet,
		Path:        "/v1/analytics/summary",
		Summary:     "Totals",
		Description: "Sessions, prompts, tool calls, commits, pull requests, lines, tokens, cost and cost per commit for sessions started in the range.",
		Tags:        []string{"Analytics"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, map[string]any{"from": exStart.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour), "to": exStart.Truncate(24 * time.Hour).Add(24 * time.Hour), "sessions": 1, "prompts": 1, "tool_calls": 2, "tool_errors": 0, "commits": 1, "pull_requests": 0, "lines_added": 12, "lines_removed": 3, "usage": exUsage, "cost_usd": exCost, "cost_per_commit_usd": exCost}), agenttrace.ScopeRead), func(ctx context.Context, in *RangeInput) (*summaryOutput, error) {
		from, to, err := in.bounds()
		if err != nil {
			return nil, err
		}
		lag := a.analyticsLag(ctx)
		s, err := a.store.Summary(ctx, from, to)
		if err != nil {
			return nil, a.storeError(ctx, "summary", err)
		}
		out := &summaryOutput{}
		out.Body.From, out.Body.To, out.Body.Summary, out.Body.Lag = from, to, s, lag
		return out, nil
	})
}

type streamInput struct {
	LastEventID string `header:"Last-Event-ID" doc:"Resume after this event ID (EventSource sends it on reconnect)."`
	Query       string `query:"last_event_id" doc:"Resume after this event ID, for clients that cannot set headers."`
	Session     string `query:"session" doc:"Only this session's changes."`
}

func (a *API) registerStream(api huma.API) {
	huma.Register(api, scoped(huma.Operation{
		OperationID: "stream",
		Method:      http.MethodGet,
		Path:        "/v1/stream",
		Summary:     "Live changes (Server-Sent Events)",
		Description: "A text/event-stream of changes: `session.created` (the summary), `session.updated` (the changed summary fields), `session.deleted`, `prompt.created`, `tool_call.updated`. Each event has an `id:`; reconnecting with Last-Event-ID resumes without missing one while it is still held (the last 10,000; on a team server, the last hour, on any server sharing the database). A `resync` event means the resume point is gone: refetch. A comment is sent every 15 s as heartbeat. Texts in a notice (a prompt, a command, an error, a first prompt) are cut to 1 KB and marked `truncated`: fetch the session for the whole. A client that falls 10,000 notices behind or does not read for 10 s is disconnected (counted in `agent_trace_sse_dropped_total`); on reconnect it resumes or gets `resync`. No snapshots: fetch the current state with the other operations.",
		Tags:        []string{"Live"},
		Responses: map[string]*huma.Response{
			"200": {
				Description: "The event stream.",
				Content: map[string]*huma.MediaType{"text/event-stream": {
					Schema:  &huma.Schema{Type: "string"},
					Example: "id: 1764072000000001\nevent: session.updated\ndata: {\"id\":\"3f1c…\",\"status\":\"ended\"}\n\n",
				}},
			},
		},
	}, agenttrace.ScopeRead), func(ctx context.Context, in *streamInput) (*huma.StreamResponse, error) {
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			r, w := unwrap(hctx)
			a.hub.ServeHTTP(w, r)
		}}, nil
	})
}

// Stream is the live hub's SSE handler behind the API's authentication (read scope),
// for mounting elsewhere, such as the dashboard.
func (a *API) Stream() http.Handler { return a.requireScope(agenttrace.ScopeRead, a.hub) }

var _ http.Handler = (*live.Hub)(nil)

type healthOutput struct {
	Body struct {
		Status   string   `json:"status" example:"ok" doc:"ok, or degraded: serving and ingesting, with the problems listed."`
		Degraded []string `json:"degraded,omitempty" doc:"What works less than fully, such as an unreachable ClickHouse (analytics answer 503 until it is back; nothing ingested is lost)."`
	}
}

// degrader is a store that can serve and ingest with a part of it down (the team store
// without ClickHouse).
type degrader interface {
	Degraded(ctx context.Context) []string
}

func (a *API) registerHealth(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "healthz",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness",
		Description: "200 while the process serves requests.",
		Tags:        []string{"Health"},
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		out := &healthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	if api != a.api {
		return
	}
	huma.Register(api, huma.Operation{
		OperationID: "readyz",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness",
		Description: "200 when storage is reachable (status degraded, with the problems, when a part the server can do without is not, such as ClickHouse), 503 otherwise.",
		Tags:        []string{"Health"},
		Errors:      []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		if err := a.store.Ping(ctx); err != nil {
			a.log.Warn("readiness", "err", err)
			return nil, huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("storage is unreachable"),
				http.Header{"Retry-After": {retryAfter}})
		}
		out := &healthOutput{}
		out.Body.Status = "ok"
		if d, ok := a.store.(degrader); ok {
			if out.Body.Degraded = d.Degraded(ctx); out.Body.Degraded != nil {
				out.Body.Status = "degraded"
			}
		}
		return out, nil
	})
}

type breakdownInput struct {
	RangeInput
	By   string `query:"by" enum:"user,team,repo,branch" default:"user" doc:"Group by user, team (agent-trace-server user create --team), repository, or repository and branch."`
	Repo string `query:"repo" maxLength:"512" doc:"Only this repository's sessions (e.g. by=branch&repo=github.com/acme/api for its branches)."`
	User string `query:"user" maxLength:"256" doc:"Only this user's sessions."`
}

type breakdownOutput struct {
	Body struct {
		From time.Time                 `json:"from"`
		To   time.Time                 `json:"to"`
		By   string                    `json:"by"`
		Rows []agenttrace.BreakdownRow `json:"rows"`
	}
}

func (a *API) registerBreakdown(api huma.API) {
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "breakdown",
		Method:      http.MethodGet,
		Path:        "/v1/analytics/breakdown",
		Summary:     "Totals per user, team, repository or branch",
		Description: "Sessions, prompts, tool calls and errors, commits, pull requests, lines, tokens, cost and cost per commit of the sessions started in the range, per user, per repository, or per repository and branch; largest cost first. The rows add up to /v1/analytics/summary's counts and tokens; cost is the sessions' own (unpriced sessions are counted apart).",
		Tags:        []string{"Analytics"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, map[string]any{"from": exStart.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour), "to": exStart.Truncate(24 * time.Hour).Add(24 * time.Hour), "by": "user",
		"rows": []agenttrace.BreakdownRow{{User: "ada", LastStartedAt: exStart, Summary: agenttrace.Summary{Sessions: 1, Prompts: 1, ToolCalls: 2, Commits: 1, LinesAdded: 12, LinesRemoved: 3, Usage: exUsage, CostUSD: exCost, CostPerCommitUSD: &exCost}}}}), agenttrace.ScopeRead),
		func(ctx context.Context, in *breakdownInput) (*breakdownOutput, error) {
			from, to, err := in.bounds()
			if err != nil {
				return nil, err
			}
			rows, err := a.store.Breakdown(ctx, agenttrace.BreakdownFilter{From: from, To: to, By: in.By, Repo: in.Repo, User: in.User})
			if err != nil {
				return nil, a.storeError(ctx, "breakdown", err)
			}
			if rows == nil {
				rows = []agenttrace.BreakdownRow{}
			}
			out := &breakdownOutput{}
			out.Body.From, out.Body.To, out.Body.By, out.Body.Rows = from, to, in.By, rows
			return out, nil
		})
}

type toolsOutput struct {
	Body struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
		agenttrace.ToolReport
	}
}

func (a *API) registerTools(api huma.API) {
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "tools",
		Method:      http.MethodGet,
		Path:        "/v1/analytics/tools",
		Summary:     "Tool calls per tool and MCP server",
		Description: "For the tool calls that started in the range: calls, failures, calls refused by a permission decision, and duration p50/p95 (nearest rank, finished calls) per tool and per MCP server (mcp__<server>__<tool>); and the Bash commands (first line, recorded from tier 2) that failed most.",
		Tags:        []string{"Analytics"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, map[string]any{"from": exStart.Add(-30 * 24 * time.Hour).Truncate(24 * time.Hour), "to": exStart.Truncate(24 * time.Hour).Add(24 * time.Hour),
		"tools":            []agenttrace.ToolStat{{Name: "Bash", Calls: 40, Errors: 6, P50MS: 900, P95MS: 12000}, {Name: "mcp__github__create_issue", MCPServer: "github", Calls: 2, P50MS: 800, P95MS: 950}},
		"mcp_servers":      []agenttrace.ToolStat{{Name: "github", MCPServer: "github", Calls: 2, P50MS: 800, P95MS: 950}},
		"failing_commands": []agenttrace.FailingCommand{{Command: "go test ./...", Failures: 5, LastFailedAt: exStart}}}), agenttrace.ScopeRead),
		func(ctx context.Context, in *RangeInput) (*toolsOutput, error) {
			from, to, err := in.bounds()
			if err != nil {
				return nil, err
			}
			rep, err := a.store.Tools(ctx, from, to)
			if err != nil {
				return nil, a.storeError(ctx, "tools", err)
			}
			out := &toolsOutput{}
			out.Body.From, out.Body.To, out.Body.ToolReport = from, to, rep
			return out, nil
		})
}
