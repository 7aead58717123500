package projection_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// propertySessions are the sessions the incremental property is checked on: every
// recorded Claude Code fixture (e2e/testdata/claude-code-2.1.332), the OTel recordings
// (testdata/otel) with and without their hooks, and a few generated sessions with
// subagents, commits, PRs and failures.
func propertySessions() map[string][]event.Event {
	out := map[string][]event.Event{}
	for _, f := range storetest.Fixtures() {
		out[f.Name] = f.Events
	}
	for i, evs := range storetest.Generate(11, 3, 150) {
		out[fmt.Sprintf("generated-%d", i)] = evs
	}
	for name, evs := range handMadeSessions() {
		out[name] = evs
	}
	// The OTel recordings, with hooks and alone: api_requests that share a request_id
	// with transcript usage, decisions, results, commits, API errors, metrics.
	for name, evs := range otelPropertySessions() {
		out[name] = evs
	}
	return out
}

// handMadeSessions are the edge cases project_test.go builds by hand: a resumed session,
// a sidechain replay, per-response pricing, an unpriced model, an unknown kind, usage
// attributed through a tool call, a denied call, a tier 1 prompt.
func handMadeSessions() map[string][]event.Event {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := func(msg, model string, at time.Duration, out int64) event.Event {
		return event.Event{ID: event.ID(event.KindUsage, "s", msg), Kind: event.KindUsage, SessionID: "s",
			Time: t0.Add(at), Tier: 1, Usage: &event.Usage{MessageID: msg, Model: model, InputTokens: 10, OutputTokens: out}}
	}
	replay := u("m1", "claude-opus-5-5", 4*time.Second, 50)
	replay.ID = event.ID(event.KindUsage, "s", "m1", "req_btw")
	replay.Usage.RequestID, replay.Usage.Sidechain = "req_btw", true
	fast := u("f", "claude-opus-5-5", 5*time.Second, 100)
	fast.Usage.Speed, fast.Usage.WebSearchRequests = "fast", 3
	tool := u("m1", "claude-opus-5-5", 2*time.Second, 5)
	tool.Usage.ToolUseIDs = []string{"t1"}
	sub := hook("s", "UserPromptSubmit", t0, map[string]any{"prompt_id": "p1", "prompt": "secret plan"})
	sub.Tier = event.TierMetadata
	return map[string][]event.Event{
		"hand-made": {
			hook("s", "SessionStart", t0, map[string]any{"source": "startup"}),
			hook("s", "SessionEnd", t0.Add(time.Minute), map[string]any{"reason": "other"}),
			hook("s", "SessionStart", t0.Add(2*time.Minute), map[string]any{"source": "resume"}),
			hook("s", "Stop", t0.Add(30*time.Second), map[string]any{"prompt_id": "p2", "last_assistant_message": "done"}),
			sub,
			hook("s", "UserPromptSubmit", t0.Add(time.Second), map[string]any{"prompt_id": "p2", "prompt": "again"}),
			hook("s", "PreToolUse", t0.Add(time.Millisecond), map[string]any{"prompt_id": "p1", "tool_use_id": "t1",
				"tool_name": "Bash", "tool_input": map[string]any{"command": "ls"}}),
			hook("s", "PostToolUse", t0.Add(40*time.Millisecond), map[string]any{"tool_use_id": "t1", "tool_name": "Bash",
				"tool_input": map[string]any{"command": "ls"}, "tool_response": map[string]any{"stdout": "a\nb"}}),
			hook("s", "PermissionDenied", t0.Add(50*time.Millisecond), map[string]any{"prompt_id": "p1",
				"tool_use_id": "d", "tool_name": "Bash", "reason": "auto mode"}),
			tool, replay, fast,
			u("late", "claude-opus-5-5", 3*time.Second, 7),
			u("odd-model", "mystery-model", 6*time.Second, 1),
			{ID: "evt_odd", Kind: "future_kind", SessionID: "s", Time: t0, Tier: 2},
		},
	}
}

// copies returns extra events for evs: same-ID duplicates of several kinds, the way a
// spool re-send, a transcript re-read or a lower-tier capture would produce them.
func copies(rng *rand.Rand, evs []event.Event) []event.Event {
	var out []event.Event
	for _, e := range evs {
		switch rng.Intn(8) {
		case 0: // the same copy again
			out = append(out, e)
		case 1: // recaptured later: same payload, another clock reading
			c := e
			c.Time = e.Time.Add(time.Duration(rng.Intn(5000)+1) * time.Millisecond)
			out = append(out, c)
		case 2: // recaptured earlier, even before everything else
			c := e
			c.Time = e.Time.Add(-time.Duration(rng.Intn(5000)+1) * time.Millisecond)
			out = append(out, c)
		case 3: // a usage line read while still growing: fewer tokens
			if e.Kind == event.KindUsage && e.Usage != nil {
				c := e
				u := *e.Usage
				u.OutputTokens /= 2
				u.InputTokens /= 2
				c.Usage = &u
				out = append(out, c)
			}
		case 4: // a poorer copy: lower tier, no payload
			c := e
			if c.Tier > event.TierMetadata {
				c.Tier = event.TierMetadata
				c.Payload = nil
				out = append(out, c)
			}
		}
	}
	return out
}

