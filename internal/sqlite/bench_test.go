package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

const batchSize = 500

// benchDir holds the benchmark database for the whole run; TestMain removes it.
var benchDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agent-trace-sqlite-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	benchDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func flatten(sessions [][]event.Event) []event.Event { return storetest.Flatten(sessions) }

func ingestAll(tb testing.TB, s *sqlite.Store, evs []event.Event) {
	tb.Helper()
	storetest.IngestInBatches(tb, s, evs, batchSize)
}

// BenchmarkIngest measures ingest throughput from one goroutine in batches of 500 into a
// fresh database, 50,000 generated events per round: sessions of 500 events (one or two
// sessions a batch) and of 100 (five sessions a batch, each re-projected).
func BenchmarkIngest(b *testing.B) {
	for _, per := range []int{500, 100} {
		b.Run(fmt.Sprintf("events-per-session=%d", per), func(b *testing.B) {
			evs := flatten(storetest.Generate(1, 50000/per, per))
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, err := sqlite.Open(filepath.Join(b.TempDir(), fmt.Sprintf("bench%d.db", i)), sqlite.WithPricer(storetest.TestPricer{}))
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Migrate(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				ingestAll(b, s, evs)
				total += time.Since(start)
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(evs)*b.N)/total.Seconds(), "events/s")
		})
	}
}

// benchDB builds (once per run, or once per AGENT_TRACE_BENCH_DB path) a database of
// generated sessions plus one session of 2,000 events, and returns it with that session's
// ID. The default is 1,000 sessions / 100,000 events; AGENT_TRACE_BENCH_LARGE=1 makes it
// the 10,000 sessions / 1,000,000 events (a few minutes to build).
func benchDB(b *testing.B) (*sqlite.Store, string) {
	b.Helper()
	sessions, per := 1000, 100
	if os.Getenv("AGENT_TRACE_BENCH_LARGE") == "1" {
		sessions = 10000
	}
	path := os.Getenv("AGENT_TRACE_BENCH_DB")
	if path == "" {
		path = filepath.Join(benchDir, fmt.Sprintf("bench-%d.db", sessions))
	}
	big := storetest.Generate(100, 1, 2000)[0] // seed 100: a tier-3 session, outputs included
	bigID := big[0].SessionID
	s, err := sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Session(context.Background(), bigID); err == nil {
		return s, bigID // built by an earlier benchmark or run
	}
	start := time.Now()
	var ingesting time.Duration
	// Generate in slices to keep memory flat; time only the ingest.
	for seed := int64(0); seed < int64(sessions/100); seed++ {
		evs := flatten(storetest.Generate(1000+seed, 100, per))
		t0 := time.Now()
		ingestAll(b, s, evs)
		ingesting += time.Since(t0)
	}
	ingestAll(b, s, big)
	n := sessions*per + len(big)
	b.Logf("built %s: %d sessions, %d events in %s (ingest %.0f events/s)", path, sessions+1, n,
		time.Since(start).Round(time.Second), float64(sessions*per)/ingesting.Seconds())
	return s, bigID
}

func p95(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)*95/100]
}

// BenchmarkListSessions measures GET /v1/sessions' store call: pages of 50, newest first,
// in turn unfiltered, by user, by cursor, by cost, by model, by prompt text (found, and
// found nowhere: a full scan), by status and repo. It reports the p95 over all of them.
func BenchmarkListSessions(b *testing.B) {
	s, _ := benchDB(b)
	ctx := context.Background()
	first, err := s.ListSessions(ctx, agenttrace.SessionFilter{Desc: true, Limit: 50})
	if err != nil {
		b.Fatal(err)
	}
	filters := []agenttrace.SessionFilter{
		{Desc: true, Limit: 50},
		{Desc: true, Limit: 50, User: storetest.GenUsers[2]},
		{Desc: true, Limit: 50, Cursor: first.NextCursor},
		{Desc: true, Limit: 50, Sort: "cost"},
		{Desc: true, Limit: 50, Model: "claude-haiku-5-5"},
		{Desc: true, Limit: 50, Query: "pagination"},
		{Desc: true, Limit: 50, Query: "no prompt says this"}, // scans every prompt
		{Desc: true, Limit: 50, Status: agenttrace.StatusActive, Repo: storetest.GenRepos[1]},
	}
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		f := filters[i%len(filters)]
		page, err := s.ListSessions(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
		if len(page.Sessions) == 0 && f.Query != "no prompt says this" {
			b.Fatalf("empty page for %+v", f)
		}
	}
	b.ReportMetric(float64(p95(ds).Microseconds())/1000, "p95-ms")
}

// BenchmarkSession measures GET /v1/sessions/{id}'s store call for a 2,000-event session.
func BenchmarkSession(b *testing.B) {
	s, id := benchDB(b)
	ctx := context.Background()
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		sess, err := s.Session(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
		if sess.EventCount != 2000 || sess.Tier != 3 {
			b.Fatalf("event count %d, tier %d; want 2000 at tier 3", sess.EventCount, sess.Tier)
		}
	}
	b.ReportMetric(float64(p95(ds).Microseconds())/1000, "p95-ms")
}

// BenchmarkIngestLive measures the live path: one 2,000-event session arriving in
// batches of 10, as a deliverer sends it while the session runs. Every batch re-projects
// the whole session so far.
func BenchmarkIngestLive(b *testing.B) {
	evs := storetest.Generate(7, 1, 2000)[0]
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := sqlite.Open(filepath.Join(b.TempDir(), fmt.Sprintf("live%d.db", i)), sqlite.WithPricer(storetest.TestPricer{}))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for j := 0; j < len(evs); j += 10 {
			if _, err := s.Ingest(context.Background(), evs[j:min(j+10, len(evs))]); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(start)
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N*len(evs)/10), "ms/batch")
}
