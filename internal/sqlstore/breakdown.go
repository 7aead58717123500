package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Breakdown totals the sessions that started in [from, to) per user, repository, or
// repository and branch, from the sessions table both SQL stores keep. Cost is the
// sessions' own (the number the session list shows), so the rows add up to what a
// reader sees elsewhere. See agenttrace.Analytics.
func (r Reader) Breakdown(ctx context.Context, f agenttrace.BreakdownFilter) ([]agenttrace.BreakdownRow, error) {
	by := f.By
	keys, table := "", "sessions"
	switch by {
	case agenttrace.BreakdownByUser:
		keys = r.User
	case agenttrace.BreakdownByTeam:
		// A user's team is the users table's; a user it does not know is in no team.
		keys, table = "COALESCE(u.team, '')", "sessions LEFT JOIN users u ON u.name = sessions."+r.User
	case agenttrace.BreakdownByRepo:
		keys = "repo"
	case agenttrace.BreakdownByBranch:
		keys = "repo, branch"
	default:
		return nil, fmt.Errorf("breakdown: %w: by must be user, team, repo or branch, not %q", agenttrace.ErrInvalid, by)
	}
	w := Where{Dollar: r.Dollar}
	w.TimeRange("started_ms", f.From, f.To)
	// One repository's or person's sessions are filtered in the range's index entries
	// (`|| ''` keeps SQLite off the narrow per-repository and per-user indexes): that
	// index holds every column summed here, while the narrow ones would read a wide row
	// per session, and widening them too would cost every ingest.
	if f.Repo != "" {
		w.Add("repo || '' = ?", f.Repo)
	}
	if f.User != "" {
		w.Add("sessions."+r.User+" || '' = ?", f.User)
	}
	Visible(ctx, &w, "sessions."+r.User)
	sums := []string{"prompt_count", "tool_call_count", "error_count", "commit_count", "pr_count",
		"lines_added", "lines_removed", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"}
	nKeys := 1
	if by == agenttrace.BreakdownByBranch {
		nKeys = 2
	}
	costCol := nKeys + 1 + len(sums) + 1 // keys, count(*), sums, then cost
	q := fmt.Sprintf(`SELECT %s, count(*), %s, COALESCE(SUM(cost_usd), 0), SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END),
		MAX(started_ms) FROM %s%s GROUP BY %s ORDER BY %d DESC, %s`, keys, sumInts(sums...), table, w.SQL(), keys, costCol, keys)
	var out []agenttrace.BreakdownRow
	err := r.Query(ctx, q, w.Args, func(rows Rows) error {
		for rows.Next() {
			row, err := scanBreakdown(rows, by)
			if err != nil {
				return err
			}
			out = append(out, row)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("breakdown by %s: %w", by, err)
	}
	return out, nil
}

// sumInts is "CAST(COALESCE(SUM(c), 0) AS BIGINT), …": PostgreSQL sums integers as
// numeric, which the drivers would not read into an int64.
func sumInts(cols ...string) string {
	out := ""
	for i, c := range cols {
		if i > 0 {
			out += ", "
		}
		out += "CAST(COALESCE(SUM(" + c + "), 0) AS BIGINT)"
	}
	return out
}

func scanBreakdown(rows Rows, by string) (agenttrace.BreakdownRow, error) {
	var b agenttrace.BreakdownRow
	var key string
	var unpriced, lastMS int64
	dest := []any{&key}
	if by == agenttrace.BreakdownByBranch {
		dest = []any{&b.Repo, &b.Branch}
	}
	u := &b.Usage
	dest = append(dest, &b.Sessions, &b.Prompts, &b.ToolCalls, &b.ToolErrors, &b.Commits, &b.PullRequests,
		&b.LinesAdded, &b.LinesRemoved, &u.InputTokens, &u.OutputTokens, &u.CacheCreationInputTokens,
		&u.CacheReadInputTokens, &b.CostUSD, &unpriced, &lastMS)
	if err := rows.Scan(dest...); err != nil {
		return b, err
	}
	switch by {
	case agenttrace.BreakdownByUser:
		b.User = key
	case agenttrace.BreakdownByTeam:
		b.Team = key
	case agenttrace.BreakdownByRepo:
		b.Repo = key
	}
	b.Unpriced = int(unpriced)
	b.CostUSD = Round9(b.CostUSD)
	b.LastStartedAt = time.UnixMilli(lastMS).UTC()
	if b.Commits > 0 {
		c := Round9(b.CostUSD / float64(b.Commits))
		b.CostPerCommitUSD = &c
	}
	return b, nil
}
