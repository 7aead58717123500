//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// BenchmarkBacklog delivers a backlog of generated events (100,000 by default, ~80 MB of
// spool; AGENT_TRACE_BENCH_BACKLOG sets another count) with the built binary, as
// `agent-trace-hook flush` does after a long outage, to a local collector, and reports
// events/s and the deliverer's peak RSS (its VmHWM), with the largest anonymous and
// file-backed parts sampled and the spool file's size. Issue 14's target is 30 MB
// whatever the backlog.
//
//	go test -run '^$' -bench Backlog -benchtime 1x ./cmd/agent-trace-deliver
func BenchmarkBacklog(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("AGENT_TRACE_BENCH_BACKLOG")); err == nil && v > 0 {
		n = v
	}
	bin := filepath.Join(b.TempDir(), "agent-trace-deliver")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	sessions := storetest.Generate(5, n/200, 200)
	for range min(b.N, 3) {
		b.StopTimer()
		c := newCollector(b)
		home := filepath.Join(b.TempDir(), "agent-trace")
		s, err := spool.Open(spool.Path(home), spool.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, evs := range sessions {
			if _, err := s.Append(evs...); err != nil {
				b.Fatal(err)
			}
		}
		st, _ := s.Stats()
		s.Close()
		cmd := exec.Command(bin, "--foreground")
		cmd.Env = append(os.Environ(), "AGENT_TRACE_HOME="+home, "AGENT_TRACE_COLLECTOR_URL="+c.URL,
			"AGENT_TRACE_TOKEN=", "CLAUDE_CONFIG_DIR="+b.TempDir(), "GODEBUG="+os.Getenv("BENCH_GODEBUG"))
		if v := os.Getenv("BENCH_GOMEMLIMIT"); v != "" {
			cmd.Env = append(cmd.Env, "GOMEMLIMIT="+v) // the deliverer's own limit otherwise
		}
		b.StartTimer()
		start := time.Now()
		var outBuf syncWriter
		cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		rss := watchRSS(cmd.Process.Pid)
		err = cmd.Wait()
		out := outBuf.Bytes()
		wall := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("deliver: %v\n%s", err, out)
		}
		if os.Getenv("BENCH_GODEBUG") != "" {
			os.Stdout.Write(out)
		}
		if got := c.count(); got < st.Pending {
			b.Fatalf("collector got %d of %d events", got, st.Pending)
		}
		peak := <-rss
		b.ReportMetric(float64(st.Pending)/wall.Seconds(), "events/s")
		b.ReportMetric(float64(peak.hwm)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(peak.anon)/(1<<20), "peak-anon-MiB")
		b.ReportMetric(float64(peak.file)/(1<<20), "peak-file-MiB")
		if fi, err := os.Stat(spool.Path(home)); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "spool-file-MiB")
		}
		fmt.Printf("backlog of %d events (%.0f MB pending): delivered in %.2f s, peak RSS %.1f MiB\n",
			st.Pending, float64(st.Bytes)/1e6, wall.Seconds(), float64(peak.hwm)/(1<<20))
	}
}

// peakRSS is a process's peak resident memory (VmHWM, the kernel's high-water mark) and
// the largest anonymous (heap, stacks) and file-backed (the spool's mmap) parts sampled.
type peakRSS struct{ hwm, anon, file int64 }

// watchRSS samples the process's memory every 10 ms until it exits, then sends the
// peaks. Not getrusage: a child forked from this (large) test binary reports the
// parent's peak until it execs, so ru_maxrss would measure the benchmark.
func watchRSS(pid int) <-chan peakRSS {
	out := make(chan peakRSS, 1)
	go func() {
		var p peakRSS
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil || bytes.Contains(b, []byte("State:\tZ")) {
				break
			}
			for _, line := range strings.Split(string(b), "\n") {
				k, v, ok := strings.Cut(line, ":")
				if !ok {
					continue
				}
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				switch k {
				case "VmHWM":
					p.hwm = max(p.hwm, kb<<10)
				case "RssAnon":
					p.anon = max(p.anon, kb<<10)
				case "RssFile":
					p.file = max(p.file, kb<<10)
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		out <- p
	}()
	return out
}

// syncWriter is a bytes.Buffer safe for the child's stdout and stderr at once.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) Bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Bytes()
}
