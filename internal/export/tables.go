package export

import (
	"context"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// table is an exporter from its column names and a function that writes its rows.
type table struct {
	cols []string
	fn   func(ctx context.Context, r Reader, req Request, w rowWriter) error
}

func (t table) columns() []string { return t.cols }

func (t table) rows(ctx context.Context, r Reader, req Request, w rowWriter) error {
	return t.fn(ctx, r, req, w)
}

var usageCols = []string{"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}

func usageVals(u agenttrace.Usage) []any {
	return []any{u.InputTokens, u.OutputTokens, u.CacheCreationInputTokens, u.CacheReadInputTokens}
}

func cols(names ...[]string) []string {
	var out []string
	for _, n := range names {
		out = append(out, n...)
	}
	return out
}

func vals(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var sessionTable = table{
	cols: cols([]string{"session_id", "started_at", "ended_at", "last_event_at", "status", "duration_ms",
		"user", "host", "repo", "branch", "branches", "models", "claude_code_version", "tier",
		"first_prompt", "prompt_count", "tool_call_count", "error_count", "api_error_count",
		"commit_count", "pr_count", "lines_added", "lines_removed"}, usageCols,
		[]string{"cost_usd", "reported_cost_usd", "otel_cost_usd", "active_user_seconds", "active_cli_seconds", "event_count"}),
	fn: func(ctx context.Context, r Reader, req Request, w rowWriter) error {
		return eachSession(ctx, r, req.Sessions, func(s agenttrace.SessionSummary) error {
			return w.row(vals([]any{s.ID, s.StartedAt, s.EndedAt, s.LastEventAt, s.Status, s.DurationMS,
				s.User, s.Host, s.Repo, s.Branch, s.Branches, s.Models, s.ClaudeCodeVersion, s.Tier,
				s.FirstPrompt, s.PromptCount, s.ToolCallCount, s.ErrorCount, s.APIErrorCount,
				s.CommitCount, s.PRCount, s.LinesAdded, s.LinesRemoved}, usageVals(s.Usage),
				[]any{s.CostUSD, s.ReportedCostUSD, s.OTelCostUSD, s.ActiveUserSeconds, s.ActiveCLISeconds, s.EventCount})...)
		})
	},
}

var promptTable = table{
	cols: cols([]string{"session_id", "prompt_id", "index", "origin", "started_at", "duration_ms",
		"user", "repo", "text", "models", "tool_call_count", "error_count", "commit_count",
		"lines_added", "lines_removed"}, usageCols, []string{"cost_usd"}),
	fn: func(ctx context.Context, r Reader, req Request, w rowWriter) error {
		return eachSessionDetail(ctx, r, req.Sessions, func(s *agenttrace.Session) error {
			for _, p := range s.Prompts {
				err := w.row(vals([]any{s.ID, p.ID, p.Index, p.Origin, p.StartedAt, p.DurationMS,
					s.User, s.Repo, p.Text, p.Models, countCalls(p.ToolCalls), p.ErrorCount, len(p.Commits),
					p.LinesAdded, p.LinesRemoved}, usageVals(p.Usage), []any{p.CostUSD})...)
				if err != nil {
					return err
				}
			}
			return nil
		})
	},
}

func countCalls(calls []agenttrace.ToolCall) int {
	n := len(calls)
	for _, c := range calls {
		n += countCalls(c.Children)
	}
	return n
}

var toolCallTable = table{
	cols: []string{"session_id", "prompt_id", "tool_use_id", "parent_tool_use_id", "agent_id", "name",
		"status", "started_at", "ended_at", "duration_ms", "decision", "decision_source", "error",
		"command", "file_path", "pattern", "description", "lines_added", "lines_removed", "user", "repo"},
	fn: func(ctx context.Context, r Reader, req Request, w rowWriter) error {
		return eachSessionDetail(ctx, r, req.Sessions, func(s *agenttrace.Session) error {
			for _, p := range s.Prompts {
				if err := writeCalls(w, s, p.ID, "", p.ToolCalls); err != nil {
					return err
				}
			}
			return nil
		})
	},
}

// writeCalls writes calls and, after each, the calls its subagent made, with the
// launching call as their parent.
func writeCalls(w rowWriter, s *agenttrace.Session, promptID, parent string, calls []agenttrace.ToolCall) error {
	for _, c := range calls {
		err := w.row(s.ID, promptID, c.ID, parent, c.AgentID, c.Name,
			c.Status, c.StartedAt, c.EndedAt, c.DurationMS, c.Decision, c.DecisionSource, c.Error,
			c.Command, c.FilePath, c.Pattern, c.Description, c.LinesAdded, c.LinesRemoved, s.User, s.Repo)
		if err != nil {
			return err
		}
		if err := writeCalls(w, s, promptID, c.ID, c.Children); err != nil {
			return err
		}
	}
	return nil
}

var commitTable = table{
	cols: []string{"sha", "session_id", "prompt_id", "tool_use_id", "committed_at", "user", "repo", "branch",
		"message", "files_changed", "lines_added", "lines_removed", "files"},
	fn: func(ctx context.Context, r Reader, req Request, w rowWriter) error {
		f := agenttrace.CommitFilter{From: req.Sessions.From, To: req.Sessions.To, Repo: req.Sessions.Repo,
			User: req.Sessions.User, Limit: pageSize}
		for {
			page, err := r.Commits(ctx, f)
			if err != nil {
				return err
			}
			for _, c := range page.Commits {
				if err := w.row(c.SHA, c.SessionID, c.PromptID, c.ToolUseID, c.CommittedAt, c.User, c.Repo, c.Branch,
					c.Message, c.FilesChanged, c.LinesAdded, c.LinesRemoved, c.Files); err != nil {
					return err
				}
			}
			if page.NextCursor == "" {
				return nil
			}
			f.Cursor = page.NextCursor
		}
	},
}

var costTable = table{
	cols: cols([]string{"day", "group_by", "key", "cost_usd"}, usageCols),
	fn: func(ctx context.Context, r Reader, req Request, w rowWriter) error {
		groupBy := req.GroupBy
		if groupBy == "" {
			groupBy = agenttrace.GroupByModel
		}
		from, to := req.Sessions.From, req.Sessions.To
		if to.IsZero() { // as the API's daily cost: the last 30 days, today included
			to = time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		}
		if from.IsZero() {
			from = to.Add(-30 * 24 * time.Hour)
		}
		days, err := r.DailyCost(ctx, from, to, groupBy)
		if err != nil {
			return err
		}
		for _, d := range days {
			if err := w.row(vals([]any{d.Day, groupBy, d.Key, d.CostUSD}, usageVals(d.Usage))...); err != nil {
				return err
			}
		}
		return nil
	},
}
