package pricing_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/pricing"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// TestFixtureCostMatchesClaudeCode prices every recorded session's deduplicated usage
// (main transcript plus subagents) response by response and expects Claude Code's own
// totalCostUSD, both from the transcript's cost-state and from the CLI's result, within
// $0.0001. The fixtures live in the transcript package's testdata.
func TestFixtureCostMatchesClaudeCode(t *testing.T) {
	mains, err := filepath.Glob("../transcript/testdata/*/transcripts/*/*.jsonl")
	if err != nil || len(mains) != 6 {
		t.Fatalf("want six fixture sessions, found %d (%v)", len(mains), err)
	}
	tab := pricing.Default()
	for _, main := range mains {
		root := filepath.Dir(filepath.Dir(filepath.Dir(main)))
		t.Run(filepath.Base(root), func(t *testing.T) {
			var ours float64
			var reported *event.CostState
			for _, f := range transcript.Files(main) {
				evs, _, err := transcript.Tail(f, transcript.State{}, transcript.Options{Final: true})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					switch e.Kind {
					case event.KindUsage:
						usd, ok := tab.Cost(e.Usage.Model, pricing.FromEvent(e.Usage))
						if !ok {
							t.Fatalf("model %q not priced", e.Usage.Model)
						}
						ours += usd
					case event.KindCostState:
						if f == main {
							reported = e.CostState
						}
					}
				}
			}
			if reported == nil {
				t.Fatal("no cost-state line")
			}
			if math.Abs(ours-reported.TotalCostUSD) > 0.0001 {
				t.Errorf("cost %.6f, cost-state totalCostUSD %.6f", ours, reported.TotalCostUSD)
			}
			// Claude Code's per-model totals priced in one go agree too (no long-context
			// rates apply to these models).
			var fromModels float64
			for model, mu := range reported.ModelUsage {
				usd, ok := tab.Cost(model, pricing.Usage{Input: mu.InputTokens, Output: mu.OutputTokens,
					CacheWrite5m: mu.CacheCreation5mTokens, CacheWrite1h: mu.CacheCreation1hTokens,
					CacheRead: mu.CacheReadInputTokens, WebSearchRequests: mu.WebSearchRequests})
				if !ok {
					t.Fatalf("model %q not priced", model)
				}
				fromModels += usd
			}
			if math.Abs(fromModels-reported.TotalCostUSD) > 0.0001 {
				t.Errorf("cost of cost-state's own model usage %.6f, its totalCostUSD %.6f", fromModels, reported.TotalCostUSD)
			}

			results, _ := filepath.Glob(filepath.Join(root, "result*.json"))
			sort.Strings(results)
			b, err := os.ReadFile(results[len(results)-1])
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				TotalCostUSD float64 `json:"total_cost_usd"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if math.Abs(ours-r.TotalCostUSD) > 0.0001 {
				t.Errorf("cost %.6f, result total_cost_usd %.6f", ours, r.TotalCostUSD)
			}
		})
	}
}
