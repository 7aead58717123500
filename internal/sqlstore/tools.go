package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// maxFailingCommands bounds ToolReport.FailingCommands.
const maxFailingCommands = 20

// Tools reports the tool calls that started in [from, to) from the tool_calls table:
// one pass over the range's rows (four small columns) for counts and exact percentiles,
// one grouped query for the failing commands. See
// agenttrace.Analytics.
func (r Reader) Tools(ctx context.Context, from, to time.Time) (agenttrace.ToolReport, error) {
	var rep agenttrace.ToolReport
	w := Where{Dollar: r.Dollar}
	w.TimeRange("started_ms", from, to)
	VisibleSessions(ctx, &w, r.User, "session_id")
	stats := map[string]*agenttrace.ToolStat{}
	servers := map[string]*agenttrace.ToolStat{}
	err := r.Query(ctx, `SELECT name, mcp_server, status, duration_ms FROM tool_calls`+w.SQL(),
		w.Args, func(rows Rows) error {
			return addToolRows(rows, stats, servers)
		})
	if err != nil {
		return rep, fmt.Errorf("tools: %w", err)
	}
	rep.Tools, rep.MCPServers = finishStats(stats), finishStats(servers)
	if rep.FailingCommands, err = r.FailingCommands(ctx, from, to); err != nil {
		return rep, fmt.Errorf("tools: %w", err)
	}
	return rep, nil
}

// toolAcc gathers one tool's (or server's) calls and finished durations, ascending.
type toolAcc struct {
	agenttrace.ToolStat
	durations []int64
}

func addToolRows(rows Rows, stats, servers map[string]*agenttrace.ToolStat) error {
	accs := map[*agenttrace.ToolStat]*toolAcc{}
	for rows.Next() {
		var name, server, status string
		var ms int64
		if err := rows.Scan(&name, &server, &status, &ms); err != nil {
			return err
		}
		for _, st := range statsFor(stats, servers, name, server) {
			a := accs[st]
			if a == nil {
				a = &toolAcc{ToolStat: *st}
				accs[st] = a
			}
			count(&a.ToolStat, status)
			if status == agenttrace.ToolOK || status == agenttrace.ToolError {
				a.durations = append(a.durations, ms)
			}
		}
	}
	for st, a := range accs {
		d := a.durations
		slices.Sort(d)
		*st = a.ToolStat
		st.P50MS, st.P95MS = nearestRank(d, 50), nearestRank(d, 95)
	}
	return rows.Err()
}

// statsFor is the tool's stat and, for an MCP tool, its server's.
func statsFor(stats, servers map[string]*agenttrace.ToolStat, name, server string) []*agenttrace.ToolStat {
	get := func(m map[string]*agenttrace.ToolStat, key string, st agenttrace.ToolStat) *agenttrace.ToolStat {
		if m[key] == nil {
			m[key] = &st
		}
		return m[key]
	}
	out := []*agenttrace.ToolStat{get(stats, name, agenttrace.ToolStat{Name: name, MCPServer: server})}
	if server != "" {
		out = append(out, get(servers, server, agenttrace.ToolStat{Name: server, MCPServer: server}))
	}
	return out
}

func count(st *agenttrace.ToolStat, status string) {
	st.Calls++
	switch status {
	case agenttrace.ToolError:
		st.Errors++
	case agenttrace.ToolRejected:
		st.Rejected++
	}
}

// nearestRank is the p-th percentile of sorted by the nearest-rank method, 0 for none.
func nearestRank(sorted []int64, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

// finishStats lists stats by calls, most first, then by name.
func finishStats(m map[string]*agenttrace.ToolStat) []agenttrace.ToolStat {
	out := make([]agenttrace.ToolStat, 0, len(m))
	for _, st := range m {
		out = append(out, *st)
	}
	SortToolStats(out)
	return out
}

// SortToolStats sorts stats by calls, most first, then by name.
func SortToolStats(stats []agenttrace.ToolStat) {
	sort.Slice(stats, func(i, j int) bool {
		if stats[i].Calls != stats[j].Calls {
			return stats[i].Calls > stats[j].Calls
		}
		return stats[i].Name < stats[j].Name
	})
}

// FailingCommands lists the commands that failed most in [from, to), at most 20.
func (r Reader) FailingCommands(ctx context.Context, from, to time.Time) ([]agenttrace.FailingCommand, error) {
	w := Where{Dollar: r.Dollar}
	w.Add("command <> ''")
	w.TimeRange("started_ms", from, to)
	VisibleSessions(ctx, &w, r.User, "session_id")
	q := fmt.Sprintf(`SELECT command, count(*), MAX(started_ms) FROM tool_calls%s GROUP BY command
		ORDER BY 2 DESC, 1 LIMIT %d`, w.SQL(), maxFailingCommands)
	out := []agenttrace.FailingCommand{}
	err := r.Query(ctx, q, w.Args, func(rows Rows) error {
		for rows.Next() {
			var c agenttrace.FailingCommand
			var last int64
			if err := rows.Scan(&c.Command, &c.Failures, &last); err != nil {
				return err
			}
			c.LastFailedAt = time.UnixMilli(last).UTC()
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}
