package budget

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

func TestPeriod(t *testing.T) {
	now := time.Date(2026, 12, 31, 23, 59, 0, 0, time.FixedZone("CET", 3600)) // 22:59 UTC
	for _, tt := range []struct {
		period, key, from, to string
	}{
		{agenttrace.PeriodDaily, "2026-12-31", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
		{agenttrace.PeriodMonthly, "2026-12", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	} {
		key, from, to := Period(agenttrace.Budget{Period: tt.period}, now)
		if key != tt.key || from.Format(time.RFC3339) != tt.from || to.Format(time.RFC3339) != tt.to {
			t.Errorf("Period(%s) = %s [%s, %s), want %s [%s, %s)", tt.period, key, from, to, tt.key, tt.from, tt.to)
		}
	}
}

func TestReached(t *testing.T) {
	for _, tt := range []struct {
		spend float64
		want  []int
	}{{0, nil}, {7.99, nil}, {8, []int{80}}, {9.99, []int{80}}, {10, []int{80, 100}}, {50, []int{80, 100}}} {
		if got := Reached(tt.spend, 10); !slices.Equal(got, tt.want) {
			t.Errorf("Reached(%v, 10) = %v, want %v", tt.spend, got, tt.want)
		}
	}
}

type fakeSource struct {
	days  []agenttrace.DailyCost
	toks  []agenttrace.Token
	users []agenttrace.User
}

func (f fakeSource) DailyCost(context.Context, time.Time, time.Time, string) ([]agenttrace.DailyCost, error) {
	return f.days, nil
}
func (f fakeSource) Tokens(context.Context) ([]agenttrace.Token, error) { return f.toks, nil }
func (f fakeSource) Users(context.Context) ([]agenttrace.User, error)   { return f.users, nil }

// TestBurnsTeam: a team's spend is its users' (from the users table and from tokens),
// and spin rules have no burn.
func TestBurnsTeam(t *testing.T) {
	src := fakeSource{
		days:  []agenttrace.DailyCost{{Key: "ada", CostUSD: 1}, {Key: "bob", CostUSD: 2}, {Key: "eve", CostUSD: 4}},
		users: []agenttrace.User{{Name: "ada", Team: "core"}, {Name: "eve", Team: "other"}},
		toks:  []agenttrace.Token{{User: "bob", Team: "core"}},
	}
	budgets := []agenttrace.Budget{
		{ID: "team", ScopeKind: agenttrace.ScopeKindTeam, ScopeValue: "core", Period: agenttrace.PeriodDaily, LimitUSD: 4},
		{ID: "all", ScopeKind: agenttrace.ScopeKindAll, Period: agenttrace.PeriodMonthly, LimitUSD: 10},
		{ID: "spin", ScopeKind: agenttrace.ScopeKindAll, Period: agenttrace.PeriodSession, LimitUSD: 1},
	}
	got, err := Burns(context.Background(), src, budgets, time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SpendUSD != 3 || got[0].Percent != 75 || got[0].Period != "2026-05-03" ||
		got[1].SpendUSD != 7 || got[1].Period != "2026-05" {
		t.Errorf("Burns = %+v", got)
	}
}

func TestSlackBody(t *testing.T) {
	n := Notice{Kind: "spin", SessionID: "s1", ScopeKind: "user", ScopeValue: "ada", SpendUSD: 6.5, FailedCall: 12, LimitUSD: 5}
	raw, err := Body(n, agenttrace.FormatSlack)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := ":repeat: agent-trace: session s1 (user ada) spent $6.50 with 12 failing tool calls and no commit (rule: $5.00)"
	if len(got) != 1 || got["text"] != want {
		t.Errorf("slack body = %s, want only text %q", raw, want)
	}
}
