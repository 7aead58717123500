package transcript_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// fixture is one recorded Claude Code 2.1.332 session copied into testdata/.
type fixture struct {
	name    string
	main    string   // the session's main transcript
	results []result // result1.json, result2.json, ... in order
}

type result struct {
	TotalCostUSD float64 `json:"total_cost_usd"`
	Usage        struct {
		InputTokens              int64 `json:"input_tokens"`
		OutputTokens             int64 `json:"output_tokens"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	} `json:"usage"`
	ModelUsage map[string]struct {
		InputTokens              int64   `json:"inputTokens"`
		OutputTokens             int64   `json:"outputTokens"`
		CacheReadInputTokens     int64   `json:"cacheReadInputTokens"`
		CacheCreationInputTokens int64   `json:"cacheCreationInputTokens"`
		CostUSD                  float64 `json:"costUSD"`
	} `json:"modelUsage"`
}

func fixtures(t testing.TB) []fixture {
	t.Helper()
	dirs, err := filepath.Glob("testdata/*/transcripts")
	if err != nil || len(dirs) != 6 {
		t.Fatalf("want the six fixture sessions in testdata, found %d (%v)", len(dirs), err)
	}
	var fs []fixture
	for _, d := range dirs {
		root := filepath.Dir(d)
		mains, _ := filepath.Glob(filepath.Join(d, "*", "*.jsonl"))
		if len(mains) != 1 {
			t.Fatalf("%s: want one main transcript, got %v", root, mains)
		}
		f := fixture{name: filepath.Base(root), main: mains[0]}
		rs, _ := filepath.Glob(filepath.Join(root, "result*.json"))
		sort.Strings(rs)
		for _, p := range rs {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var r result
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			f.results = append(f.results, r)
		}
		fs = append(fs, f)
	}
	return fs
}

// tokens is a token total in the four kinds Claude Code reports.
type tokens struct{ Input, Output, CacheWrite, CacheRead int64 }

func (a *tokens) add(b tokens) {
	a.Input += b.Input
	a.Output += b.Output
	a.CacheWrite += b.CacheWrite
	a.CacheRead += b.CacheRead
}

func usageTokens(u *event.Usage) tokens {
	return tokens{u.InputTokens, u.OutputTokens, u.CacheCreationInputTokens, u.CacheReadInputTokens}
}

// readAll reads a file in one go, as a finished transcript.
func readAll(t testing.TB, path string, opts transcript.Options) []event.Event {
	t.Helper()
	opts.Final = true
	evs, _, err := transcript.Tail(path, transcript.State{}, opts)
	if err != nil {
		t.Fatalf("Tail(%s): %v", path, err)
	}
	return evs
}

// sessionEvents reads a session's main transcript and its subagents'.
func sessionEvents(t testing.TB, main string) (usage []event.Event, costStates []event.Event) {
	t.Helper()
	for _, f := range transcript.Files(main) {
		for _, e := range readAll(t, f, transcript.Options{Tier: event.TierFull}) {
			if err := e.Validate(); err != nil {
				t.Fatalf("%s: invalid event %+v: %v", f, e, err)
			}
			switch e.Kind {
			case event.KindUsage:
				usage = append(usage, e)
			case event.KindCostState:
				costStates = append(costStates, e)
			}
		}
	}
	return usage, costStates
}

// TestFixtureTokensMatchClaudeCode is the acceptance test: for every recorded session, the
// deduplicated usage of the main transcript plus its subagents equals, exactly, Claude
// Code's own cost-state totals and its result*.json totals.
func TestFixtureTokensMatchClaudeCode(t *testing.T) {
	for _, fx := range fixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			usage, costStates := sessionEvents(t, fx.main)
			if len(usage) == 0 || len(costStates) == 0 {
				t.Fatalf("got %d usage and %d cost-state events", len(usage), len(costStates))
			}
			var ours tokens
			perModel := map[string]tokens{}
			seen := map[string]bool{}
			for _, e := range usage {
				if seen[e.ID] {
					t.Errorf("usage event %s emitted twice", e.ID)
				}
				seen[e.ID] = true
				ours.add(usageTokens(e.Usage))
				m := perModel[e.Usage.Model]
				m.add(usageTokens(e.Usage))
				perModel[e.Usage.Model] = m
			}

			// A resumed session writes a cost-state per process; the last is cumulative.
			cs := costStates[len(costStates)-1].CostState
			var theirs tokens
			for model, mu := range cs.ModelUsage {
				mt := tokens{mu.InputTokens, mu.OutputTokens, mu.CacheCreationInputTokens, mu.CacheReadInputTokens}
				theirs.add(mt)
				if perModel[model] != mt {
					t.Errorf("model %s: ours %+v, cost-state %+v", model, perModel[model], mt)
				}
			}
			if ours != theirs {
				t.Errorf("tokens: ours %+v, cost-state %+v", ours, theirs)
			}

			// result*.json: the last result's modelUsage is the session's running total.
			last := fx.results[len(fx.results)-1]
			var resultTotal tokens
			for _, mu := range last.ModelUsage {
				resultTotal.add(tokens{mu.InputTokens, mu.OutputTokens, mu.CacheCreationInputTokens, mu.CacheReadInputTokens})
			}
			if ours != resultTotal {
				t.Errorf("tokens: ours %+v, last result modelUsage %+v", ours, resultTotal)
			}
			if last.TotalCostUSD != cs.TotalCostUSD {
				t.Errorf("result total_cost_usd %v != cost-state totalCostUSD %v", last.TotalCostUSD, cs.TotalCostUSD)
			}

			// Each result's `usage` covers one prompt's main-thread requests, so they sum to
			// the session total, except that a background subagent's requests appear in no
			// result's `usage` (see TestSubagentUsageIsInParentCostState).
			var sumResults tokens
			for _, r := range fx.results {
				sumResults.add(tokens{r.Usage.InputTokens, r.Usage.OutputTokens, r.Usage.CacheCreationInputTokens, r.Usage.CacheReadInputTokens})
			}
			if fx.name != "subagent" && sumResults != ours {
				t.Errorf("tokens: ours %+v, sum of result usage %+v", ours, sumResults)
			}
		})
	}
}

// TestSubagentUsageIsInParentCostState records what the data shows: Claude Code's
// cost-state in the parent transcript (and the result's modelUsage) includes the
// subagent's requests, which live only in the subagent's own transcript; the result's
// `usage` field covers only the final main-thread turn.
func TestSubagentUsageIsInParentCostState(t *testing.T) {
	var fx fixture
	for _, f := range fixtures(t) {
		if f.name == "subagent" {
			fx = f
		}
	}
	files := transcript.Files(fx.main)
	if len(files) != 2 || !strings.Contains(files[1], "/subagents/agent-") {
		t.Fatalf("Files(%s) = %v, want the main file and one subagent file", fx.main, files)
	}
	var mainOnly, sub tokens
	for _, e := range readAll(t, files[0], transcript.Options{}) {
		if e.Kind == event.KindUsage {
			mainOnly.add(usageTokens(e.Usage))
		}
	}
	subEvents := readAll(t, files[1], transcript.Options{})
	for _, e := range subEvents {
		if e.Kind != event.KindUsage {
			continue
		}
		sub.add(usageTokens(e.Usage))
		if e.AgentID != "a6fd588be11e1c086" || !e.Usage.Sidechain {
			t.Errorf("subagent usage: agent %q sidechain %v, want a6fd588be11e1c086 and true", e.AgentID, e.Usage.Sidechain)
		}
		if e.SessionID != "d04f3c58-1e16-4770-9cf3-d9f8ce8512ba" {
			t.Errorf("subagent usage session = %q, want the parent's", e.SessionID)
		}
		if e.PromptID != "22048ab0-14ca-4f9f-81bd-6c88a1435161" {
			t.Errorf("subagent usage prompt = %q, want the launching prompt", e.PromptID)
		}
	}
	var cs *event.CostState
	for _, e := range readAll(t, files[0], transcript.Options{}) {
		if e.Kind == event.KindCostState {
			cs = e.CostState
		}
	}
	mu := cs.ModelUsage["claude-opus-5-5"]
	got := tokens{mu.InputTokens, mu.OutputTokens, mu.CacheCreationInputTokens, mu.CacheReadInputTokens}
	both := mainOnly
	both.add(sub)
	if got == mainOnly {
		t.Errorf("cost-state equals the main transcript alone (%+v); expected it to include the subagent", got)
	}
	if got != both {
		t.Errorf("cost-state %+v, want main %+v + subagent %+v", got, mainOnly, sub)
	}
	r := fx.results[0].Usage
	lastTurn := tokens{r.InputTokens, r.OutputTokens, r.CacheCreationInputTokens, r.CacheReadInputTokens}
	if want := (tokens{1820, 300, 0, 10000}); lastTurn != want {
		t.Errorf("result usage = %+v, want the final turn's single response %+v", lastTurn, want)
	}
}

// TestFixturePromptIDs checks that every main-thread response hangs under the prompt
// during which it happened (the nearest preceding user line's promptId).
func TestFixturePromptIDs(t *testing.T) {
	for _, fx := range fixtures(t) {
		for _, e := range readAll(t, fx.main, transcript.Options{}) {
			if e.Kind == event.KindUsage && e.PromptID == "" {
				t.Errorf("%s: usage %s has no prompt ID", fx.name, e.Usage.MessageID)
			}
		}
	}
	// multi-prompt: two prompts, the second after a resume.
	var mp fixture
	for _, f := range fixtures(t) {
		if f.name == "multi-prompt" {
			mp = f
		}
	}
	count := map[string]int{}
	for _, e := range readAll(t, mp.main, transcript.Options{}) {
		if e.Kind == event.KindUsage {
			count[e.PromptID]++
		}
	}
	want := map[string]int{"08ccbfda-697c-4163-867d-414e40454012": 2, "56276aa2-e77e-4d0a-998d-cf43f302946e": 4}
	if len(count) != len(want) {
		t.Fatalf("responses per prompt = %v, want %v", count, want)
	}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("responses per prompt = %v, want %v", count, want)
		}
	}
}
