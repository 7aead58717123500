package agenttrace

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Budget scopes: whose spend a budget (or spin rule) counts.
const (
	ScopeKindUser = "user"
	ScopeKindTeam = "team"
	ScopeKindRepo = "repo"
	ScopeKindAll  = "all"
)

// Budget periods. Daily and monthly are UTC calendar periods. PeriodSession makes the
// budget a spin rule: it fires for one session that spent LimitUSD or more, made no
// commit and had at least MinFailedCalls failing tool calls (a session going in circles),
// once per session.
const (
	PeriodDaily   = "daily"
	PeriodMonthly = "monthly"
	PeriodSession = "session"
)

// Webhook body formats.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
)

// Budget is a spending limit on a scope in a period, with the webhook told when spend
// reaches 80 % and 100 % of it, or a spin rule (Period PeriodSession).
type Budget struct {
	ID         string  `json:"id"`
	ScopeKind  string  `json:"scope_kind"`
	ScopeValue string  `json:"scope_value,omitempty"` // the user, team or repository; empty for all
	Period     string  `json:"period"`
	LimitUSD   float64 `json:"limit_usd"`
	// MinFailedCalls is a spin rule's least number of failing tool calls; 0 for a budget.
	MinFailedCalls int       `json:"min_failed_calls,omitempty"`
	WebhookURL     string    `json:"webhook_url"`
	Format         string    `json:"format"`
	CreatedAt      time.Time `json:"created_at"`
}

// Validate reports the first thing wrong with b as ErrInvalid. An empty Format reads as
// FormatJSON.
func (b Budget) Validate() error {
	switch {
	case b.ScopeKind != ScopeKindUser && b.ScopeKind != ScopeKindTeam && b.ScopeKind != ScopeKindRepo && b.ScopeKind != ScopeKindAll:
		return fmt.Errorf("%w: scope must be user, team, repo or all, not %q", ErrInvalid, b.ScopeKind)
	case (b.ScopeKind == ScopeKindAll) != (b.ScopeValue == ""):
		return fmt.Errorf("%w: scope %s needs a value (user:NAME, team:NAME, repo:NAME) and all none", ErrInvalid, b.ScopeKind)
	case b.Period != PeriodDaily && b.Period != PeriodMonthly && b.Period != PeriodSession:
		return fmt.Errorf("%w: period must be daily, monthly or session, not %q", ErrInvalid, b.Period)
	case !(b.LimitUSD > 0) || b.LimitUSD > 1e9:
		return fmt.Errorf("%w: the limit must be a positive number of USD", ErrInvalid)
	case b.MinFailedCalls < 0 || (b.MinFailedCalls > 0 && b.Period != PeriodSession):
		return fmt.Errorf("%w: min failed calls is for session (spin) rules only, and not negative", ErrInvalid)
	case b.Format != "" && b.Format != FormatJSON && b.Format != FormatSlack:
		return fmt.Errorf("%w: format must be json or slack, not %q", ErrInvalid, b.Format)
	}
	u, err := url.Parse(b.WebhookURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: the webhook must be an http(s) URL", ErrInvalid)
	}
	return nil
}

// Alert is one threshold of one budget that fired in one period: the period's start
// (2006-01-02 for a day, 2006-01 for a month) or, for a spin rule, the session ID.
// Threshold is a percentage (80, 100). An alert is recorded before its webhook is sent,
// so it fires once whatever happens to the delivery.
type Alert struct {
	BudgetID    string     `json:"budget_id"`
	Period      string     `json:"period"`
	Threshold   int        `json:"threshold"`
	FiredAt     time.Time  `json:"fired_at"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	Attempts    int        `json:"attempts"`
	Error       string     `json:"error,omitempty"` // the last failed delivery's reason
}

// BudgetStore keeps budgets and the alerts they fired.
type BudgetStore interface {
	// CreateBudget stores b (Validate must pass, else ErrInvalid) with a new ID and, when
	// zero, the current time, and returns it as stored.
	CreateBudget(ctx context.Context, b Budget) (Budget, error)
	// Budgets lists every budget and spin rule, oldest first.
	Budgets(ctx context.Context) ([]Budget, error)
	// DeleteBudget erases a budget and its alerts; ErrNotFound when there is none.
	DeleteBudget(ctx context.Context, id string) error
	// ClaimAlert records that a fired (its budget, period and threshold, at FiredAt) and
	// reports whether this call recorded it: false when it was already recorded, by this
	// server earlier or by another replica, which then delivers it. Claiming an alert
	// of an unknown budget is ErrNotFound.
	ClaimAlert(ctx context.Context, a Alert) (bool, error)
	// FinishAlert records how a claimed alert's delivery ended: its attempts, and
	// DeliveredAt or the last Error. An unknown alert is ErrNotFound.
	FinishAlert(ctx context.Context, a Alert) error
	// Alerts lists a budget's alerts, oldest first ("" for every budget's).
	Alerts(ctx context.Context, budgetID string) ([]Alert, error)
}
