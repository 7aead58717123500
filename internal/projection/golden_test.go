package projection_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// goldenEntry is one session's projection as testdata/golden.json holds it.
type goldenEntry struct {
	Session any `json:"session"`
	Usage   any `json:"usage"`
}

// goldenSessions are the recorded fixtures and the hand-made session as they are, and
// each with a few events dropped and second observations added (siblings), which make
// the first-and-latest rules matter.
func goldenSessions() map[string][]event.Event {
	out := map[string][]event.Event{}
	for name, evs := range propertySessions() {
		if strings.HasPrefix(name, "generated") {
			continue
		}
		out[name] = evs
		for seed := int64(1); seed <= 3; seed++ {
			rng := rand.New(rand.NewSource(seed))
			out[fmt.Sprintf("%s/siblings-%d", name, seed)] = append(siblings(rng, evs), copies(rng, evs)...)
		}
	}
	return out
}

// TestProjectGolden pins the projection to testdata/golden.json, written by the
// single-pass projector this package replaced (agenttrace's projector.run, before the
// handler tables), so a rule that changes what sessions look like shows here even when it
// is still order-independent. A deliberate change of the rules regenerates the file and
// bumps ProjectionVersion.
func TestProjectGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatalf("read golden projections: %v", err)
	}
	var golden map[string]json.RawMessage
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatalf("decode golden projections: %v", err)
	}
	sessions := goldenSessions()
	if os.Getenv("UPDATE_GOLDEN") != "" {
		writeGolden(t, sessions)
		return
	}
	if len(golden) != len(sessions) {
		t.Errorf("%d golden projections, %d sessions", len(golden), len(sessions))
	}
	for name, evs := range sessions {
		s, u := projection.ProjectWithUsage(evs, storetest.TestPricer{})
		got, err := json.Marshal(goldenEntry{s, u})
		if err != nil {
			t.Fatal(err)
		}
		if want := golden[name]; !jsonEqual(t, want, got) {
			var w, g any
			_ = json.Unmarshal(want, &w)
			_ = json.Unmarshal(got, &g)
			t.Errorf("%s differs from the golden projection:\n%s", name, jsonDiff(w, g))
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// writeGolden regenerates testdata/golden.json (UPDATE_GOLDEN=1), for a deliberate change
// of the rules; review its diff.
func writeGolden(t *testing.T, sessions map[string][]event.Event) {
	t.Helper()
	out := map[string]goldenEntry{}
	for name, evs := range sessions {
		s, u := projection.ProjectWithUsage(evs, storetest.TestPricer{})
		out[name] = goldenEntry{s, u}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/golden.json", b, 0o644); err != nil {
		t.Fatalf("write golden projections: %v", err)
	}
}
