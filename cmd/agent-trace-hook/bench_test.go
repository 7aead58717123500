//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/lease"
)

// Run with: go test -run '^$' -bench . -benchtime 200x ./cmd/agent-trace-hook
//
// Each iteration starts the built hook as Claude Code does, on the fixture's Bash
// PostToolUse payload, and waits for it to exit; the numbers are wall time per hook
// (p50, p99) and the child's peak RSS (getrusage ru_maxrss).

type runStats struct {
	walls  []time.Duration
	maxRSS int64 // bytes
}

func (s *runStats) add(wall time.Duration, st *os.ProcessState) {
	s.walls = append(s.walls, wall)
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		s.maxRSS = max(s.maxRSS, ru.Maxrss*1024) // Linux reports KiB
	}
}

func (s *runStats) report(b *testing.B, name string) {
	if len(s.walls) == 0 {
		return
	}
	slices.Sort(s.walls)
	pct := func(p float64) time.Duration { return s.walls[min(len(s.walls)-1, int(p*float64(len(s.walls))))] }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(pct(0.50)), "p50-ms")
	b.ReportMetric(ms(pct(0.99)), "p99-ms")
	b.ReportMetric(float64(s.maxRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(0, "ns/op") // wall time per op is the p50/p99 above
	fmt.Printf("%s: %d runs, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, peak RSS %.1f MiB\n",
		name, len(s.walls), ms(pct(0.50)), ms(pct(0.90)), ms(pct(0.99)), ms(s.walls[len(s.walls)-1]), float64(s.maxRSS)/(1<<20))
}

func benchEnv(b *testing.B, collectorURL string) []string {
	dir := b.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !bytes.HasPrefix([]byte(kv), []byte("AGENT_TRACE_")) {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+dir, "AGENT_TRACE_HOME="+filepath.Join(dir, "agent-trace"),
		"CLAUDE_CONFIG_DIR="+filepath.Join(dir, "claude"), "AGENT_TRACE_COLLECTOR_URL="+collectorURL)
}

func runOnce(b *testing.B, env []string, payload []byte, name string, args ...string) (time.Duration, *os.ProcessState) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(payload)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return time.Since(start), cmd.ProcessState
}

func acceptAll() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
}

// BenchmarkHookCapture is the capture path alone: delivery is backing off (as while the
// collector is down), so no deliverer runs beside the hooks.
func BenchmarkHookCapture(b *testing.B) {
	payload, err := os.ReadFile("testdata/commit-hooks/010.json")
	if err != nil {
		b.Fatal(err)
	}
	env := benchEnv(b, deadURL)
	holdDeliveryIn(b, env)
	var s runStats
	b.ResetTimer()
	for range b.N {
		s.add(runOnce(b, env, payload, hookBin))
	}
	b.StopTimer()
	s.report(b, "agent-trace-hook capture")
}

// BenchmarkHookCaptureWithDelivery is the everyday case: a collector answers and the
// background deliverer drains the spool while hooks keep coming.
func BenchmarkHookCaptureWithDelivery(b *testing.B) {
	payload, err := os.ReadFile("testdata/commit-hooks/010.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := acceptAll()
	defer srv.Close()
	env := benchEnv(b, srv.URL)
	var s runStats
	b.ResetTimer()
	for range b.N {
		s.add(runOnce(b, env, payload, hookBin))
	}
	b.StopTimer()
	s.report(b, "agent-trace-hook capture, deliverer running")
	waitNoDeliverer(b, env)
}

// BenchmarkNodePost is what a hook written in Node costs: a minimal script that reads
// stdin and POSTs it to the collector.
func BenchmarkNodePost(b *testing.B) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node not installed")
	}
	payload, err := os.ReadFile("testdata/commit-hooks/010.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := acceptAll()
	defer srv.Close()
	script := filepath.Join(b.TempDir(), "hook.js")
	os.WriteFile(script, []byte(`const http = require('http');
let body = '';
process.stdin.on('data', d => body += d);
process.stdin.on('end', () => {
  const req = http.request(process.env.COLLECTOR + '/v1/hooks', {method: 'POST', headers: {'content-type': 'application/json'}}, res => { res.resume(); res.on('end', () => process.exit(0)); });
  req.on('error', () => process.exit(0));
  req.end(JSON.stringify({events: [{payload: JSON.parse(body)}]}));
});
`), 0o600)
	env := append(os.Environ(), "COLLECTOR="+srv.URL)
	var s runStats
	b.ResetTimer()
	for range b.N {
		s.add(runOnce(b, env, payload, node, script))
	}
	b.StopTimer()
	s.report(b, "node: read stdin and POST")
}

