package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/budget"
)

// budgetsView is the Costs page's budgets card: each budget's burn, and for admins the
// form to add one and the buttons to delete.
type budgetsView struct {
	Rows  []budgetRow
	Admin bool
}

type budgetRow struct {
	ID, Scope, Period, PeriodStart, Webhook, Format string
	LimitUSD, SpendUSD, Percent                     float64
	MinFailedCalls                                  int
	Spin                                            bool
	// BarClass sizes and colours the burn bar from classes (the CSP forbids inline
	// style): the percentage in steps of 5, capped at 100, and ok, warn or over.
	BarClass string
}

// isAdmin reports whether the request may change budgets: its token allows admin, or
// the dashboard runs without authentication (then the API lets anyone write too).
func (a *app) isAdmin(ctx context.Context) bool {
	tok := auth.TokenFrom(ctx)
	return (tok == nil && !a.authOn) || (tok != nil && auth.Allows(tok.Scope, agenttrace.ScopeAdmin))
}

// budgets reads the budgets the request may see, with this period's spend.
func (a *app) budgets(ctx context.Context) (budgetsView, error) {
	v := budgetsView{Admin: a.isAdmin(ctx)}
	all, err := a.store.Budgets(ctx)
	if err != nil {
		return v, fmt.Errorf("list budgets: %w", err)
	}
	list := budget.Visible(ctx, all)
	burns, err := budget.Burns(ctx, a.store, list, time.Now())
	if err != nil {
		return v, err
	}
	byID := map[string]budget.Burn{}
	for _, b := range burns {
		byID[b.Budget.ID] = b
	}
	for _, b := range list {
		row := budgetRow{ID: b.ID, Scope: b.ScopeKind, Period: b.Period, Format: b.Format, LimitUSD: b.LimitUSD,
			MinFailedCalls: b.MinFailedCalls, Spin: b.Period == agenttrace.PeriodSession, Webhook: b.WebhookURL}
		if b.ScopeValue != "" {
			row.Scope += " " + b.ScopeValue
		}
		if !v.Admin {
			row.Webhook = budget.RedactWebhook(b.WebhookURL)
		}
		if burn, ok := byID[b.ID]; ok {
			row.PeriodStart, row.SpendUSD, row.Percent = burn.Period, burn.SpendUSD, burn.Percent
			row.BarClass = barClass(burn.Percent)
		}
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

func barClass(pct float64) string {
	state := "ok"
	switch {
	case pct >= 100:
		state = "over"
	case pct >= 80:
		state = "warn"
	}
	step := min(int(pct)/5*5, 100)
	return fmt.Sprintf("p%d %s", max(step, 0), state)
}

// budgetWrite checks a budget form post: same origin (a cross-site form must not
// spend an admin's cookie) and an admin token. It renders the refusal itself.
func (a *app) budgetWrite(w http.ResponseWriter, r *http.Request) bool {
	if auth.SameOrigin(r.Header.Get, r.Host) != nil {
		a.renderError(w, r, http.StatusForbidden, "Cross-site request refused", "Change budgets from the dashboard itself.")
		return false
	}
	if !a.isAdmin(r.Context()) {
		a.renderError(w, r, http.StatusForbidden, "Admins only", "Changing budgets needs an admin token: log in with one.")
		return false
	}
	return true
}

func (a *app) createBudget(w http.ResponseWriter, r *http.Request) {
	if !a.budgetWrite(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	f := r.PostForm
	limit, _ := strconv.ParseFloat(strings.TrimSpace(f.Get("limit_usd")), 64)
	minFailed, _ := strconv.Atoi(strings.TrimSpace(f.Get("min_failed_calls")))
	b := agenttrace.Budget{ScopeKind: f.Get("scope_kind"), ScopeValue: strings.TrimSpace(f.Get("scope_value")),
		Period: f.Get("period"), LimitUSD: limit, WebhookURL: strings.TrimSpace(f.Get("webhook_url")), Format: f.Get("format")}
	if b.ScopeKind == agenttrace.ScopeKindAll {
		b.ScopeValue = ""
	}
	if b.Period == agenttrace.PeriodSession {
		b.MinFailedCalls = minFailed
	}
	if _, err := a.store.CreateBudget(r.Context(), b); err != nil {
		a.fail(w, r, "create budget", err)
		return
	}
	http.Redirect(w, r, "/costs#budgets", http.StatusSeeOther)
}

func (a *app) deleteBudget(w http.ResponseWriter, r *http.Request) {
	if !a.budgetWrite(w, r) {
		return
	}
	if err := a.store.DeleteBudget(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, "delete budget", err)
		return
	}
	http.Redirect(w, r, "/costs#budgets", http.StatusSeeOther)
}