// siblings returns evs with about one in twelve events dropped and, for about one in
// six, a second observation under a new ID at another time that says something else: a
// second submit or Stop of a prompt, a second close of a tool call with other output, a
// second sighting of a commit or PR, another reading of the same API response, another
// cost state. Those make the "first" and "latest" rules matter, which the recorded
// sessions alone (one event per thing) rarely do.
func siblings(rng *rand.Rand, evs []event.Event) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if rng.Intn(12) != 0 {
			out = append(out, e)
		}
		if rng.Intn(6) != 0 {
			continue
		}
		c := e
		c.ID = e.ID + "-sibling"
		c.Time = e.Time.Add(time.Duration(rng.Intn(4001)-2000) * time.Millisecond)
		switch {
		case e.Payload != nil:
			c.Payload = retold(rng, e.Payload)
		case e.Usage != nil:
			u := *e.Usage
			u.OutputTokens += int64(rng.Intn(3) - 1)
			u.Sidechain = rng.Intn(3) == 0
			c.Usage = &u
		case e.Commit != nil:
			cm := *e.Commit
			cm.Message += " (seen again)"
			cm.Branch = "other-branch"
			c.Commit = &cm
		case e.PullRequest != nil:
			p := *e.PullRequest
			p.URL = []string{"", p.URL + "#again"}[rng.Intn(2)]
			c.PullRequest = &p
		case e.CostState != nil:
			cs := *e.CostState
			cs.TotalCostUSD += float64(rng.Intn(3)-1) / 100
			c.CostState = &cs
			if rng.Intn(2) == 0 {
				c.Time = e.Time
			}
		}
		out = append(out, c)
	}
	return out
}

// retold is a hook payload with its texts, input, output and duration changed.
func retold(rng *rand.Rand, raw json.RawMessage) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	for _, k := range []string{"prompt", "last_assistant_message", "cwd", "error", "reason"} {
		if s, ok := m[k].(string); ok {
			m[k] = s + " (again)"
		}
	}
	if in, ok := m["tool_input"].(map[string]any); ok {
		in["command"] = fmt.Sprint("echo ", rng.Intn(100))
	}
	if _, ok := m["tool_response"]; ok {
		m["tool_response"] = map[string]any{"stdout": fmt.Sprint("retold ", rng.Intn(100))}
	}
	if _, ok := m["duration_ms"]; ok {
		m["duration_ms"] = rng.Intn(100)
	}
	b, _ := json.Marshal(m)
	return b
}

// batches splits evs into random batches, some empty.
func batches(rng *rand.Rand, evs []event.Event) [][]event.Event {
	var out [][]event.Event
	for len(evs) > 0 {
		n := rng.Intn(len(evs)/2 + 2)
		if n > len(evs) {
			n = len(evs)
		}
		out = append(out, evs[:n])
		evs = evs[n:]
	}
	return out
}

// TestIncrementalEqualsProject is the Projector's contract: for every session and seed,
// its events (some dropped, some observed twice under new IDs: siblings) with duplicates
// and poorer or richer copies of the same IDs, folded shuffled in random batches (reading
// the result between some of them), give exactly Project of the same events in recorded
// order, session and usage rows compared with reflect.DeepEqual. 200 seeds a recorded
// session, 40 a generated one; about 6 s in all.
func TestIncrementalEqualsProject(t *testing.T) {
	for name, evs := range propertySessions() {
		seeds := 200 // a fixture folds in well under a millisecond
		if len(evs) > 100 {
			seeds = 40
		}
		if testing.Short() {
			seeds /= 10
		}
		t.Run(name, func(t *testing.T) {
			for seed := int64(1); seed <= int64(seeds); seed++ {
				rng := rand.New(rand.NewSource(seed))
				// The reference folds the recorded order with the copies after it; the
				// Projector gets the same events shuffled, so any rule that depends on
				// arrival shows.
				all := append(siblings(rng, evs), copies(rng, evs)...)
				wantS, wantU := projection.ProjectWithUsage(all, storetest.TestPricer{})
				rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })

				pr := projection.New(storetest.TestPricer{})
				for _, b := range batches(rng, all) {
					pr.Add(b...)
					if rng.Intn(3) == 0 {
						pr.Result() // reading must not disturb later folding
					}
				}
				gotS, gotU := pr.Result()
				if !reflect.DeepEqual(gotS, wantS) {
					t.Fatalf("seed %d: session differs from Project(all):\n%s", seed, jsonDiff(wantS, gotS))
				}
				if !reflect.DeepEqual(gotU, wantU) {
					t.Fatalf("seed %d: usage rows differ from Project(all):\n%s", seed, jsonDiff(wantU, gotU))
				}
			}
		})
	}
}

