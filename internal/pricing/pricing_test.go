package pricing_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/pricing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestMeasuredCLIPrices checks every row of what the Claude Code 2.1.332 CLI itself
// charges (claude-code-interface.md §4.3: one million tokens of one kind per run).
func TestMeasuredCLIPrices(t *testing.T) {
	rows := []struct {
		model                        string
		input, output, write5m, read float64
	}{
		{"claude-opus-5-5", 4, 20, 5, 0.20},
		{"claude-opus-5", 5, 25, 6.25, 0.50},
		{"claude-opus-4-6", 5, 25, 6.25, 0.50},
		{"claude-opus-4-5", 5, 25, 6.25, 0.50},
		{"claude-sonnet-5", 2, 10, 2.50, 0.20},
		{"claude-sonnet-5-5", 2, 10, 2.50, 0.10},
		{"claude-sonnet-4-6", 3, 15, 3.75, 0.30},
		{"claude-sonnet-4-5-20250929", 3, 15, 3.75, 0.30},
		{"claude-sonnet-4-20250514", 3, 15, 3.75, 0.30},
		{"claude-3-7-sonnet-20250219", 3, 15, 3.75, 0.30},
		{"claude-haiku-4-5", 1, 5, 1.25, 0.10},
		{"claude-3-5-haiku-20241022", 0.80, 4, 1, 0.08},
	}
	tab := pricing.Default()
	const m = 1_000_000
	for _, r := range rows {
		for _, c := range []struct {
			kind string
			u    pricing.Usage
			want float64
		}{
			{"input", pricing.Usage{Input: m}, r.input},
			{"output", pricing.Usage{Output: m}, r.output},
			{"cache write 5m", pricing.Usage{CacheWrite5m: m}, r.write5m},
			{"cache read", pricing.Usage{CacheRead: m}, r.read},
		} {
			got, ok := tab.Cost(r.model, c.u)
			if !ok {
				t.Fatalf("Cost(%q): not priced", r.model)
			}
			if !near(got, c.want) {
				t.Errorf("Cost(%q, 1M %s) = %v, want %v", r.model, c.kind, got, c.want)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		model string
		want  string // matched table key; "" means not priced
	}{
		{"claude-opus-5-5", "claude-opus-5-5"},
		{"claude-opus-4-5-20251101", "claude-opus-4-5"},
		{"claude-opus-4-20250514", "claude-opus-4"},
		{"claude-opus-4-1-20250805", "claude-opus-4-1"},
		{"claude-sonnet-4-6[1m]", "claude-sonnet-4-6"},
		{"Claude-Sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"},
		{"claude-opus-4-1@20250805", "claude-opus-4-1"},
		{"claude-3-haiku-20240307", "claude-3-haiku"},
		{"opus", "claude-opus-5-5"},
		{"sonnet", "claude-sonnet-5-5"},
		{"haiku", ""}, // ambiguous between Haiku 4.5 and 5.5: not guessed
		{"<synthetic>", ""},
		{"gpt-5", ""},
		{"", ""},
	}
	for _, tt := range tests {
		p, ok := pricing.Default().Lookup(tt.model)
		if got := map[bool]string{true: p.Model, false: ""}[ok]; got != tt.want {
			t.Errorf("Lookup(%q) = %q, want %q", tt.model, got, tt.want)
		}
	}
}

func TestEveryModelHasEveryRate(t *testing.T) {
	tab := pricing.Default()
	if tab.AsOf == "" || tab.Source == "" {
		t.Fatalf("table lacks as_of or source: %q %q", tab.AsOf, tab.Source)
	}
	for id, p := range tab.Models {
		if p.Input <= 0 || p.Output <= 0 || p.CacheWrite5m <= 0 || p.CacheWrite1h <= 0 || p.CacheRead <= 0 {
			t.Errorf("%s: missing a rate: %+v", id, p.Rates)
		}
		// The published multipliers: 5m write 1.25x and 1h write 2x input. Haiku 3 is the
		// one published exception (0.30, not 0.3125).
		if id != "claude-3-haiku" && !near(p.CacheWrite5m, 1.25*p.Input) || !near(p.CacheWrite1h, 2*p.Input) {
			t.Errorf("%s: cache write rates %v/%v do not follow 1.25x/2x of input %v", id, p.CacheWrite5m, p.CacheWrite1h, p.Input)
		}
	}
}

func TestCost(t *testing.T) {
	tab := pricing.Default()
	tests := []struct {
		name  string
		model string
		u     pricing.Usage
		want  float64
	}{
		// The worked example of claude-code-interface.md §2.7.
		{"sonnet 4.6 request 1", "claude-sonnet-4-6", pricing.Usage{Input: 3, Output: 61, CacheWrite1h: 2140, CacheRead: 18790}, 0.019401},
		{"sonnet 4.6 request 2", "claude-sonnet-4-6", pricing.Usage{Input: 412, Output: 96, CacheRead: 20930}, 0.008955},
		{"1h writes at 2x input", "claude-opus-5-5", pricing.Usage{CacheWrite1h: 1_000_000}, 8},
		{"fast mode opus 5", "claude-opus-5", pricing.Usage{Input: 1_000_000, Output: 1_000_000, Speed: "fast"}, 60},
		{"fast on a model without fast pricing", "claude-opus-4-6", pricing.Usage{Input: 1_000_000, Speed: "fast"}, 5},
		{"web search", "claude-sonnet-4-6", pricing.Usage{WebSearchRequests: 3}, 0.03},
		{"haiku 5.5 short prompt", "claude-haiku-5-5", pricing.Usage{Input: 100_000, Output: 1000}, 0.0105},
		{"haiku 5.5 long prompt bills all at the higher rate", "claude-haiku-5-5", pricing.Usage{Input: 1000, CacheRead: 100_000, Output: 1000}, 0.0005 + 0.005 + 0.0025},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tab.Cost(tt.model, tt.u)
			if !ok {
				t.Fatalf("Cost(%q) not priced", tt.model)
			}
			if math.Abs(got-tt.want) > 1e-6 {
				t.Errorf("Cost = %.8f, want %.8f", got, tt.want)
			}
		})
	}
}

