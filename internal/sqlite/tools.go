package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

const dayMS = 24 * 60 * 60 * 1000

// Tools reports the tool calls that started in [from, to): the counts from the
// tool_daily rollup for whole days and from the calls only for a partial first or last
// day, and each percentile, exact by nearest rank, as a walk from the nearer end of the
// tool's run in tool_calls_durations (see migration 0018). The counts and the walks read
// one snapshot (a read transaction), so each rank lies within the calls it walks. See
// agenttrace.Analytics.
func (s *Store) Tools(ctx context.Context, from, to time.Time) (agenttrace.ToolReport, error) {
	var rep agenttrace.ToolReport
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("tools: %w", err)
	}
	defer tx.Rollback()
	counts, err := toolCounts(ctx, tx, from, to)
	if err != nil {
		return rep, fmt.Errorf("tools: %w", err)
	}
	tools, servers := map[string]*toolCount{}, map[string]*toolCount{}
	for _, c := range counts {
		add(tools, c.Name, c)
		if c.MCPServer != "" {
			add(servers, c.MCPServer, c)
		}
	}
	if rep.Tools, err = rankTools(ctx, tx, tools, "name", "tool_calls_durations", from, to); err != nil {
		return rep, fmt.Errorf("tools: %w", err)
	}
	if rep.MCPServers, err = rankTools(ctx, tx, servers, "mcp_server", "tool_calls_server_durations", from, to); err != nil {
		return rep, fmt.Errorf("tools: %w", err)
	}
	if rep.FailingCommands, err = s.reader.FailingCommands(ctx, from, to); err != nil {
		return rep, fmt.Errorf("tools: %w", err)
	}
	return rep, nil
}

// toolCount is one tool's (or server's) counts in a range, and how many of its calls
// finished (ok or error): those the percentiles rank.
type toolCount struct {
	agenttrace.ToolStat
	timed int
}

func add(m map[string]*toolCount, key string, c toolCount) {
	t := m[key]
	if t == nil {
		t = &toolCount{ToolStat: agenttrace.ToolStat{Name: key, MCPServer: c.MCPServer}}
		m[key] = t
	}
	t.Calls += c.Calls
	t.Errors += c.Errors
	t.Rejected += c.Rejected
	t.timed += c.timed
}

// toolCounts sums the calls per tool: whole UTC days from tool_daily, the edges of the
// range from tool_calls.
func toolCounts(ctx context.Context, tx *sql.Tx, from, to time.Time) ([]toolCount, error) {
	union, args := sqlstore.SplitUnion(ctx, sqlstore.Union{From: from, To: to, TimeCol: "started_ms", UserCol: "user",
		Day:    func(t time.Time) any { return t.UnixMilli() / dayMS },
		Rollup: "SELECT name, mcp_server, calls, errors, rejected, timed FROM tool_daily",
		Facts: `SELECT name, mcp_server, 1 AS calls, status = 'error' AS errors, status = 'rejected' AS rejected,
			status IN ('ok', 'error') AS timed FROM tool_calls`})
	rows, err := tx.QueryContext(ctx, `SELECT name, mcp_server, SUM(calls), SUM(errors), SUM(rejected), SUM(timed)
		FROM (`+union+`) GROUP BY name, mcp_server HAVING SUM(calls) > 0`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []toolCount
	for rows.Next() {
		var c toolCount
		if err := rows.Scan(&c.Name, &c.MCPServer, &c.Calls, &c.Errors, &c.Rejected, &c.timed); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// rankTools fills in each tool's p50 and p95 and lists them, most calls first. col is
// the column the tools are keyed by, index the one that orders its calls by duration.
func rankTools(ctx context.Context, tx *sql.Tx, m map[string]*toolCount, col, index string, from, to time.Time) ([]agenttrace.ToolStat, error) {
	out := make([]agenttrace.ToolStat, 0, len(m))
	for key, t := range m {
		var err error
		if t.P50MS, err = nearestRank(ctx, tx, col, index, key, t.timed, 50, from, to); err != nil {
			return nil, err
		}
		if t.P95MS, err = nearestRank(ctx, tx, col, index, key, t.timed, 95, from, to); err != nil {
			return nil, err
		}
		out = append(out, t.ToolStat)
	}
	sqlstore.SortToolStats(out)
	return out, nil
}

// nearestRank is the p-th percentile, by the nearest-rank method, of the durations of
// the n finished calls in [from, to) whose col is key: the walk starts at whichever end
// of the key's run in index is nearer the rank, so p95 reads a twentieth of it.
func nearestRank(ctx context.Context, tx *sql.Tx, col, index, key string, n, p int, from, to time.Time) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	rank := max((p*n+99)/100, 1) // ceil(p/100 × n)
	dir, offset := "ASC", rank-1
	if n-rank < offset {
		dir, offset = "DESC", n-rank
	}
	w := sqlstore.Where{}
	w.Add(col+" = ?", key)
	w.Add(col + " <> ''") // what tool_calls_server_durations holds, so that it is usable
	w.Add("status IN (?, ?)", agenttrace.ToolOK, agenttrace.ToolError)
	w.TimeRange("started_ms", from, to)
	sqlstore.Visible(ctx, &w, "user")
	var ms int64
	err := tx.QueryRowContext(ctx, `SELECT duration_ms FROM tool_calls INDEXED BY `+index+w.SQL()+
		` ORDER BY duration_ms `+dir+` LIMIT 1 OFFSET ?`, append(w.Args, offset)...).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		// One snapshot: the rollup counted calls the walk does not find.
		return 0, fmt.Errorf("p%d of %s %q: tool_daily counts %d finished calls, fewer are stored", p, col, key, n)
	}
	return ms, err
}
