package mcp

import (
	"context"
	"fmt"
	"sort"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

const costDescription = `Report what recorded Claude Code sessions cost (USD, as agent-trace priced ` +
	`them) and the tokens they used over a time range, grouped by day, model, repo or user, with ` +
	`totals (sessions, prompts, commits, cost per commit).`

type costInput struct {
	Since   string `json:"since,omitempty" jsonschema:"start of the range: RFC 3339, YYYY-MM-DD, or a span back from now such as 7d (default 7d)"`
	Until   string `json:"until,omitempty" jsonschema:"end of the range (exclusive): same forms as since (default now)"`
	GroupBy string `json:"group_by,omitempty" jsonschema:"day (default), model, repo or user"`
}

type costRow struct {
	Key     string           `json:"key"`
	CostUSD float64          `json:"cost_usd"`
	Usage   agenttrace.Usage `json:"usage"`
}

type costOutput struct {
	Since   string             `json:"since,omitempty"`
	Until   string             `json:"until,omitempty"`
	GroupBy string             `json:"group_by"`
	Rows    []costRow          `json:"rows"`
	Totals  agenttrace.Summary `json:"totals"`
}

func (s *server) costReport(ctx context.Context, _ *sdk.CallToolRequest, in costInput) (*sdk.CallToolResult, costOutput, error) {
	out := costOutput{Rows: []costRow{}, GroupBy: strings.ToLower(strings.TrimSpace(in.GroupBy))}
	if in.Since == "" {
		in.Since = "7d"
	}
	from, to, err := parseRange(in.Since, in.Until, s.now())
	if err != nil {
		return nil, out, err
	}
	if to.IsZero() {
		to = s.now()
	}
	out.Since, out.Until = stamp(from), stamp(to)
	group := out.GroupBy
	switch group {
	case "", "day":
		// Any grouping gives every day's spend; the rows are summed per day below.
		out.GroupBy, group = "day", agenttrace.GroupByModel
	case agenttrace.GroupByModel, agenttrace.GroupByRepo, agenttrace.GroupByUser:
	default:
		return nil, out, fmt.Errorf("group_by %q: want day, model, repo or user", in.GroupBy)
	}
	days, err := s.store.DailyCost(ctx, from, to, group)
	if err != nil {
		return nil, out, fmt.Errorf("cost report: %w", err)
	}
	if out.Totals, err = s.store.Summary(ctx, from, to); err != nil {
		return nil, out, fmt.Errorf("cost report: %w", err)
	}
	out.Rows = sumRows(days, out.GroupBy == "day")
	return text(renderCost(out)), out, nil
}

// sumRows totals daily rows per key, or per day; by day the rows stay in date order,
// otherwise the costliest comes first.
func sumRows(days []agenttrace.DailyCost, byDay bool) []costRow {
	idx := map[string]int{}
	rows := []costRow{}
	for _, d := range days {
		key := d.Key
		if byDay {
			key = d.Day
		}
		i, ok := idx[key]
		if !ok {
			i = len(rows)
			idx[key] = i
			rows = append(rows, costRow{Key: key})
		}
		rows[i].CostUSD += d.CostUSD
		rows[i].Usage = rows[i].Usage.Add(d.Usage)
	}
	if !byDay {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].CostUSD > rows[j].CostUSD })
	}
	return rows
}

func renderCost(out costOutput) string {
	var b strings.Builder
	t := out.Totals
	fmt.Fprintf(&b, "Cost from %s to %s: $%.4f over %d sessions, %d prompts, %d commits", out.Since, out.Until,
		t.CostUSD, t.Sessions, t.Prompts, t.Commits)
	if t.CostPerCommitUSD != nil {
		fmt.Fprintf(&b, " ($%.4f per commit)", *t.CostPerCommitUSD)
	}
	fmt.Fprintf(&b, "\ntokens: %d input, %d output, %d cache write, %d cache read\n",
		t.Usage.InputTokens, t.Usage.OutputTokens, t.Usage.CacheCreationInputTokens, t.Usage.CacheReadInputTokens)
	if len(t.UnpricedModels) > 0 {
		fmt.Fprintf(&b, "not priced (missing from the cost): %s\n", strings.Join(t.UnpricedModels, ", "))
	}
	if len(out.Rows) > 0 {
		fmt.Fprintf(&b, "by %s:\n", out.GroupBy)
	}
	for _, r := range out.Rows {
		key := r.Key
		if key == "" {
			key = "(none)"
		}
		fmt.Fprintf(&b, "  %-32s $%.4f  %d tokens\n", key, r.CostUSD, r.Usage.Total())
	}
	return b.String()
}
