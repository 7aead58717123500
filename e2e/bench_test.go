package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// nodeHook is what a hook written in Node.js minimally does: read the payload, POST it to
// the collector, exit 0. It uses the http module rather than fetch, which would load undici
// and make Node look slower than it needs to be.
const nodeHook = `const http = require('http');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const body = Buffer.concat(chunks);
  const req = http.request(process.env.COLLECTOR_URL + '/v1/hooks', {
    method: 'POST',
    headers: {'content-type': 'application/json', 'content-length': body.length},
  }, (res) => { res.resume(); res.on('end', () => process.exit(0)); });
  req.on('error', () => process.exit(0));
  req.end(body);
});
`

// hookRun is one timed run of a hook process.
type hookRun struct {
	wall   time.Duration
	maxRSS int64 // bytes
}

// BenchmarkHookLatency runs the built agent-trace-hook on a PostToolUse payload, as Claude
// Code runs it (a fresh process per event, payload on stdin), and then a minimal Node.js
// hook that POSTs the same payload to a collector, and reports wall time p50/p99 and peak
// RSS per process. Run it with a fixed count: go test -run '^$' -bench HookLatency -benchtime 200x ./e2e/
func BenchmarkHookLatency(b *testing.B) {
	hookBin := builtBinary(b, "agent-trace-hook")
	payload, err := os.ReadFile(filepath.Join(fixtureRoot, "commit", "hooks", "010.json")) // PostToolUse Bash
	if err != nil {
		b.Fatal(err)
	}
	var received atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		received.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"stored":%d,"duplicates":0}`, max(1, strings.Count(string(body), `"id"`)))
	}))
	defer collector.Close()

	var table []string
	report := func(b *testing.B, name string, runs []hookRun) {
		if len(runs) < 20 {
			return // the framework's calibration run, not the measured one
		}
		walls := make([]time.Duration, len(runs))
		var peak int64
		for i, r := range runs {
			walls[i] = r.wall
			peak = max(peak, r.maxRSS)
		}
		sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
		p50 := walls[len(walls)*50/100]
		p99 := walls[min(len(walls)-1, len(walls)*99/100)]
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(p50), "p50-ms")
		b.ReportMetric(ms(p99), "p99-ms")
		b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
		table = append(table, fmt.Sprintf("%-22s %5d %9.2f %9.2f %12.1f", name, len(runs), ms(p50), ms(p99), float64(peak)/(1<<20)))
	}

	b.Run("agent-trace-hook", func(b *testing.B) {
		h := newHookEnvDir(b, b.TempDir(), hookBin)
		if out, err := h.command(nil, "init", "--collector-url", collector.URL, "--privacy-tier", "2").CombinedOutput(); err != nil {
			b.Fatalf("init: %v\n%s", err, out)
		}
		runs := make([]hookRun, 0, b.N)
		b.ResetTimer()
		for range b.N {
			runs = append(runs, timeRun(b, h.command(payload)))
		}
		b.StopTimer()
		report(b, "agent-trace-hook (Go)", runs)
		// Let the background deliverer finish before the temp dir goes away.
		_, _ = h.command(nil, "flush").CombinedOutput()
	})

	b.Run("node-http-post", func(b *testing.B) {
		node, err := exec.LookPath("node")
		if err != nil {
			b.Skip("node is not installed")
		}
		script := filepath.Join(b.TempDir(), "hook.js")
		if err := os.WriteFile(script, []byte(nodeHook), 0o644); err != nil {
			b.Fatal(err)
		}
		before := received.Load()
		runs := make([]hookRun, 0, b.N)
		b.ResetTimer()
		for range b.N {
			cmd := exec.Command(node, script)
			cmd.Env = append(cleanEnv(), "COLLECTOR_URL="+collector.URL)
			cmd.Stdin = bytes.NewReader(payload)
			runs = append(runs, timeRun(b, cmd))
		}
		b.StopTimer()
		if got := received.Load() - before; got < int64(b.N) {
			b.Fatalf("the Node hook delivered %d of %d payloads", got, b.N)
		}
		report(b, "node http POST", runs)
	})

	if len(table) > 0 {
		b.Logf("\n%-22s %5s %9s %9s %12s\n%s", "hook", "runs", "p50 ms", "p99 ms", "peak RSS MiB", strings.Join(table, "\n"))
	}
}

// timeRun runs cmd to completion and measures its wall time and peak resident set size.
func timeRun(b *testing.B, cmd *exec.Cmd) hookRun {
	b.Helper()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v", cmd.Path, err)
	}
	wall := time.Since(start)
	if stdout.Len() > 0 {
		b.Fatalf("%s printed %q; a hook must print nothing", cmd.Path, stdout.String())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // Linux reports KiB
	}
	return hookRun{wall: wall, maxRSS: rss}
}
