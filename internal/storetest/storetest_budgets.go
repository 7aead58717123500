package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// testBudgets: budgets are validated, listed oldest first and deleted with their alerts;
// an alert is claimed once per budget, period and threshold (the claim that keeps a
// webhook from firing twice), and its delivery outcome is recorded.
func testBudgets(t *testing.T, s agenttrace.Store) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	daily := agenttrace.Budget{ScopeKind: agenttrace.ScopeKindUser, ScopeValue: "alice", Period: agenttrace.PeriodDaily,
		LimitUSD: 10, WebhookURL: "https://hooks.example/x", CreatedAt: t0}
	spin := agenttrace.Budget{ScopeKind: agenttrace.ScopeKindAll, Period: agenttrace.PeriodSession, LimitUSD: 2.5,
		MinFailedCalls: 5, WebhookURL: "http://127.0.0.1:9/", Format: agenttrace.FormatSlack, CreatedAt: t0.Add(time.Minute)}
	for _, bad := range []agenttrace.Budget{
		{ScopeKind: "org", Period: "daily", LimitUSD: 1, WebhookURL: "https://x"},
		{ScopeKind: "user", Period: "daily", LimitUSD: 1, WebhookURL: "https://x"},
		{ScopeKind: "all", Period: "weekly", LimitUSD: 1, WebhookURL: "https://x"},
		{ScopeKind: "all", Period: "daily", LimitUSD: 0, WebhookURL: "https://x"},
		{ScopeKind: "all", Period: "daily", LimitUSD: 1, WebhookURL: "file:///etc/passwd"},
		{ScopeKind: "all", Period: "daily", LimitUSD: 1, WebhookURL: "https://x", Format: "xml"},
		{ScopeKind: "all", Period: "daily", LimitUSD: 1, WebhookURL: "https://x", MinFailedCalls: 3},
	} {
		if _, err := s.CreateBudget(ctx(t), bad); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("CreateBudget(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	gotDaily, err := s.CreateBudget(ctx(t), daily)
	if err != nil {
		t.Fatal(err)
	}
	gotSpin, err := s.CreateBudget(ctx(t), spin)
	if err != nil {
		t.Fatal(err)
	}
	daily.ID, daily.Format, spin.ID = gotDaily.ID, agenttrace.FormatJSON, gotSpin.ID
	list, err := s.Budgets(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	EqualJSON(t, "budgets", list, []agenttrace.Budget{daily, spin})
	testAlertClaims(t, s, daily.ID)

	if err := s.DeleteBudget(ctx(t), daily.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBudget(ctx(t), daily.ID); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("second DeleteBudget = %v, want ErrNotFound", err)
	}
	if alerts, err := s.Alerts(ctx(t), ""); err != nil || len(alerts) != 0 {
		t.Errorf("alerts after delete = %v, %v; want none", alerts, err)
	}
	if _, err := s.ClaimAlert(ctx(t), agenttrace.Alert{BudgetID: daily.ID, Period: "2026-05-01", Threshold: 80, FiredAt: t0}); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("claim for a deleted budget = %v, want ErrNotFound", err)
	}
}

func testAlertClaims(t *testing.T, s agenttrace.Store, id string) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	claims := []struct {
		period    string
		threshold int
		want      bool
	}{
		{"2026-05-01", 80, true},
		{"2026-05-01", 80, false}, // the same threshold in the same period: already claimed
		{"2026-05-01", 100, true},
		{"2026-05-02", 80, true}, // the next day is a new period
	}
	for _, c := range claims {
		got, err := s.ClaimAlert(ctx(t), agenttrace.Alert{BudgetID: id, Period: c.period, Threshold: c.threshold, FiredAt: t0})
		if err != nil || got != c.want {
			t.Errorf("ClaimAlert(%s, %d) = %v, %v; want %v", c.period, c.threshold, got, err, c.want)
		}
	}
	done := t0.Add(time.Second)
	if err := s.FinishAlert(ctx(t), agenttrace.Alert{BudgetID: id, Period: "2026-05-01", Threshold: 80, Attempts: 3, DeliveredAt: &done}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAlert(ctx(t), agenttrace.Alert{BudgetID: id, Period: "2026-05-01", Threshold: 100, Attempts: 5, Error: "503"}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAlert(ctx(t), agenttrace.Alert{BudgetID: id, Period: "1999-01-01", Threshold: 80}); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("FinishAlert of an unknown alert = %v, want ErrNotFound", err)
	}
	got, err := s.Alerts(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	EqualJSON(t, "alerts", got, []agenttrace.Alert{
		{BudgetID: id, Period: "2026-05-01", Threshold: 80, FiredAt: t0, DeliveredAt: &done, Attempts: 3},
		{BudgetID: id, Period: "2026-05-01", Threshold: 100, FiredAt: t0, Attempts: 5, Error: "503"},
		{BudgetID: id, Period: "2026-05-02", Threshold: 80, FiredAt: t0},
	})
}
