// Package pricing turns token usage into US dollars with an embedded, dated price table.
//
// The table (prices.json) lists every Claude model's price per million tokens for input,
// output, 5-minute and 1-hour cache writes and cache reads. A user file can override or
// extend it (Load). A model the table cannot price is reported as such (ok=false), never
// as a silent zero, so callers can show "cost unknown" and list the unpriced models.
package pricing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/agent-trace/agent-trace/event"
)

//go:embed prices.json
var defaultJSON []byte

// Rates are USD per million tokens of each kind.
type Rates struct {
	Input        float64 `json:"input"`
	Output       float64 `json:"output"`
	CacheWrite5m float64 `json:"cache_write_5m"`
	CacheWrite1h float64 `json:"cache_write_1h"`
	CacheRead    float64 `json:"cache_read"`
}

// LongContext is a higher set of rates that applies to a whole request once its prompt
// (input + cache writes + cache reads) exceeds AboveInputTokens.
type LongContext struct {
	AboveInputTokens int64 `json:"above_input_tokens"`
	Rates
}

// Price is one model's entry in the table.
type Price struct {
	Model string `json:"-"` // the table key that matched
	Rates
	// FastMultiplier scales the whole request when usage.speed is "fast"; 0 means the
	// model has no separately priced fast mode and fast requests bill at standard rates.
	FastMultiplier float64      `json:"fast_multiplier,omitempty"`
	LongContext    *LongContext `json:"long_context,omitempty"`
	Note           string       `json:"note,omitempty"`
}

// Table is a price table: models by canonical ID plus aliases.
type Table struct {
	AsOf                string            `json:"as_of"`
	Source              string            `json:"source,omitempty"`
	WebSearchPerRequest float64           `json:"web_search_per_request"`
	Models              map[string]Price  `json:"models"`
	Aliases             map[string]string `json:"aliases,omitempty"`
}

// Usage is the token usage of one API response.
//
// Cost is meant for one response at a time: long-context thresholds apply per request,
// so pricing a session's summed usage in one call can be wrong for such models.
type Usage struct {
	Input, Output, CacheWrite5m, CacheWrite1h, CacheRead int64
	Speed                                                string // "standard" or "fast"
	WebSearchRequests                                    int64
}

// FromEvent converts a transcript usage event's numbers into a Usage.
func FromEvent(u *event.Usage) Usage {
	if u == nil {
		return Usage{}
	}
	w5, w1 := cacheWrites(u.CacheCreationInputTokens, u.CacheCreation5mTokens, u.CacheCreation1hTokens)
	return Usage{
		Input:             u.InputTokens,
		Output:            u.OutputTokens,
		CacheWrite5m:      w5,
		CacheWrite1h:      w1,
		CacheRead:         u.CacheReadInputTokens,
		Speed:             u.Speed,
		WebSearchRequests: u.WebSearchRequests,
	}
}

// cacheWrites splits cache-write tokens into 5-minute and 1-hour ones. Without the split
// (older transcripts) the writes are priced as 5-minute ones, as Claude Code does.
func cacheWrites(total, w5, w1 int64) (int64, int64) {
	if w5 == 0 && w1 == 0 && total > 0 {
		return total, 0
	}
	return w5, w1
}

var defaultTable = mustParse(defaultJSON)

func mustParse(b []byte) *Table {
	t, err := parse(b)
	if err != nil {
		panic("pricing: embedded prices.json: " + err.Error())
	}
	return t
}

func parse(b []byte) (*Table, error) {
	var t Table
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse price table: %w", err)
	}
	for id, p := range t.Models {
		if p.Input < 0 || p.Output < 0 || p.CacheWrite5m < 0 || p.CacheWrite1h < 0 || p.CacheRead < 0 {
			return nil, fmt.Errorf("parse price table: model %q has a negative price", id)
		}
	}
	for alias, target := range t.Aliases {
		if _, ok := t.Models[target]; !ok {
			return nil, fmt.Errorf("parse price table: alias %q points at unknown model %q", alias, target)
		}
	}
	return &t, nil
}

// Default returns the embedded table. Callers must not modify it.
func Default() *Table { return defaultTable }

