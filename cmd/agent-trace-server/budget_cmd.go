package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/budget"
)

const budgetHelp = `Budgets limit what a user, a team, a repository or everyone spends in a UTC day or
month. The server checks them every minute (serve --budget-interval) and, when spend reaches
80 % and then 100 % of the limit, posts to the budget's webhook once per threshold and
period, whatever restarts or replicas happen meanwhile. A receiver that fails is retried
with backoff a few times; a delivery that still fails is logged and shown by 'budget list',
not fired again.

Webhook bodies are generic JSON (kind, budget_id, scope_kind, scope_value, period,
period_start, spend_usd, limit_usd, threshold, dashboard_url, fired_at) or, with
--format slack, Slack's incoming-webhook {"text": …}.

Examples:
  agent-trace-server budget set --scope team:platform --period monthly --limit 500 \
      --webhook https://hooks.slack.com/services/T/B/X --format slack
  agent-trace-server budget set --scope user:alice --period daily --limit 40 --webhook https://ops.example/hook
  agent-trace-server budget list
  agent-trace-server budget delete bud_0123456789abcdef

Spin rules (sessions going in circles) are set with 'agent-trace-server alert spin set'.`

type budgetFlags struct {
	scope, period, webhook, format string
	limit                          float64
	minFailed                      int
}

func (f *budgetFlags) budget(period string) (agenttrace.Budget, error) {
	kind, value, _ := strings.Cut(f.scope, ":")
	b := agenttrace.Budget{ScopeKind: kind, ScopeValue: value, Period: period, LimitUSD: f.limit,
		MinFailedCalls: f.minFailed, WebhookURL: f.webhook, Format: f.format}
	return b, b.Validate()
}

func newBudgetCommand(sf *storeFlags, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "budget", Short: "Manage spending budgets and their webhooks (set, list, delete)", Long: budgetHelp}
	var f budgetFlags
	set := &cobra.Command{
		Use:   "set",
		Short: "Set the budget of a scope and period (replacing the one it had) and its webhook",
		Long:  budgetHelp,
		Args:  cobra.NoArgs,
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, _ []string) error {
			b, err := f.budget(f.period)
			if err != nil {
				return fmt.Errorf("budget set: %w", err)
			}
			return setBudget(ctx, s, b, stdout)
		}),
	}
	addBudgetFlags(set, &f)
	set.Flags().StringVar(&f.period, "period", agenttrace.PeriodMonthly, "daily or monthly (UTC calendar periods)")
	set.Flags().Float64Var(&f.limit, "limit", 0, "the limit in USD (required)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List budgets and spin rules with this period's spend and their last alerts",
		Args:  cobra.NoArgs,
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, _ []string) error {
			return listBudgets(ctx, s, stdout)
		}),
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a budget or spin rule (IDs from 'budget list') and its alert history",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, args []string) error {
			if err := s.DeleteBudget(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "deleted %s\n", args[0])
			return nil
		}),
	}
	cmd.AddCommand(set, list, del)
	return cmd
}

func addBudgetFlags(cmd *cobra.Command, f *budgetFlags) {
	cmd.Flags().StringVar(&f.scope, "scope", agenttrace.ScopeKindAll, "whose spend: user:NAME, team:NAME, repo:NAME (as sessions show it) or all")
	cmd.Flags().StringVar(&f.webhook, "webhook", "", "the http(s) URL alerts are posted to (required)")
	cmd.Flags().StringVar(&f.format, "format", agenttrace.FormatJSON, "webhook body: json, or slack (an incoming webhook's {\"text\": …})")
	cmd.MarkFlagRequired("webhook")
}

// setBudget stores b in place of any budget of the same scope and period, so that
// "set" means what it says; the replaced budget's alerts go with it, and the new limit
// alerts afresh.
func setBudget(ctx context.Context, s agenttrace.BudgetStore, b agenttrace.Budget, stdout io.Writer) error {
	list, err := s.Budgets(ctx)
	if err != nil {
		return err
	}
	for _, old := range list {
		if old.ScopeKind == b.ScopeKind && old.ScopeValue == b.ScopeValue && old.Period == b.Period {
			if err := s.DeleteBudget(ctx, old.ID); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "replaced %s\n", old.ID)
		}
	}
	b, err = s.CreateBudget(ctx, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "set %s: %s\n", b.ID, describe(b))
	return nil
}

