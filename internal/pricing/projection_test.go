package pricing_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/pricing"
)

// claude-opus-4-5: $5 input, $25 output, $6.25 5-minute writes, $10 1-hour writes,
// $0.50 reads per million tokens.
func TestPricerCost(t *testing.T) {
	p := pricing.Pricer{Table: pricing.Default()}
	const M = 1_000_000
	tests := []struct {
		name string
		u    agenttrace.Usage
		want float64
	}{
		{"input and output", agenttrace.Usage{InputTokens: M, OutputTokens: M}, 30},
		{"unsplit writes are 5-minute ones", agenttrace.Usage{CacheCreationInputTokens: M}, 6.25},
		{"split writes", agenttrace.Usage{CacheCreationInputTokens: 2 * M, CacheCreation5mTokens: M, CacheCreation1hTokens: M}, 16.25},
		{"reads", agenttrace.Usage{CacheReadInputTokens: M}, 0.5},
	}
	for _, tt := range tests {
		got, ok := p.Cost("claude-opus-4-5", tt.u)
		if !ok || !near(got, tt.want) {
			t.Errorf("%s: Cost = %v, %v; want %v", tt.name, got, ok, tt.want)
		}
	}
	if _, ok := p.Cost("no-such-model", agenttrace.Usage{InputTokens: 1}); ok {
		t.Error("an unknown model was priced")
	}

	// One response is priced like the table prices its event usage.
	u := &event.Usage{Model: "claude-opus-4-5", InputTokens: M, CacheCreationInputTokens: M}
	got, ok := p.CostOfResponse(u)
	want, _ := pricing.Default().Cost(u.Model, pricing.FromEvent(u))
	if !ok || !near(got, want) || !near(got, 11.25) {
		t.Errorf("CostOfResponse = %v, %v; want %v (11.25)", got, ok, want)
	}
}

func TestConfigured(t *testing.T) {
	table, version, err := pricing.Configured("")
	if err != nil || table != pricing.Default() || version != "embedded:"+pricing.Default().AsOf {
		t.Errorf("Configured(\"\") = %p, %q, %v; want the embedded table", table, version, err)
	}

	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := write("a.json", `{"as_of": "2030-01-01"}`)
	b := write("b.json", `{"as_of": "2030-01-02"}`)
	_, va, err := pricing.Configured(a)
	if err != nil || !strings.HasPrefix(va, "file:") || len(va) != len("file:")+16 {
		t.Fatalf("Configured(a) version %q, %v; want file: and 16 hex digits", va, err)
	}
	if _, vb, _ := pricing.Configured(b); vb == va {
		t.Errorf("two price files share version %q", va)
	}
	if _, va2, _ := pricing.Configured(a); va2 != va {
		t.Errorf("the same file has versions %q and %q", va, va2)
	}
	if _, _, err := pricing.Configured(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("Configured(missing file) = nil error")
	}
}
