package projection_test

import (
	"testing"

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
