package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/budget"
)

// Defaults of the budgets worker.
const (
	DefaultBudgetInterval = time.Minute
	// DefaultAlertAttempts and DefaultAlertBackoff bound a delivery to 5 tries over
	// about 15 s (1, 2, 4, 8 s between them), short enough that a pass of the worker
	// ends well before the next is due.
	DefaultAlertAttempts = 5
	DefaultAlertBackoff  = time.Second
	// DefaultWebhookTimeout bounds one webhook request.
	DefaultWebhookTimeout = 10 * time.Second
	// DefaultSpinLookback is how far back spin rules look at sessions (by start).
	DefaultSpinLookback = 7 * 24 * time.Hour
)

// BudgetSource is what the budgets worker reads and writes (agenttrace.Store fits).
type BudgetSource interface {
	agenttrace.BudgetStore
	budget.Source
	ListSessions(ctx context.Context, f agenttrace.SessionFilter) (agenttrace.SessionPage, error)
	Users(ctx context.Context) ([]agenttrace.User, error)
}

// BudgetsConfig configures a Budgets worker; zero fields take the defaults.
type BudgetsConfig struct {
	Interval     time.Duration
	Attempts     int           // deliveries tried per alert
	Backoff      time.Duration // before the second try, doubling after each
	Timeout      time.Duration // per webhook request
	SpinLookback time.Duration
	DashboardURL string // linked from alerts; none when empty
	Logger       *slog.Logger
	OnError      func(error)      // every pass that failed to read or write the store (metrics)
	Now          func() time.Time // tests
}

// Budgets evaluates every budget and spin rule each interval and fires their webhooks:
// a threshold reached (80 %, 100 %) is claimed in the store first, and only the claim's
// winner delivers it, so each fires once per period across restarts and replicas.
type Budgets struct {
	store BudgetSource
	cfg   BudgetsConfig
	post  *poster
}

