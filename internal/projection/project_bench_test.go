package projection_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// BenchmarkProject2000 projects one generated 2,000-event session, what every ingest
// touching such a session pays.
func BenchmarkProject2000(b *testing.B) {
	evs := storetest.Generate(7, 1, 2000)[0]
	for b.Loop() {
		if s := projection.Project(evs, storetest.TestPricer{}); s.EventCount != 2000 {
			b.Fatal(s.EventCount)
		}
	}
}

// BenchmarkProjectorAddOne adds one event to a folded 2,000-event session and reads the
// result, what an ingest of one event costs a store that keeps the Projector.
func BenchmarkProjectorAddOne(b *testing.B) {
	evs := storetest.Generate(7, 1, 2000)[0]
	pr := projection.New(storetest.TestPricer{})
	pr.Add(evs...)
	last := evs[len(evs)-1]
	n := 0
	for b.Loop() {
		n++
		e := last
		e.ID = fmt.Sprintf("%s-%d", last.ID, n)
		e.Time = last.Time.Add(time.Duration(n) * time.Millisecond)
		pr.Add(e)
		if s := pr.Session(); s.EventCount != 2000+n {
			b.Fatal(s.EventCount)
		}
	}
}
