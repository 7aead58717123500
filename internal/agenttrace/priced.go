package agenttrace

import (
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// Pricer prices one API response's usage. ok is false when the model is unknown, and then
// the cost is reported as unknown (null), never as a silent 0.
type Pricer interface {
	Cost(model string, u Usage) (usd float64, ok bool)
}

// ResponsePricer is a Pricer that prices one API response from everything the usage
// event carries: besides the model and tokens, its speed (fast mode is billed at a
// premium) and web search requests. The projection uses it when the Pricer has it; the
// pricing package's Table.Cost(u.Model, pricing.FromEvent(u)) is one.
type ResponsePricer interface {
	Pricer
	CostOfResponse(u *event.Usage) (usd float64, ok bool)
}

// PricedUsage is one deduplicated API response as the projection counted it, with the
// prompt it was attributed to. Stores keep these rows for analytics.
type PricedUsage struct {
	EventID  string
	Time     time.Time
	PromptID string
	Model    string
	User     string
	Usage    Usage
	CostUSD  *float64 // nil when the model could not be priced
}