func TestUnknownModelIsNotZero(t *testing.T) {
	got, ok := pricing.Default().Cost("claude-unreleased-9", pricing.Usage{Input: 1000})
	if ok || got != 0 {
		t.Errorf("Cost(unknown) = %v, %v; want 0, false", got, ok)
	}
}

func TestFromEvent(t *testing.T) {
	tests := []struct {
		name string
		in   event.Usage
		want pricing.Usage
	}{
		{"split known", event.Usage{InputTokens: 1, OutputTokens: 2, CacheCreationInputTokens: 30, CacheCreation5mTokens: 10, CacheCreation1hTokens: 20, CacheReadInputTokens: 4, Speed: "fast", WebSearchRequests: 5},
			pricing.Usage{Input: 1, Output: 2, CacheWrite5m: 10, CacheWrite1h: 20, CacheRead: 4, Speed: "fast", WebSearchRequests: 5}},
		{"no split: all 5m", event.Usage{CacheCreationInputTokens: 30},
			pricing.Usage{CacheWrite5m: 30}},
	}
	for _, tt := range tests {
		if got := pricing.FromEvent(&tt.in); got != tt.want {
			t.Errorf("%s: FromEvent = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestLoadOverride(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	override := `{
	  "as_of": "2027-01-01",
	  "models": {
	    "claude-opus-5-5-20270101": {"input": 1, "output": 2, "cache_write_5m": 1.25, "cache_write_1h": 2, "cache_read": 0.1},
	    "acme-coder-1": {"input": 7, "output": 9, "cache_write_5m": 0, "cache_write_1h": 0, "cache_read": 0}
	  },
	  "aliases": {"acme": "acme-coder-1"}
	}`
	if err := os.WriteFile(path, []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	tab, err := pricing.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if tab.AsOf != "2027-01-01" {
		t.Errorf("AsOf = %q, want the override's", tab.AsOf)
	}
	tests := []struct {
		model string
		u     pricing.Usage
		want  float64
	}{
		{"claude-opus-5-5", pricing.Usage{Input: 1_000_000}, 1},   // replaced
		{"acme", pricing.Usage{Output: 1_000_000}, 9},             // added, via alias
		{"claude-sonnet-4-6", pricing.Usage{Input: 1_000_000}, 3}, // default kept
	}
	for _, tt := range tests {
		got, ok := tab.Cost(tt.model, tt.u)
		if !ok || !near(got, tt.want) {
			t.Errorf("Cost(%q) = %v, %v; want %v", tt.model, got, ok, tt.want)
		}
	}
	// The defaults are untouched by an override.
	if got, _ := pricing.Default().Cost("claude-opus-5-5", pricing.Usage{Input: 1_000_000}); !near(got, 4) {
		t.Errorf("default opus 5.5 input after Load = %v, want 4", got)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	dangling := filepath.Join(dir, "dangling.json")
	os.WriteFile(bad, []byte(`{"models": [`), 0o600)
	os.WriteFile(dangling, []byte(`{"aliases": {"x": "no-such-model"}}`), 0o600)
	for _, p := range []string{filepath.Join(dir, "missing.json"), bad, dangling} {
		if _, err := pricing.Load(p); err == nil {
			t.Errorf("Load(%s) succeeded, want an error", filepath.Base(p))
		}
	}
}
