package budget

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Notice is what an alert tells its webhook: a budget threshold reached in a period, or
// a session a spin rule caught.
type Notice struct {
	Kind       string    `json:"kind"` // "budget" or "spin"
	BudgetID   string    `json:"budget_id"`
	ScopeKind  string    `json:"scope_kind"`
	ScopeValue string    `json:"scope_value,omitempty"`
	Period     string    `json:"period"`                 // daily, monthly, session
	PeriodKey  string    `json:"period_start,omitempty"` // 2006-01-02 or 2006-01
	SessionID  string    `json:"session_id,omitempty"`   // spin
	SpendUSD   float64   `json:"spend_usd"`
	LimitUSD   float64   `json:"limit_usd"`
	Threshold  int       `json:"threshold"` // percent of the limit
	FailedCall int       `json:"failed_tool_calls,omitempty"`
	Dashboard  string    `json:"dashboard_url,omitempty"`
	FiredAt    time.Time `json:"fired_at"`
}

// Body encodes n in format (agenttrace.FormatJSON or FormatSlack).
func Body(n Notice, format string) ([]byte, error) {
	if format != agenttrace.FormatSlack {
		return json.Marshal(n)
	}
	return json.Marshal(map[string]string{"text": n.Text()})
}

// Text is n in one line of Slack mrkdwn (plain text elsewhere).
func (n Notice) Text() string {
	scope := n.ScopeKind
	if n.ScopeValue != "" {
		scope += " " + n.ScopeValue
	}
	var b strings.Builder
	if n.Kind == "spin" {
		fmt.Fprintf(&b, ":repeat: agent-trace: session %s (%s) spent $%.2f with %d failing tool calls and no commit (rule: $%.2f)",
			n.SessionID, scope, n.SpendUSD, n.FailedCall, n.LimitUSD)
	} else {
		fmt.Fprintf(&b, ":money_with_wings: agent-trace: %s budget for %s reached %d%%: $%.2f of $%.2f (%s)",
			n.Period, scope, n.Threshold, n.SpendUSD, n.LimitUSD, n.PeriodKey)
	}
	if n.Dashboard != "" {
		fmt.Fprintf(&b, " <%s|open the dashboard>", n.Dashboard)
	}
	return b.String()
}
