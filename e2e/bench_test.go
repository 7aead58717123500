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

// runnerSource is a small program that runs a command N times with a payload on stdin and
// prints each run's wall time and peak RSS. Measuring from a small process matters: Go
// starts children with vfork, and Linux counts the parent's resident set in the child's
// peak RSS until exec, so children of the (large) test binary would all look at least as
// big as it. The runner's own few MiB are the floor, shown by the no-op row.
const runnerSource = `package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	payload, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; i < n; i++ {
		cmd := exec.Command(os.Args[3], os.Args[4:]...)
		cmd.Stdin = bytes.NewReader(payload)
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			os.Exit(1)
		}
		wall := time.Since(start)
		if out.Len() > 0 {
			fmt.Fprintf(os.Stderr, "printed %q on stdout; a hook must print nothing\n", out.String())
			os.Exit(1)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		fmt.Println(wall.Nanoseconds(), ru.Maxrss*1024)
	}
}
`

// buildRunner compiles runnerSource into dir.
func buildRunner(b *testing.B, dir string) string {
	b.Helper()
	src := filepath.Join(dir, "runner.go")
	if err := os.WriteFile(src, []byte(runnerSource), 0o644); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "runner")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build runner: %v\n%s", err, out)
	}
	return bin
}

// measure runs argv n times through the runner, in env, with payload on stdin.
func measure(b *testing.B, runner string, env []string, payload []byte, n int, argv ...string) []hookRun {
	b.Helper()
	pf := filepath.Join(b.TempDir(), "payload.json")
	if err := os.WriteFile(pf, payload, 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(runner, append([]string{fmt.Sprint(n), pf}, argv...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	var runs []hookRun
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ns, rss int64
		if _, err := fmt.Sscan(line, &ns, &rss); err != nil {
			b.Fatalf("runner output %q: %v", line, err)
		}
		runs = append(runs, hookRun{wall: time.Duration(ns), maxRSS: rss})
	}
	if len(runs) != n {
		b.Fatalf("runner reported %d runs, want %d", len(runs), n)
	}
	return runs
}

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

	runner := buildRunner(b, b.TempDir())

	b.Run("agent-trace-hook", func(b *testing.B) {
		h := newHookEnvDir(b, b.TempDir(), hookBin)
		if out, err := h.command(nil, "init", "--collector-url", collector.URL, "--privacy-tier", "2").CombinedOutput(); err != nil {
			b.Fatalf("init: %v\n%s", err, out)
		}
		b.ResetTimer()
		runs := measure(b, runner, h.Env(), payload, b.N, hookBin)
		b.StopTimer()
		report(b, "agent-trace-hook (Go)", runs)
		// Let the background deliverer finish before the temp dir goes away.
		_, _ = h.command(nil, "flush").CombinedOutput()
	})

	// The floor: a static Go program that reads stdin and exits, to tell process start-up on
	// this machine (and the runner's share of peak RSS) apart from the hook's own work.
	b.Run("go-noop", func(b *testing.B) {
		dir := b.TempDir()
		src := filepath.Join(dir, "main.go")
		if err := os.WriteFile(src, []byte("package main\n\nimport (\n\t\"io\"\n\t\"os\"\n)\n\nfunc main() { _, _ = io.Copy(io.Discard, os.Stdin) }\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		bin := filepath.Join(dir, "noop")
		build := exec.Command("go", "build", "-o", bin, src)
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build noop: %v\n%s", err, out)
		}
		b.ResetTimer()
		runs := measure(b, runner, cleanEnv(), payload, b.N, bin)
		b.StopTimer()
		report(b, "Go no-op (floor)", runs)
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
		b.ResetTimer()
		runs := measure(b, runner, append(cleanEnv(), "COLLECTOR_URL="+collector.URL), payload, b.N, node, script)
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
