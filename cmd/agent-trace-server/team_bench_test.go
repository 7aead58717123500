package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

const batchSize = 500

// large reports whether the full-size loads were asked for (AGENT_TRACE_BENCH_LARGE=1):
// 10,000,000 usage rows for the daily-cost query, 10,000 sessions for list and detail.
func large() bool { return os.Getenv("AGENT_TRACE_BENCH_LARGE") == "1" }

func flatten(sessions [][]event.Event) []event.Event {
	var out []event.Event
	for _, s := range sessions {
		out = append(out, s...)
	}
	return out
}

func ingestAll(tb testing.TB, s agenttrace.Store, evs []event.Event) {
	tb.Helper()
	for len(evs) > 0 {
		n := min(batchSize, len(evs))
		if _, err := s.Ingest(context.Background(), evs[:n]); err != nil {
			tb.Fatal(err)
		}
		evs = evs[n:]
	}
}

// BenchmarkIngest measures ingest throughput into PostgreSQL + ClickHouse in batches of
// 500, as the SQLite benchmark does: 100 generated sessions of 500 events each (50,000
// events) per round into fresh databases, the outbox shipped to ClickHouse before the
// clock stops. parallel-N runs N ingesters (N server processes' worth of collectors) on
// disjoint sessions. Besides events/s it reports the CPU each event cost this process
// (the server's work), PostgreSQL's and ClickHouse's processes (every one on the machine,
// from /proc: run it on an otherwise idle machine) and their sum.
func BenchmarkIngest(b *testing.B) {
	sessions := storetest.Generate(1, 100, 500)
	for _, workers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("parallel-%d", workers), func(b *testing.B) {
			var total, ingest time.Duration
			var used cpuUse
			n := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := openTestTeam(b, clickhouse.Options{})
				b.StartTimer()
				before := measureCPU()
				start := time.Now()
				n += ingestParallel(b, s, sessions, workers)
				ingest += time.Since(start)
				if err := s.ShipAll(context.Background()); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				used = used.add(measureCPU().sub(before))
			}
			b.ReportMetric(float64(n)/total.Seconds(), "events/s")
			// Acknowledged (committed in PostgreSQL with the outbox) vs shipped to ClickHouse.
			b.ReportMetric(float64(n)/ingest.Seconds(), "acked-events/s")
			b.ReportMetric((total-ingest).Seconds()/float64(b.N), "ship-s/op")
			perEvent := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
			b.ReportMetric(perEvent(used.self), "server-µs/event")
			b.ReportMetric(perEvent(used.postgres), "postgres-µs/event")
			b.ReportMetric(perEvent(used.clickhouse), "clickhouse-µs/event")
			b.ReportMetric(perEvent(used.self+used.postgres+used.clickhouse), "total-µs/event")
		})
	}
}

// ingestParallel ingests the sessions from workers goroutines, each its own sessions.
func ingestParallel(b *testing.B, s agenttrace.Store, sessions [][]event.Event, workers int) int {
	var wg sync.WaitGroup
	n := 0
	for w := 0; w < workers; w++ {
		var evs []event.Event
		for k := w; k < len(sessions); k += workers {
			evs = append(evs, sessions[k]...)
		}
		n += len(evs)
		wg.Go(func() { ingestAll(b, s, evs) })
	}
	wg.Wait()
	return n
}

// cpuUse is CPU time spent by this process and by the database servers' processes.
type cpuUse struct{ self, postgres, clickhouse time.Duration }

func (c cpuUse) sub(o cpuUse) cpuUse {
	return cpuUse{c.self - o.self, c.postgres - o.postgres, c.clickhouse - o.clickhouse}
}

func (c cpuUse) add(o cpuUse) cpuUse {
	return cpuUse{c.self + o.self, c.postgres + o.postgres, c.clickhouse + o.clickhouse}
}

// measureCPU reads the CPU time so far of this process and of every postgres and
// clickhouse-server process (Linux /proc; zero elsewhere). A PostgreSQL backend that
// exits takes its time with it: the store's pool keeps its connections for the run.
func measureCPU() cpuUse {
	var c cpuUse
	c.self, _ = procCPU("self")
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		comm, err := os.ReadFile("/proc/" + d.Name() + "/comm")
		if err != nil {
			continue
		}
		t, _ := procCPU(d.Name())
		switch name := strings.TrimSpace(string(comm)); {
		case name == "postgres":
			c.postgres += t
		case strings.HasPrefix(name, "clickhouse"):
			c.clickhouse += t
		}
	}
	return c
}