// Load reads a user price file in the same format as prices.json and merges it over the
// embedded defaults: a model it names replaces the default entry as a whole, aliases are
// added or replaced, and its as_of and source win when set.
func Load(path string) (*Table, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load price table: %w", err)
	}
	var over Table
	if err := json.Unmarshal(b, &over); err != nil {
		return nil, fmt.Errorf("load price table %s: %w", path, err)
	}
	merged := &Table{
		AsOf:                defaultTable.AsOf,
		Source:              defaultTable.Source,
		WebSearchPerRequest: defaultTable.WebSearchPerRequest,
		Models:              make(map[string]Price, len(defaultTable.Models)+len(over.Models)),
		Aliases:             make(map[string]string, len(defaultTable.Aliases)+len(over.Aliases)),
	}
	for k, v := range defaultTable.Models {
		merged.Models[k] = v
	}
	for k, v := range defaultTable.Aliases {
		merged.Aliases[k] = v
	}
	for k, v := range over.Models {
		merged.Models[normalise(k)] = v
	}
	for k, v := range over.Aliases {
		merged.Aliases[k] = normalise(v)
	}
	if over.AsOf != "" {
		merged.AsOf = over.AsOf
	}
	if over.Source != "" {
		merged.Source = over.Source
	}
	if over.WebSearchPerRequest != 0 {
		merged.WebSearchPerRequest = over.WebSearchPerRequest
	}
	for alias, target := range merged.Aliases {
		if _, ok := merged.Models[target]; !ok {
			return nil, fmt.Errorf("load price table %s: alias %q points at unknown model %q", path, alias, target)
		}
	}
	return merged, nil
}

var (
	dateSuffix   = regexp.MustCompile(`[-@]\d{8}$`)
	bedrockTail  = regexp.MustCompile(`-v\d+(:\d+)?$`)
	regionPrefix = regexp.MustCompile(`^(?:(?:us|eu|apac|global|jp|au)\.)?anthropic\.`)
)

// normalise reduces a model ID to the table's canonical form: lower case, without the
// "[1m]" context suffix, a Bedrock "anthropic."/"us.anthropic." prefix and "-v1:0"
// suffix, and an 8-digit date ("-20250929", or Vertex's "@20250929").
func normalise(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	m = strings.TrimSuffix(m, "[1m]")
	m = regionPrefix.ReplaceAllString(m, "")
	m = bedrockTail.ReplaceAllString(m, "")
	m = dateSuffix.ReplaceAllString(m, "")
	return m
}

// Lookup finds a model's price: by exact ID, then by the ID without its date, context or
// provider decorations, then by alias. ok is false when the model is unknown.
func (t *Table) Lookup(model string) (Price, bool) {
	if model == "" {
		return Price{}, false
	}
	if p, ok := t.Models[model]; ok {
		p.Model = model
		return p, true
	}
	n := normalise(model)
	if p, ok := t.Models[n]; ok {
		p.Model = n
		return p, true
	}
	if target, ok := t.Aliases[n]; ok {
		if p, ok := t.Models[target]; ok {
			p.Model = target
			return p, true
		}
	}
	return Price{}, false
}

// Cost prices one API response's usage. ok is false when the model is unknown; the
// caller then reports the cost as unknown and names the model, rather than showing 0.
func (t *Table) Cost(model string, u Usage) (usd float64, ok bool) {
	p, ok := t.Lookup(model)
	if !ok {
		return 0, false
	}
	r := p.Rates
	if lc := p.LongContext; lc != nil && u.Input+u.CacheWrite5m+u.CacheWrite1h+u.CacheRead > lc.AboveInputTokens {
		r = lc.Rates
	}
	perMillion := float64(u.Input)*r.Input +
		float64(u.Output)*r.Output +
		float64(u.CacheWrite5m)*r.CacheWrite5m +
		float64(u.CacheWrite1h)*r.CacheWrite1h +
		float64(u.CacheRead)*r.CacheRead
	usd = perMillion / 1e6
	if u.Speed == "fast" && p.FastMultiplier > 0 {
		usd *= p.FastMultiplier
	}
	usd += float64(u.WebSearchRequests) * t.WebSearchPerRequest
	return usd, true
}