// NewBudgets returns a budgets worker on store.
func NewBudgets(store BudgetSource, cfg BudgetsConfig) *Budgets {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultBudgetInterval
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAlertAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultAlertBackoff
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.SpinLookback <= 0 {
		cfg.SpinLookback = DefaultSpinLookback
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Budgets{store: store, cfg: cfg, post: newPoster(cfg.Timeout, cfg.Attempts, cfg.Backoff)}
}

// Run checks the budgets now and then every interval until ctx ends.
func (w *Budgets) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.cfg.Logger.Error("budgets", "err", err)
			w.failed(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Budgets) failed(err error) {
	if w.cfg.OnError != nil {
		w.cfg.OnError(err)
	}
}

// Check evaluates every budget and spin rule once and delivers what fired, returning
// the first failure to read the store (a budget that failed does not stop the others).
func (w *Budgets) Check(ctx context.Context) error {
	// Spend is everyone's: the worker answers to no reader's scope.
	ctx = agenttrace.WithoutVisibleUsers(ctx)
	list, err := w.store.Budgets(ctx)
	if err != nil {
		return fmt.Errorf("check budgets: %w", err)
	}
	var teams map[string][]string
	var first error
	for _, b := range list {
		if b.ScopeKind == agenttrace.ScopeKindTeam && teams == nil {
			if teams, err = auth.Teams(ctx, w.store); err != nil {
				return fmt.Errorf("check budgets: %w", err)
			}
		}
		if b.Period == agenttrace.PeriodSession {
			err = w.checkSpin(ctx, b, teams[b.ScopeValue])
		} else {
			err = w.checkBudget(ctx, b, teams[b.ScopeValue])
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (w *Budgets) checkBudget(ctx context.Context, b agenttrace.Budget, members []string) error {
	now := w.cfg.Now()
	key, from, to := budget.Period(b, now)
	spend, err := budget.Spend(ctx, w.store, b, from, to, members)
	if err != nil {
		return fmt.Errorf("check budget %s: %w", b.ID, err)
	}
	for _, th := range budget.Reached(spend, b.LimitUSD) {
		n := budget.Notice{Kind: "budget", BudgetID: b.ID, ScopeKind: b.ScopeKind, ScopeValue: b.ScopeValue,
			Period: b.Period, PeriodKey: key, SpendUSD: spend, LimitUSD: b.LimitUSD, Threshold: th,
			Dashboard: w.link("/costs"), FiredAt: now.UTC()}
		if err := w.fire(ctx, b, agenttrace.Alert{BudgetID: b.ID, Period: key, Threshold: th, FiredAt: now}, n); err != nil {
			return err
		}
	}
	return nil
}

// checkSpin fires b for every session started within the lookback that it catches,
// most expensive first; the cost order lets it stop at the first session below the rule.
func (w *Budgets) checkSpin(ctx context.Context, b agenttrace.Budget, members []string) error {
	now := w.cfg.Now()
	no := false
	f := agenttrace.SessionFilter{From: now.Add(-w.cfg.SpinLookback), HasCommits: &no, Sort: "cost", Desc: true, Limit: 200}
	switch b.ScopeKind {
	case agenttrace.ScopeKindUser:
		f.User = b.ScopeValue
	case agenttrace.ScopeKindRepo:
		f.Repo = b.ScopeValue
	}
	for {
		page, err := w.store.ListSessions(ctx, f)
		if err != nil {
			return fmt.Errorf("check spin rule %s: %w", b.ID, err)
		}
		for _, s := range page.Sessions {
			if s.CostUSD == nil || *s.CostUSD < b.LimitUSD {
				return nil
			}
			if !budget.Spinning(b, s) || (b.ScopeKind == agenttrace.ScopeKindTeam && !budget.InScope(b, s.User, members)) {
				continue
			}
			n := budget.Notice{Kind: "spin", BudgetID: b.ID, ScopeKind: b.ScopeKind, ScopeValue: b.ScopeValue,
				Period: b.Period, SessionID: s.ID, SpendUSD: *s.CostUSD, LimitUSD: b.LimitUSD, Threshold: 100,
				FailedCall: s.ErrorCount, Dashboard: w.link("/sessions/" + s.ID), FiredAt: now.UTC()}
			if err := w.fire(ctx, b, agenttrace.Alert{BudgetID: b.ID, Period: s.ID, Threshold: 100, FiredAt: now}, n); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
	}
}

func (w *Budgets) link(path string) string {
	if w.cfg.DashboardURL == "" {
		return ""
	}
	return strings.TrimSuffix(w.cfg.DashboardURL, "/") + path
}

// fire claims a and, when this call won the claim, delivers n and records the outcome.
// A delivery that finally fails is logged and recorded, never fired again: the claim is
// what makes an alert once-only, and an alert storm is worse than a missed alert.
func (w *Budgets) fire(ctx context.Context, b agenttrace.Budget, a agenttrace.Alert, n budget.Notice) error {
	won, err := w.store.ClaimAlert(ctx, a)
	if errors.Is(err, agenttrace.ErrNotFound) {
		return nil // deleted since this pass listed it
	}
	if err != nil || !won {
		return err
	}
	body, err := budget.Body(n, b.Format)
	if err != nil {
		return fmt.Errorf("alert %s: encode: %w", b.ID, err)
	}
	attempts, derr := w.post.deliver(ctx, b.WebhookURL, body)
	a.Attempts = attempts
	if derr != nil {
		a.Error = derr.Error()
		w.cfg.Logger.Error("alert not delivered", "budget", b.ID, "period", a.Period, "threshold", a.Threshold,
			"attempts", attempts, "err", derr)
	} else {
		done := w.cfg.Now().UTC()
		a.DeliveredAt = &done
		w.cfg.Logger.Info("alert delivered", "budget", b.ID, "period", a.Period, "threshold", a.Threshold, "attempts", attempts)
	}
	// The outcome is recorded even when ctx ended during delivery (shutdown).
	if err := w.store.FinishAlert(context.WithoutCancel(ctx), a); err != nil {
		return fmt.Errorf("alert %s: %w", b.ID, err)
	}
	return nil
}