func describe(b agenttrace.Budget) string {
	scope := b.ScopeKind
	if b.ScopeValue != "" {
		scope += ":" + b.ScopeValue
	}
	if b.Period == agenttrace.PeriodSession {
		return fmt.Sprintf("spin rule for %s: a session without commit costing $%.2f or more with %d or more failing tool calls",
			scope, b.LimitUSD, b.MinFailedCalls)
	}
	return fmt.Sprintf("%s budget of $%.2f for %s", b.Period, b.LimitUSD, scope)
}

func listBudgets(ctx context.Context, s agenttrace.Store, stdout io.Writer) error {
	list, err := s.Budgets(ctx)
	if err != nil {
		return err
	}
	burns, err := budget.Burns(ctx, s, list, time.Now())
	if err != nil {
		return err
	}
	spend := map[string]budget.Burn{}
	for _, b := range burns {
		spend[b.Budget.ID] = b
	}
	alerts, err := s.Alerts(ctx, "")
	if err != nil {
		return err
	}
	last := map[string]agenttrace.Alert{}
	for _, a := range alerts {
		last[a.BudgetID] = a
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRULE\tSPEND\tFORMAT\tLAST ALERT")
	for _, b := range list {
		burn := "-"
		if sp, ok := spend[b.ID]; ok {
			burn = fmt.Sprintf("$%.2f (%.0f%%)", sp.SpendUSD, sp.Percent)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.ID, describe(b), burn, b.Format, alertState(last, b.ID))
	}
	return tw.Flush()
}

func alertState(last map[string]agenttrace.Alert, id string) string {
	a, ok := last[id]
	switch {
	case !ok:
		return "-"
	case a.DeliveredAt != nil:
		return fmt.Sprintf("%d%% %s delivered %s", a.Threshold, a.Period, a.DeliveredAt.Format(time.RFC3339))
	case a.Attempts == 0:
		return fmt.Sprintf("%d%% %s delivering", a.Threshold, a.Period)
	default:
		return fmt.Sprintf("%d%% %s FAILED after %d attempts: %s", a.Threshold, a.Period, a.Attempts, a.Error)
	}
}

const spinHelp = `A spin rule catches a session going in circles: no commit, a cost of at least --min-cost
and at least --min-failed-calls failing tool calls. Each session it catches fires the
webhook once (same formats as budgets; see 'agent-trace-server budget --help'). Setting a
rule again for the same scope replaces it; 'budget list' and 'budget delete' show and
remove spin rules too.

Example:
  agent-trace-server alert spin set --min-cost 5 --min-failed-calls 10 \
      --webhook https://hooks.slack.com/services/T/B/X --format slack`

func newAlertCommand(sf *storeFlags, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "alert", Short: "Manage alert rules beside budgets (spin)"}
	spin := &cobra.Command{Use: "spin", Short: "Alert on sessions that spin: no commit, high cost, many failing tool calls", Long: spinHelp}
	var f budgetFlags
	set := &cobra.Command{
		Use:   "set",
		Short: "Set the spin rule of a scope (replacing the one it had)",
		Long:  spinHelp,
		Args:  cobra.NoArgs,
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, _ []string) error {
			b, err := f.budget(agenttrace.PeriodSession)
			if err != nil {
				return fmt.Errorf("alert spin set: %w", err)
			}
			return setBudget(ctx, s, b, stdout)
		}),
	}
	addBudgetFlags(set, &f)
	set.Flags().Float64Var(&f.limit, "min-cost", 0, "the least cost in USD of a session the rule catches (required)")
	set.Flags().IntVar(&f.minFailed, "min-failed-calls", 1, "the least number of failing tool calls")
	spin.AddCommand(set)
	cmd.AddCommand(spin)
	return cmd
}