func homeOf(env []string) string {
	var home string
	for _, kv := range env {
		if v, ok := bytes.CutPrefix([]byte(kv), []byte("AGENT_TRACE_HOME=")); ok {
			home = string(v)
		}
	}
	return home
}

// holdDeliveryIn records a retry time an hour away, as a collector outage does, so the
// captures start no deliverer.
func holdDeliveryIn(b *testing.B, env []string) {
	s, err := spool.Open(spool.Path(homeOf(env)), spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.UpdateMeta(func(m *spool.Meta) { m.RetryAt = time.Now().Add(time.Hour) }); err != nil {
		b.Fatal(err)
	}
}

// waitNoDeliverer waits until no deliverer has held the lock for half a second, so a
// just-started one that has not taken the lock yet is not missed.
func waitNoDeliverer(b *testing.B, env []string) {
	home := homeOf(env)
	var idle time.Time
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if deliverRunning(home) {
			idle = time.Time{}
			continue
		}
		if idle.IsZero() {
			idle = time.Now()
		}
		if time.Since(idle) > 500*time.Millisecond {
			return
		}
	}
}

func deliverRunning(home string) bool { return lease.Running(home) }

// BenchmarkImport100MB backfills a ~100 MB transcript through the built binary into a
// fresh spool: reading, deduplicating, rebuilding hook events with the tier and
// redaction, and the spool's transactions.
//
//	go test -run '^$' -bench Import100MB -benchtime 1x ./cmd/agent-trace-hook
func BenchmarkImport100MB(b *testing.B) {
	src, err := os.ReadFile("testdata/subagent-transcripts/-home-dev-src-demo/d04f3c58-1e16-4770-9cf3-d9f8ce8512ba.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	root := filepath.Join(b.TempDir(), "projects")
	dir := filepath.Join(root, "-home-dev-src-demo")
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, "d04f3c58-1e16-4770-9cf3-d9f8ce8512ba.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for k := 0; size < 100<<20; k++ {
		// Unique IDs per copy, so nothing collapses in deduplication.
		p := fmt.Appendf(nil, "_%d_", k)
		chunk := bytes.ReplaceAll(src, []byte(`"msg_`), append([]byte(`"msg`), p...))
		chunk = bytes.ReplaceAll(chunk, []byte(`"req_`), append([]byte(`"req`), p...))
		chunk = bytes.ReplaceAll(chunk, []byte(`"toolu_`), append([]byte(`"toolu`), p...))
		n, err := f.Write(chunk)
		if err != nil {
			b.Fatal(err)
		}
		size += int64(n)
	}
	f.Close()
	b.SetBytes(size)
	b.ResetTimer()
	// One import is the measurement; `-benchtime 200x`, meant for the hook benchmarks,
	// must not turn this into minutes of disk traffic.
	for range min(b.N, 3) {
		b.StopTimer()
		env := benchEnv(b, deadURL)
		b.StartTimer()
		wall, st := runOnce(b, env, nil, hookBin, "import", "--no-send", "--no-progress", root)
		b.StopTimer()
		s, err := spool.Open(spool.Path(homeOf(env)), spool.Options{})
		if err != nil {
			b.Fatal(err)
		}
		stats, _ := s.Stats()
		s.Close()
		b.StartTimer()
		b.ReportMetric(wall.Seconds(), "s/import")
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
		}
		fmt.Printf("import of a %.0f MB transcript: %.2f s (%.0f MB/s), %d events spooled\n",
			float64(size)/1e6, wall.Seconds(), float64(size)/1e6/wall.Seconds(), stats.Pending)
	}
}
