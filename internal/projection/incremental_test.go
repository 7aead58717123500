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
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// propertySessions are the sessions the incremental property is checked on: every
// recorded Claude Code fixture (e2e/testdata/claude-code-2.1.332) and a few generated
// sessions with subagents, commits, PRs and failures.
func propertySessions() map[string][]event.Event {
	out := map[string][]event.Event{}
	for _, f := range storetest.Fixtures() {
		out[f.Name] = f.Events
	}
	for i, evs := range storetest.Generate(11, 3, 150) {
		out[fmt.Sprintf("generated-%d", i)] = evs
	}
	return out
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

// TestIncrementalEqualsProject is the Projector's contract: for every session, folding its
// events shuffled, with duplicates and poorer or richer copies of the same IDs, in random
// batches (reading the result between some of them), gives exactly Project of all of
// them at once, usage rows included.
func TestIncrementalEqualsProject(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 10
	}
	for name, evs := range propertySessions() {
		t.Run(name, func(t *testing.T) {
			for seed := int64(1); seed <= int64(seeds); seed++ {
				rng := rand.New(rand.NewSource(seed))
				all := append(append([]event.Event(nil), evs...), copies(rng, evs)...)
				rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
				wantS, wantU := projection.ProjectWithUsage(all, storetest.TestPricer{})

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

var _ = agenttrace.StatusActive
