package postgres_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

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

// BenchmarkAnalytics: PostgreSQL alone answering the summary and the daily cost over
// 90 days, from the usage_daily rollup, against the same sums read from every usage
// fact (what it did before the rollup) in the same run. 1,000 generated sessions of 200
// events (200,000 events); AGENT_TRACE_BENCH_SESSIONS sets another count.
//
//	go test ./internal/postgres -run '^$' -bench Analytics -benchtime 20x
func BenchmarkAnalytics(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("AGENT_TRACE_BENCH_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	s := openBench(b).(*postgres.Store)
	for _, evs := range storetest.Generate(3, n, 200) {
		storetest.MustIngest(b, s, evs)
	}
	ctx := context.Background()
	from, to := storetest.GenEnd.AddDate(0, 0, -90).Add(90*time.Minute), storetest.GenEnd.Add(-3*time.Hour)
	b.Run("summary", func(b *testing.B) {
		for range b.N {
			if _, err := s.Summary(ctx, from, to); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("summary-from-facts", func(b *testing.B) {
		for range b.N {
			var cost float64
			var models []string
			if err := s.Pool().QueryRow(ctx, `SELECT COALESCE(SUM(cost_usd), 0),
				COALESCE(array_agg(DISTINCT model ORDER BY model) FILTER (WHERE cost_usd IS NULL), '{}')
				FROM usage_facts WHERE session_started_ms >= $1 AND session_started_ms < $2`,
				from.UnixMilli(), to.UnixMilli()).Scan(&cost, &models); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("daily-cost", func(b *testing.B) {
		for range b.N {
			if _, err := s.DailyCost(ctx, from, to, "model"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("daily-cost-from-facts", func(b *testing.B) {
		for range b.N {
			rows, err := s.Pool().Query(ctx, `SELECT time_ms / 86400000 AS day, model, COALESCE(SUM(cost_usd), 0),
				SUM(input_tokens)::bigint, SUM(output_tokens)::bigint, SUM(cache_creation_tokens)::bigint,
				SUM(cache_creation_5m_tokens)::bigint, SUM(cache_creation_1h_tokens)::bigint, SUM(cache_read_tokens)::bigint,
				SUM(web_search_requests)::bigint FROM usage_facts WHERE time_ms >= $1 AND time_ms < $2
				GROUP BY day, model ORDER BY day, model`, from.UnixMilli(), to.UnixMilli())
			if err != nil {
				b.Fatal(err)
			}
			rows.Close()
		}
	})
}
