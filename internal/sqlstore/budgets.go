package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Budgets implements agenttrace.BudgetStore with SQL both SQLite and PostgreSQL run; an
// adapter supplies how to read (Reader) and how to write (Exec).
type Budgets struct {
	Reader Reader
	// Exec runs a statement written with "?" placeholders (Budgets numbers them when
	// Reader.Dollar) and returns how many rows it changed.
	Exec func(ctx context.Context, q string, args ...any) (int64, error)
	Now  func() time.Time
}

const budgetCols = `id, scope_kind, scope_value, period, limit_usd, min_failed_calls, webhook_url, format, created_ms`

const alertCols = `budget_id, period, threshold, fired_ms, delivered_ms, attempts, last_error`

func (b Budgets) q(s string) string {
	if b.Reader.Dollar {
		return Dollars(s)
	}
	return s
}

// CreateBudget stores a new budget. See agenttrace.BudgetStore.
func (b Budgets) CreateBudget(ctx context.Context, bu agenttrace.Budget) (agenttrace.Budget, error) {
	if err := bu.Validate(); err != nil {
		return bu, fmt.Errorf("create budget: %w", err)
	}
	if bu.Format == "" {
		bu.Format = agenttrace.FormatJSON
	}
	if bu.CreatedAt.IsZero() {
		bu.CreatedAt = b.Now()
	}
	bu.CreatedAt = time.UnixMilli(bu.CreatedAt.UnixMilli()).UTC()
	id := make([]byte, 8)
	rand.Read(id) // never fails (crypto/rand's documented behaviour since Go 1.24)
	bu.ID = "bud_" + hex.EncodeToString(id)
	_, err := b.Exec(ctx, b.q(`INSERT INTO budgets (`+budgetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		bu.ID, bu.ScopeKind, bu.ScopeValue, bu.Period, bu.LimitUSD, bu.MinFailedCalls, bu.WebhookURL, bu.Format,
		bu.CreatedAt.UnixMilli())
	if err != nil {
		return bu, fmt.Errorf("create budget: %w", err)
	}
	return bu, nil
}

// Budgets lists every budget, oldest first. See agenttrace.BudgetStore.
func (b Budgets) Budgets(ctx context.Context) ([]agenttrace.Budget, error) {
	out := []agenttrace.Budget{}
	err := b.Reader.Query(ctx, `SELECT `+budgetCols+` FROM budgets ORDER BY created_ms, id`, nil, func(rows Rows) error {
		for rows.Next() {
			var bu agenttrace.Budget
			var created int64
			if err := rows.Scan(&bu.ID, &bu.ScopeKind, &bu.ScopeValue, &bu.Period, &bu.LimitUSD, &bu.MinFailedCalls,
				&bu.WebhookURL, &bu.Format, &created); err != nil {
				return err
			}
			bu.CreatedAt = time.UnixMilli(created).UTC()
			out = append(out, bu)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list budgets: %w", err)
	}
	return out, nil
}

// DeleteBudget erases a budget and its alerts. See agenttrace.BudgetStore.
func (b Budgets) DeleteBudget(ctx context.Context, id string) error {
	n, err := b.Exec(ctx, b.q(`DELETE FROM budgets WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("delete budget %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete budget %s: %w", id, agenttrace.ErrNotFound)
	}
	// After the budget, so that a claim racing the delete leaves at most an orphan row
	// nothing reads, never a budget without its history.
	if _, err := b.Exec(ctx, b.q(`DELETE FROM budget_alerts WHERE budget_id = ?`), id); err != nil {
		return fmt.Errorf("delete budget %s: alerts: %w", id, err)
	}
	return nil
}

// ClaimAlert records a fired alert once. See agenttrace.BudgetStore.
func (b Budgets) ClaimAlert(ctx context.Context, a agenttrace.Alert) (bool, error) {
	found := false
	err := b.Reader.Query(ctx, b.q(`SELECT 1 FROM budgets WHERE id = ?`), []any{a.BudgetID}, func(rows Rows) error {
		found = rows.Next()
		return rows.Err()
	})
	if err != nil {
		return false, fmt.Errorf("claim alert %s %s %d%%: %w", a.BudgetID, a.Period, a.Threshold, err)
	}
	if !found {
		return false, fmt.Errorf("claim alert %s: %w", a.BudgetID, agenttrace.ErrNotFound)
	}
	// The primary key (budget, period, threshold) makes the insert the claim: of two
	// servers, or a server before and after a restart, only one inserts the row.
	n, err := b.Exec(ctx, b.q(`INSERT INTO budget_alerts (budget_id, period, threshold, fired_ms, attempts, last_error)
		VALUES (?, ?, ?, ?, 0, '') ON CONFLICT DO NOTHING`), a.BudgetID, a.Period, a.Threshold, a.FiredAt.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("claim alert %s %s %d%%: %w", a.BudgetID, a.Period, a.Threshold, err)
	}
	return n == 1, nil
}

// FinishAlert records a delivery's outcome. See agenttrace.BudgetStore.
func (b Budgets) FinishAlert(ctx context.Context, a agenttrace.Alert) error {
	var delivered *int64
	if a.DeliveredAt != nil {
		ms := a.DeliveredAt.UnixMilli()
		delivered = &ms
	}
	n, err := b.Exec(ctx, b.q(`UPDATE budget_alerts SET delivered_ms = ?, attempts = ?, last_error = ?
		WHERE budget_id = ? AND period = ? AND threshold = ?`), delivered, a.Attempts, a.Error, a.BudgetID, a.Period, a.Threshold)
	if err != nil {
		return fmt.Errorf("finish alert %s %s %d%%: %w", a.BudgetID, a.Period, a.Threshold, err)
	}
	if n == 0 {
		return fmt.Errorf("finish alert %s %s %d%%: %w", a.BudgetID, a.Period, a.Threshold, agenttrace.ErrNotFound)
	}
	return nil
}

// Alerts lists a budget's alerts, oldest first. See agenttrace.BudgetStore.
func (b Budgets) Alerts(ctx context.Context, budgetID string) ([]agenttrace.Alert, error) {
	q, args := `SELECT `+alertCols+` FROM budget_alerts`, []any{}
	if budgetID != "" {
		q, args = q+b.q(` WHERE budget_id = ?`), append(args, budgetID)
	}
	out := []agenttrace.Alert{}
	err := b.Reader.Query(ctx, q+` ORDER BY fired_ms, budget_id, period, threshold`, args, func(rows Rows) error {
		for rows.Next() {
			var a agenttrace.Alert
			var fired int64
			var delivered *int64
			if err := rows.Scan(&a.BudgetID, &a.Period, &a.Threshold, &fired, &delivered, &a.Attempts, &a.Error); err != nil {
				return err
			}
			a.FiredAt = time.UnixMilli(fired).UTC()
			if delivered != nil {
				d := time.UnixMilli(*delivered).UTC()
				a.DeliveredAt = &d
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}
