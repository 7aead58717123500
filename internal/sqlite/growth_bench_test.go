package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

func openBench(b *testing.B) storetest.Ingester {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkGrowingSession: one 20,000-event session in batches of 100; the ingest rate of
// its first and last 1,000 events (last/first near 1 when cost does not grow with the
// session).
//
//	go test ./internal/sqlite -run '^$' -bench GrowingSession -benchtime 1x
func BenchmarkGrowingSession(b *testing.B) {
	storetest.BenchGrowingSession(b, openBench, 20000, 100, 1000)
}

// BenchmarkLiveLoad: 4 clients posting batches of 5 into sessions of 200 events, against
// batches of 500 of the same events from one client on the same store.
//
//	go test ./internal/sqlite -run '^$' -bench LiveLoad -benchtime 1x
func BenchmarkLiveLoad(b *testing.B) {
	b.Run("clients=4/batch=5", func(b *testing.B) { storetest.BenchLiveLoad(b, openBench, 4, 40, 200, 5) })
	b.Run("clients=1/batch=500", func(b *testing.B) { storetest.BenchLiveLoad(b, openBench, 1, 40, 200, 500) })
}