// procCPU is a process's user and system CPU time so far, from /proc/PID/stat.
func procCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after the last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// BenchmarkDailyCost measures the daily-cost query in ClickHouse over 1,000,000 usage rows
// (answered from their rollup)
// (10,000,000 with AGENT_TRACE_BENCH_LARGE=1), spread over 90 days, 1,000 sessions, the
// generator's users, repos and models, 1% of them re-projected (a second version). The
// rows are made by ClickHouse itself (INSERT … SELECT FROM numbers()), so loading takes
// seconds; the query runs on them unmerged, as right after ingest.
func BenchmarkDailyCost(b *testing.B) {
	rows := 1_000_000
	if large() {
		rows = 10_000_000
	}
	_, ch := teamURLs(b)
	an, err := clickhouse.Open(context.Background(), ch, clickhouse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer an.Close()
	if err := an.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	end := storetest.GenEnd.UnixMilli()
	span := int64(90 * 24 * time.Hour / time.Millisecond)
	// Column expressions of row number: time, session, model, user, repo, tokens, cost.
	cols := map[string]string{
		"time":    fmt.Sprintf("%d - intDiv(number * %d, %d)", end, span, rows),
		"session": "concat('s-', toString(number % 1000))",
		"model":   "['claude-opus-5-5','claude-sonnet-5-5','claude-haiku-5-5'][number % 3 + 1]",
		"user":    "['alice','bob','carol','dave','erin','frank','grace','heidi'][number % 8 + 1]",
		"repo":    "['github.com/acme/api','github.com/acme/web','github.com/acme/infra'][number % 3 + 1]",
		"tokens":  "toInt64(number % 5000), toInt64(number % 700), toInt64(number % 300), toInt64(number % 300), toInt64(0), toInt64(number % 90000), toInt64(0)",
		"cost":    "(number % 1000) / 100000.0",
	}
	exec := func(q string) {
		if err := an.Conn().Exec(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Every response once (version 1), as the shipper writes them before any merge.
	exec(fmt.Sprintf("INSERT INTO `%s`.usage_facts SELECT concat('ev-', toString(number)), %s, %s, %d, %s, %s, %s, %s, %s, 1, 0, 1 FROM numbers(%d)",
		an.Database(), cols["session"], cols["time"], end-span, cols["model"], cols["user"], cols["repo"], cols["tokens"], cols["cost"], rows))
	// 1% re-projected (a second version).
	exec(fmt.Sprintf("INSERT INTO `%s`.usage_facts SELECT concat('ev-', toString(number)), %s, %s, %d, %s, %s, %s, %s, %s, 1, 0, 2 FROM numbers(%d) WHERE number %% 100 = 0",
		an.Database(), cols["session"], cols["time"], end-span, cols["model"], cols["user"], cols["repo"], cols["tokens"], cols["cost"], rows))
	// The rollup as the shipper writes it (absolute totals per session, day and group),
	// and again at a newer version for a tenth of the sessions, as re-shipped.
	rollup := fmt.Sprintf(`INSERT INTO %[1]s.usage_session_days SELECT session_id, intDiv(time_ms, 86400000) AS day, model,
		user, repo, session_started_ms, priced, count(), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
		sum(cache_creation_5m_tokens), sum(cache_creation_1h_tokens), sum(cache_read_tokens), sum(web_search_requests),
		sum(cost_usd), %%d FROM (SELECT event_id, argMax(session_id, version) AS session_id, argMax(time_ms, version) AS time_ms,
		argMax(model, version) AS model, argMax(user, version) AS user, argMax(repo, version) AS repo,
		argMax(session_started_ms, version) AS session_started_ms, argMax(priced, version) AS priced,
		argMax(input_tokens, version) AS input_tokens, argMax(output_tokens, version) AS output_tokens,
		argMax(cache_creation_tokens, version) AS cache_creation_tokens,
		argMax(cache_creation_5m_tokens, version) AS cache_creation_5m_tokens,
		argMax(cache_creation_1h_tokens, version) AS cache_creation_1h_tokens,
		argMax(cache_read_tokens, version) AS cache_read_tokens, argMax(web_search_requests, version) AS web_search_requests,
		argMax(cost_usd, version) AS cost_usd FROM %[1]s.usage_facts GROUP BY event_id) %%s
		GROUP BY session_id, day, model, user, repo, session_started_ms, priced`, "`"+an.Database()+"`")
	exec(fmt.Sprintf(rollup, 1, ""))
	exec(fmt.Sprintf(rollup, 2, "WHERE session_id LIKE '%0'"))
	from, to := storetest.GenEnd.Add(-90*24*time.Hour), storetest.GenEnd.Add(24*time.Hour)
	got, err := an.DailyCost(context.Background(), from, to, agenttrace.GroupByModel)
	if err != nil {
		b.Fatal(err)
	}
	var gotOut, wantOut int64
	for _, d := range got {
		gotOut += d.Usage.OutputTokens
	}
	for n := 0; n < rows; n++ {
		wantOut += int64(n % 700)
	}
	if gotOut != wantOut {
		b.Fatalf("daily cost counts %d output tokens, want %d (each response once)", gotOut, wantOut)
	}
	run := func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := an.DailyCost(context.Background(), from, to, agenttrace.GroupByModel); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.ReportMetric(float64(rows), "rows")
		reportP95(b, lat)
	}
	b.Run("unmerged", run)
	// Background merges keep the latest version of each row; this is the steady state a
	// few minutes after ingest.
	exec(fmt.Sprintf("OPTIMIZE TABLE `%s`.usage_session_days FINAL", an.Database()))
	b.Run("merged", run)
}

func reportP95(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}

// BenchmarkReads measures session list (first page, newest first, and a filtered page)
// and session detail p95 on 1,000 generated sessions of 40 events (10,000 with
// AGENT_TRACE_BENCH_LARGE=1).
func BenchmarkReads(b *testing.B) {
	n := 1000
	if large() {
		n = 10_000
	}
	s := openTestTeam(b, clickhouse.Options{})
	sessions := storetest.Generate(2, n, 40)
	ingestAll(b, s, flatten(sessions))
	ctx := context.Background()
	b.Run("list", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if _, err := s.ListSessions(ctx, agenttrace.SessionFilter{Desc: true, Limit: 50}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportP95(b, lat)
	})
	b.Run("list-filtered-by-cost", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			start := time.Now()
			f := agenttrace.SessionFilter{Desc: true, Limit: 50, Sort: "cost", User: storetest.GenUsers[i%len(storetest.GenUsers)],
				Model: storetest.GenModels[i%len(storetest.GenModels)]}
			if _, err := s.ListSessions(ctx, f); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportP95(b, lat)
	})
	b.Run("detail", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			id := sessions[i%len(sessions)][0].SessionID
			start := time.Now()
			if _, err := s.Session(ctx, id); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportP95(b, lat)
	})
}
