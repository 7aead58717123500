package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/budget"
)

// budgetItem is a budget or spin rule as GET /v1/budgets lists it: with its current
// period's spend, for a budget.
type budgetItem struct {
	agenttrace.Budget
	PeriodStart string   `json:"period_start,omitempty" doc:"The current period: 2006-01-02 (daily) or 2006-01 (monthly). Absent for a spin rule."`
	SpendUSD    *float64 `json:"spend_usd,omitempty" doc:"The scope's spend in the current period (by the time of each API response). Absent for a spin rule."`
	Percent     *float64 `json:"percent,omitempty" doc:"spend_usd as a percentage of limit_usd; above 100 when over."`
}

type budgetListOutput struct {
	Body struct {
		Budgets []budgetItem `json:"budgets"`
	}
}

type budgetInput struct {
	Body struct {
		ScopeKind      string  `json:"scope_kind" enum:"user,team,repo,all" doc:"Whose spend the budget counts."`
		ScopeValue     string  `json:"scope_value,omitempty" maxLength:"512" doc:"The user, team or repository; empty for all." example:"ada"`
		Period         string  `json:"period" enum:"daily,monthly,session" doc:"UTC day or month; session makes it a spin rule (per session: no commit, cost at least limit_usd, at least min_failed_calls failing tool calls)."`
		LimitUSD       float64 `json:"limit_usd" exclusiveMinimum:"0" maximum:"1000000000" doc:"The limit in USD (for a spin rule, the least session cost)." example:"50"`
		MinFailedCalls int     `json:"min_failed_calls,omitempty" minimum:"0" doc:"Spin rules only: the least number of failing tool calls."`
		WebhookURL     string  `json:"webhook_url" maxLength:"2048" doc:"http(s) URL alerts are posted to." example:"https://hooks.slack.com/services/T000/B000/XXXX"`
		Format         string  `json:"format,omitempty" enum:"json,slack" default:"json" doc:"Webhook body: generic JSON or Slack's incoming-webhook {\"text\": …}."`
	}
}

type budgetOutput struct{ Body agenttrace.Budget }

type budgetIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"Budget ID (bud_…)."`
}

var exBudget = agenttrace.Budget{ID: "bud_5f0c2a9e1b7d4c38", ScopeKind: agenttrace.ScopeKindTeam, ScopeValue: "platform",
	Period: agenttrace.PeriodMonthly, LimitUSD: 500, WebhookURL: "https://hooks.slack.com/services/T000/B000/XXXX",
	Format: agenttrace.FormatSlack, CreatedAt: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}

func (a *API) registerBudgets(api huma.API) {
	spend, pct := 412.5, 82.5
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "list-budgets",
		Method:      http.MethodGet,
		Path:        "/v1/budgets",
		Summary:     "List budgets and spin rules",
		Description: "Every budget with its current period's spend, and every spin rule. Webhook URLs are shown whole to admin tokens only. A reader restricted to some users (read:own, read:team) sees only those users' budgets.",
		Tags:        []string{"Budgets"},
		Errors:      []int{http.StatusServiceUnavailable},
	}, map[string]any{"budgets": []budgetItem{{Budget: exBudget, PeriodStart: "2026-11", SpendUSD: &spend, Percent: &pct}}}), agenttrace.ScopeRead), a.listBudgets)

	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID:   "create-budget",
		Method:        http.MethodPost,
		Path:          "/v1/budgets",
		Summary:       "Create a budget or spin rule",
		Description:   "At 80 % and 100 % of the limit in a period, the server posts to the webhook once per threshold and period (a spin rule: once per session), retrying a failing receiver with backoff. Needs the admin scope.",
		Tags:          []string{"Budgets"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, exBudget), agenttrace.ScopeAdmin), a.createBudget)

	huma.Register(api, scoped(huma.Operation{
		OperationID:   "delete-budget",
		Method:        http.MethodDelete,
		Path:          "/v1/budgets/{id}",
		Summary:       "Delete a budget or spin rule",
		Description:   "Deletes it and its alert history. Needs the admin scope.",
		Tags:          []string{"Budgets"},
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, agenttrace.ScopeAdmin), a.deleteBudget)
}

func (a *API) listBudgets(ctx context.Context, _ *struct{}) (*budgetListOutput, error) {
	all, err := a.store.Budgets(ctx)
	if err != nil {
		return nil, a.storeError(ctx, "list budgets", err)
	}
	list := budget.Visible(ctx, all)
	burns, err := budget.Burns(ctx, a.store, list, time.Now())
	if err != nil {
		return nil, a.storeError(ctx, "list budgets", err)
	}
	byID := map[string]budget.Burn{}
	for _, b := range burns {
		byID[b.Budget.ID] = b
	}
	tok := auth.TokenFrom(ctx)
	admin := tok == nil || auth.Allows(tok.Scope, agenttrace.ScopeAdmin)
	out := &budgetListOutput{}
	out.Body.Budgets = []budgetItem{}
	for _, b := range list {
		if !admin {
			b.WebhookURL = budget.RedactWebhook(b.WebhookURL)
		}
		item := budgetItem{Budget: b}
		if burn, ok := byID[b.ID]; ok {
			item.PeriodStart, item.SpendUSD, item.Percent = burn.Period, &burn.SpendUSD, &burn.Percent
		}
		out.Body.Budgets = append(out.Body.Budgets, item)
	}
	return out, nil
}

func (a *API) createBudget(ctx context.Context, in *budgetInput) (*budgetOutput, error) {
	b, err := a.store.CreateBudget(ctx, agenttrace.Budget{ScopeKind: in.Body.ScopeKind, ScopeValue: in.Body.ScopeValue,
		Period: in.Body.Period, LimitUSD: in.Body.LimitUSD, MinFailedCalls: in.Body.MinFailedCalls,
		WebhookURL: in.Body.WebhookURL, Format: in.Body.Format})
	if err != nil {
		return nil, a.storeError(ctx, "create budget", err)
	}
	return &budgetOutput{Body: b}, nil
}

func (a *API) deleteBudget(ctx context.Context, in *budgetIDInput) (*struct{}, error) {
	if err := a.store.DeleteBudget(ctx, in.ID); err != nil {
		return nil, a.storeError(ctx, "delete budget", err)
	}
	return nil, nil
}
