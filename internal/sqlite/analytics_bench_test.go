package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// BenchmarkAnalyticsAtScale answers the analytics reads over 90 days of a store of
// generated sessions (100 events each) and reports each one's p50 and p95, and the
// database's bytes per event. The default is 100,000 events; issue 14's scale is
// AGENT_TRACE_SCALE_EVENTS=1000000 (or 10000000):
//
//	AGENT_TRACE_SCALE_EVENTS=1000000 go test ./internal/sqlite -run '^$' -bench AnalyticsAtScale -benchtime 1x
func BenchmarkAnalyticsAtScale(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("AGENT_TRACE_SCALE_EVENTS")); err == nil && v > 0 {
		n = v
	}
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "scale.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const per = 100
	for done := 0; done < n/per; done += 1000 {
		ingestAll(b, s, flatten(storetest.Generate(int64(done+1), min(1000, n/per-done), per)))
	}
	if d, err := s.DiskStats(ctx); err == nil {
		b.ReportMetric(d.BytesPerEvent(), "bytes/event")
	}
	to := storetest.GenEnd
	from := to.AddDate(0, 0, -90)
	partial := from.Add(7 * time.Hour) // not on a day's edge: the first and last days are partial
	reads := []struct {
		name string
		read func() error
	}{
		{"summary", func() error { _, err := s.Summary(ctx, from, to); return err }},
		{"summary-partial", func() error { _, err := s.Summary(ctx, partial, to); return err }},
		{"cost-daily-model", func() error { _, err := s.DailyCost(ctx, from, to, agenttrace.GroupByModel); return err }},
		{"cost-daily-user", func() error { _, err := s.DailyCost(ctx, from, to, agenttrace.GroupByUser); return err }},
		{"cost-daily-partial", func() error { _, err := s.DailyCost(ctx, partial, to, agenttrace.GroupByRepo); return err }},
		{"breakdown-user", func() error {
			_, err := s.Breakdown(ctx, agenttrace.BreakdownFilter{From: from, To: to, By: agenttrace.BreakdownByUser})
			return err
		}},
	}
	for b.Loop() {
		for _, r := range reads {
			var ds []time.Duration
			for range 20 {
				start := time.Now()
				if err := r.read(); err != nil {
					b.Fatalf("%s: %v", r.name, err)
				}
				ds = append(ds, time.Since(start))
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, r.name+"-p50-ms")
			b.ReportMetric(float64(ds[len(ds)*95/100-1].Microseconds())/1000, r.name+"-p95-ms")
		}
	}
}
