package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Ingester is the one method the ingest benchmarks need from a store.
type Ingester interface {
	Ingest(ctx context.Context, events []event.Event) (agenttrace.IngestResult, error)
}

// BenchGrowingSession ingests one generated session of n events in batches of batch, in
// time order, the way a long Claude Code session reaches the collector, and reports the
// ingest rate over its first and its last window events and their ratio. When ingest
// cost grows with the session, last/first falls well below 1. The machine's noise lands
// on single batches (another process's burst, a checkpoint), so the ratio of the median
// batch times of the two windows is reported too.
func BenchGrowingSession(b *testing.B, open func(b *testing.B) Ingester, n, batch, window int) {
	evs := Generate(7, 1, n)[0]
	var first, last []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := open(b)
		b.StartTimer()
		for off := 0; off < len(evs); off += batch {
			end := min(off+batch, len(evs))
			start := time.Now()
			if _, err := s.Ingest(context.Background(), evs[off:end]); err != nil {
				b.Fatalf("ingest events %d-%d: %v", off, end, err)
			}
			d := time.Since(start)
			if off < window {
				first = append(first, d)
			}
			if off >= len(evs)-window {
				last = append(last, d)
			}
		}
	}
	firstRate := float64(window*b.N) / sum(first).Seconds()
	lastRate := float64(window*b.N) / sum(last).Seconds()
	b.ReportMetric(firstRate, "first-ev/s")
	b.ReportMetric(lastRate, "last-ev/s")
	b.ReportMetric(lastRate/firstRate, "last/first")
	b.ReportMetric(median(first).Seconds()/median(last).Seconds(), "last/first-median")
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchLiveLoad is the deliverer's real traffic: clients post small batches (batch
// events) into their own growing sessions of perSession events, all at once. It reports
// events/s over the whole load.
func BenchLiveLoad(b *testing.B, open func(b *testing.B) Ingester, clients, sessions, perSession, batch int) {
	all := Generate(11, sessions, perSession)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := open(b)
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for j := c; j < len(all); j += clients {
					for off := 0; off < len(all[j]); off += batch {
						end := min(off+batch, len(all[j]))
						if _, err := s.Ingest(context.Background(), all[j][off:end]); err != nil {
							errs <- fmt.Errorf("client %d: %w", c, err)
							return
						}
					}
				}
			}(c)
		}
		wg.Wait()
		total += time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(sessions*perSession*b.N)/total.Seconds(), "events/s")
}
