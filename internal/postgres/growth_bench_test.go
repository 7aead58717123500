package postgres_test

import (
	"context"
	"testing"

	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

func openBench(b *testing.B) storetest.Ingester {
	s, err := postgres.Open(context.Background(), freshDatabase(b), postgres.Options{Pricer: storetest.TestPricer{}, MaxConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkGrowingSession: one 20,000-event session in batches of 100 into PostgreSQL;
// the ingest rate of its first and last 1,000 events.
//
//	go test ./internal/postgres -run '^$' -bench GrowingSession -benchtime 1x
func BenchmarkGrowingSession(b *testing.B) {
	storetest.BenchGrowingSession(b, openBench, 20000, 100, 1000)
}

// BenchmarkLiveLoad: 4 clients posting batches of 5 into sessions of 200 events, against
// batches of 500 of the same events from one client.
//
//	go test ./internal/postgres -run '^$' -bench LiveLoad -benchtime 1x
func BenchmarkLiveLoad(b *testing.B) {
	b.Run("clients=4/batch=5", func(b *testing.B) { storetest.BenchLiveLoad(b, openBench, 4, 40, 200, 5) })
	b.Run("clients=1/batch=500", func(b *testing.B) { storetest.BenchLiveLoad(b, openBench, 1, 40, 200, 500) })
}
