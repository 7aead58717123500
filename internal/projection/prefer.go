package projection

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// ProjectionVersion changes whenever the projection's rules change, so stores know to
// re-project what they stored with older rules.
const ProjectionVersion = "3"

// PreferEvent reports whether a should be kept instead of b, two events with the same ID.
// Stores that keep one copy per ID apply the same rule, so what they keep never depends
// on arrival order. In order:
//
//   - usage: the larger token total (a transcript line re-read while still growing);
//   - the lower privacy tier (a copy never raises what is kept);
//   - the longer JSON encoding, leaving the time out: the richer copy, e.g. a live hook
//     payload (with duration_ms, the full tool_response) over one a transcript import
//     rebuilt. The time must not count: RFC 3339 drops trailing zeros, so the same
//     payload captured twice would otherwise be told apart by its clock reading;
//   - the earlier time, then the encoding that sorts first: only to decide ties.
func PreferEvent(a, b *event.Event) bool {
	if a.Kind == event.KindUsage && b.Kind == event.KindUsage && a.Usage != nil && b.Usage != nil {
		ta, tb := a.Usage.Total(), b.Usage.Total()
		if ta != tb {
			return ta > tb
		}
	}
	if a.Tier != b.Tier {
		return a.Tier < b.Tier
	}
	ja, jb := encodeTimeless(a), encodeTimeless(b)
	if len(ja) != len(jb) {
		return len(ja) > len(jb)
	}
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return bytes.Compare(ja, jb) < 0
}

func encodeTimeless(e *event.Event) []byte {
	c := *e
	c.Time = time.Time{}
	b, _ := json.Marshal(&c)
	return b
}

// EventUsageTotal is the token total of a usage event (0 for other kinds); stores use it
// to keep the larger of two readings of the same API response.
func EventUsageTotal(e *event.Event) int64 {
	if e.Kind != event.KindUsage || e.Usage == nil {
		return 0
	}
	return e.Usage.Total()
}

// ToUsage converts an event's usage into the domain's Usage.
func ToUsage(u *event.Usage) agenttrace.Usage {
	if u == nil {
		return agenttrace.Usage{}
	}
	return agenttrace.Usage{
		InputTokens:              u.InputTokens,
		OutputTokens:             u.OutputTokens,
		CacheCreationInputTokens: u.CacheWrites(),
		CacheCreation5mTokens:    u.CacheCreation5mTokens,
		CacheCreation1hTokens:    u.CacheCreation1hTokens,
		CacheReadInputTokens:     u.CacheReadInputTokens,
		WebSearchRequests:        u.WebSearchRequests,
	}
}

// price prices one usage event, or returns nil when its model cannot be priced.
func price(p agenttrace.Pricer, u *event.Usage) *float64 {
	if p == nil {
		return nil
	}
	var usd float64
	var ok bool
	if rp, is := p.(agenttrace.ResponsePricer); is {
		usd, ok = rp.CostOfResponse(u)
	} else {
		usd, ok = p.Cost(u.Model, ToUsage(u))
	}
	if !ok {
		return nil
	}
	return &usd
}
