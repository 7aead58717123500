// Package budget computes what budgets and spin rules need: a budget's current period,
// the spend of its scope in that period, the sessions a spin rule catches, and the
// webhook bodies (generic JSON and Slack's incoming-webhook format). The budgets worker
// (internal/worker) fires alerts from it and the dashboard's Costs page shows the burn,
// so both count spend the same way.
package budget

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// Thresholds are the percentages of a budget's limit at which it alerts.
var Thresholds = []int{80, 100}

// Source is what spend is read from (agenttrace.Store fits): the daily cost per user or
// repository, and the tokens (and users) that say who is in a team.
type Source interface {
	DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]agenttrace.DailyCost, error)
	Tokens(ctx context.Context) ([]agenttrace.Token, error)
}

// Period returns the UTC period of b that contains now: its key (2006-01-02 for a day,
// 2006-01 for a month) and its bounds [from, to).
func Period(b agenttrace.Budget, now time.Time) (key string, from, to time.Time) {
	now = now.UTC()
	if b.Period == agenttrace.PeriodMonthly {
		from = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return from.Format("2006-01"), from, from.AddDate(0, 1, 0)
	}
	from = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return from.Format("2006-01-02"), from, from.AddDate(0, 0, 1)
}

// Burn is a budget's spend in its current period.
type Burn struct {
	Budget   agenttrace.Budget `json:"budget"`
	Period   string            `json:"period_start"` // Period's key
	SpendUSD float64           `json:"spend_usd"`
	Percent  float64           `json:"percent"` // of the limit; above 100 when over
}

// Burns returns the burn of each daily or monthly budget in budgets at now (spin rules
// have no period and are left out), reading spend from src with ctx: a context
// restricted to some users (agenttrace.WithVisibleUsers) counts only their spend.
func Burns(ctx context.Context, src Source, budgets []agenttrace.Budget, now time.Time) ([]Burn, error) {
	var teams map[string][]string
	out := []Burn{}
	for _, b := range budgets {
		if b.Period == agenttrace.PeriodSession {
			continue
		}
		if b.ScopeKind == agenttrace.ScopeKindTeam && teams == nil {
			var err error
			if teams, err = auth.Teams(ctx, src); err != nil {
				return nil, fmt.Errorf("budget burn: %w", err)
			}
		}
		key, from, to := Period(b, now)
		spend, err := Spend(ctx, src, b, from, to, teams[b.ScopeValue])
		if err != nil {
			return nil, err
		}
		out = append(out, Burn{Budget: b, Period: key, SpendUSD: spend, Percent: 100 * spend / b.LimitUSD})
	}
	return out, nil
}

// Spend is what b's scope spent in [from, to), by the time of each API response (a
// session running across midnight counts on both days). members are a team budget's
// users (Teams); other scopes ignore them.
func Spend(ctx context.Context, src Source, b agenttrace.Budget, from, to time.Time, members []string) (float64, error) {
	groupBy := agenttrace.GroupByUser
	if b.ScopeKind == agenttrace.ScopeKindRepo {
		groupBy = agenttrace.GroupByRepo
	}
	days, err := src.DailyCost(ctx, from, to, groupBy)
	if err != nil {
		return 0, fmt.Errorf("budget %s spend: %w", b.ID, err)
	}
	var sum float64
	for _, d := range days {
		if InScope(b, d.Key, members) {
			sum += d.CostUSD
		}
	}
	return sum, nil
}

// InScope reports whether key (a user, or a repository for a repo budget) is in b's scope.
func InScope(b agenttrace.Budget, key string, members []string) bool {
	switch b.ScopeKind {
	case agenttrace.ScopeKindAll:
		return true
	case agenttrace.ScopeKindTeam:
		return slices.Contains(members, key)
	default:
		return key == b.ScopeValue
	}
}

// Reached returns the thresholds spend has reached of limit, lowest first.
func Reached(spend, limit float64) []int {
	var out []int
	for _, t := range Thresholds {
		if spend >= limit*float64(t)/100 {
			out = append(out, t)
		}
	}
	return out
}

// Spinning reports whether s is what spin rule b catches: no commit, a known cost of at
// least the rule's limit and at least its number of failing tool calls.
func Spinning(b agenttrace.Budget, s agenttrace.SessionSummary) bool {
	return s.CommitCount == 0 && s.CostUSD != nil && *s.CostUSD >= b.LimitUSD && s.ErrorCount >= b.MinFailedCalls
}

// Visible returns the budgets a reader with ctx may see with their spend: all of them for
// an unrestricted reader, and for one restricted to some users (read:own, read:team)
// only the user budgets of those users, whose spend they see in full.
func Visible(ctx context.Context, budgets []agenttrace.Budget) []agenttrace.Budget {
	if _, restricted := agenttrace.VisibleUsers(ctx); !restricted {
		return budgets
	}
	var out []agenttrace.Budget
	for _, b := range budgets {
		if b.ScopeKind == agenttrace.ScopeKindUser && agenttrace.CanSee(ctx, b.ScopeValue) {
			out = append(out, b)
		}
	}
	return out
}

// RedactWebhook is url cut to its scheme and host: webhook URLs carry their secret in
// the path (Slack's do), and only admins see them whole.
func RedactWebhook(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(hidden)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
