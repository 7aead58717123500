package pricing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Configured returns the table a server prices with, the embedded one or path merged
// over it, and a version that changes whenever the prices do: the stores re-project
// stored sessions when it differs from the one they were costed with.
func Configured(path string) (*Table, string, error) {
	if path == "" {
		return Default(), "embedded:" + Default().AsOf, nil
	}
	t, err := Load(path)
	if err != nil {
		return nil, "", fmt.Errorf("load price file: %w", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read price file: %w", err)
	}
	sum := sha256.Sum256(raw)
	return t, "file:" + hex.EncodeToString(sum[:8]), nil
}

// Pricer adapts a Table to the projection's pricer. CostOfResponse prices one API
// response with everything the transcript says of it (fast mode, web searches).
type Pricer struct{ Table *Table }

var _ agenttrace.ResponsePricer = Pricer{}

// Cost prices a session's or prompt's summed usage of model.
func (p Pricer) Cost(model string, u agenttrace.Usage) (float64, bool) {
	w5, w1 := cacheWrites(u.CacheCreationInputTokens, u.CacheCreation5mTokens, u.CacheCreation1hTokens)
	return p.Table.Cost(model, Usage{
		Input:             u.InputTokens,
		Output:            u.OutputTokens,
		CacheWrite5m:      w5,
		CacheWrite1h:      w1,
		CacheRead:         u.CacheReadInputTokens,
		WebSearchRequests: u.WebSearchRequests,
	})
}

// CostOfResponse prices one transcript usage event.
func (p Pricer) CostOfResponse(u *event.Usage) (float64, bool) {
	return p.Table.Cost(u.Model, FromEvent(u))
}
