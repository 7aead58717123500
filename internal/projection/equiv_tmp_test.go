package projection_test

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

func TestTmpSameAsOld(t *testing.T) {
	var sets [][]event.Event
	for _, f := range storetest.Fixtures() {
		sets = append(sets, f.Events)
	}
	sets = append(sets, storetest.Generate(7, 1, 2000)...)
	sets = append(sets, storetest.Generate(3, 20, 300)...)
	rng := rand.New(rand.NewSource(5))
	for i, evs := range sets {
		for k := 0; k < 5; k++ {
			in := append(append([]event.Event(nil), evs...), copies(rng, evs)...)
			rng.Shuffle(len(in), func(a, b int) { in[a], in[b] = in[b], in[a] })
			ws, wu := agenttrace.ProjectWithUsage(in, storetest.TestPricer{})
			gs, gu := projection.ProjectWithUsage(in, storetest.TestPricer{})
			if !reflect.DeepEqual(ws, gs) || !reflect.DeepEqual(wu, gu) {
				a, _ := json.MarshalIndent(ws, "", " ")
				b, _ := json.MarshalIndent(gs, "", " ")
				t.Fatalf("set %d differs:\n%s\n----\n%s", i, a, b)
			}
		}
	}
}