// TestIncrementalInOrderEqualsProject folds each session one event at a time in time
// order, the live case, checking every prefix against Project of that prefix.
func TestIncrementalInOrderEqualsProject(t *testing.T) {
	for name, evs := range propertySessions() {
		if strings.HasPrefix(name, "generated") {
			continue
		}
		pr := projection.New(storetest.TestPricer{})
		for i := range evs {
			pr.Add(evs[i])
			want := projection.Project(evs[:i+1], storetest.TestPricer{})
			if got := pr.Session(); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, after %d events:\n%s", name, i+1, jsonDiff(want, got))
			}
		}
	}
}

func TestProjectorEmpty(t *testing.T) {
	pr := projection.New(nil)
	if s, u := pr.Result(); s != nil || u != nil {
		t.Errorf("empty projector: %v %v, want nil", s, u)
	}
	pr.Add()
	if pr.Session() != nil || pr.Len() != 0 {
		t.Error("no events added, still a session")
	}
}

// jsonDiff shows the lines where the two values' indented JSON differ, with context.
func jsonDiff(want, got any) string {
	a, _ := json.MarshalIndent(want, "", "  ")
	b, _ := json.MarshalIndent(got, "", "  ")
	wl, gl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	var sb strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w == g {
			continue
		}
		fmt.Fprintf(&sb, "line %d:\n  want %s\n  got  %s\n", i+1, w, g)
		if shown++; shown == 10 {
			sb.WriteString("  …\n")
			break
		}
	}
	if sb.Len() == 0 {
		return "(equal as JSON: a difference JSON does not show, e.g. nil against empty)"
	}
	return sb.String()
}

// TestProjectorCopies covers the two ways a preferred later copy of an ID is absorbed:
// in place when only its usage grew, by a refold otherwise; and that a copy PreferEvent
// does not prefer changes nothing.
func TestProjectorCopies(t *testing.T) {
	f := fixture(t, "multi-prompt")
	var usageAt, hookAt int = -1, -1
	for i, e := range f.Events {
		if usageAt < 0 && e.Kind == event.KindUsage && e.Usage.OutputTokens > 1 {
			usageAt = i
		}
		if hookAt < 0 && e.Kind == event.KindHook && e.HookEvent == "UserPromptSubmit" {
			hookAt = i
		}
	}
	grown := f.Events[usageAt]
	partial := grown
	u := *grown.Usage
	u.OutputTokens = 1
	partial.Usage = &u
	recaptured := f.Events[hookAt]
	recaptured.Time = recaptured.Time.Add(-time.Second) // same payload, earlier clock: preferred

	tests := []struct {
		name      string
		first     []event.Event // folded, then read
		then      event.Event   // the copy added after
		wantStale bool
	}{
		{"a grown usage reading swaps in place", replaced(f.Events, usageAt, partial), grown, false},
		{"a partial usage reading loses", f.Events, partial, false},
		{"an earlier capture of a hook refolds", f.Events, recaptured, true},
		{"a later capture of a hook loses", replaced(f.Events, hookAt, recaptured), f.Events[hookAt], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := projection.New(storetest.TestPricer{})
			pr.Add(tc.first...)
			pr.Result()
			pr.Add(tc.then)
			if got := pr.Stale(); got != tc.wantStale {
				t.Errorf("stale %v, want %v", got, tc.wantStale)
			}
			all := append(append([]event.Event(nil), tc.first...), tc.then)
			wantS, wantU := projection.ProjectWithUsage(all, storetest.TestPricer{})
			gotS, gotU := pr.Result()
			if !reflect.DeepEqual(gotS, wantS) || !reflect.DeepEqual(gotU, wantU) {
				t.Fatalf("differs from Project(all):\n%s", jsonDiff(wantS, gotS))
			}
			if pr.Stale() {
				t.Error("still stale after Result refolded")
			}
		})
	}
}

func replaced(evs []event.Event, i int, e event.Event) []event.Event {
	out := append([]event.Event(nil), evs...)
	out[i] = e
	return out
}
