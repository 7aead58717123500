package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// BenchmarkAbuse is issue 13's bounded load test (loopback only, about 40 s, stops by
// itself): the server runs as its own process; one attacking address opens 5,000
// connections to the collector that send a 200,000-byte Content-Length and then one
// byte every 3 s; 1,000 SSE clients (from ten other addresses) follow the API stream
// while sessions with 20 KB prompts arrive; a probe from a fifth address ingests one
// event every 250 ms. It reports the server's peak RSS and open descriptors, the
// probe's latency, and the streams still connected and dropped at the end.
//
//	go test ./cmd/agent-trace-server -run '^$' -bench Abuse -benchtime 1x
func BenchmarkAbuse(b *testing.B) {
	bin := buildServer(b)
	for b.Loop() {
		srv := startServerProcess(b, bin)
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		var wg sync.WaitGroup
		peak := watchProcess(ctx, srv.pid)
		slow := slowBodies(ctx, &wg, srv.collector, 5000)
		streams := sseClients(ctx, &wg, srv.api, 1000)
		time.Sleep(3 * time.Second) // connections settle
		go feedBigPrompts(ctx, srv.collector)
		lat := probe(ctx, srv.collector) // until 2 s before the end
		connected, slowOpen := streams.connected.Load(), slow.accepted.Load()
		cancel()
		wg.Wait()
		p := peak()
		slices.Sort(lat.ok)
		b.ReportMetric(p.rssMiB, "peak-RSS-MiB")
		b.ReportMetric(float64(p.fds), "peak-fds")
		if n := len(lat.ok); n > 0 {
			b.ReportMetric(float64(lat.ok[n/2].Microseconds())/1000, "probe-p50-ms")
			b.ReportMetric(float64(lat.ok[n*99/100].Microseconds())/1000, "probe-p99-ms")
			b.ReportMetric(float64(lat.ok[n-1].Microseconds())/1000, "probe-max-ms")
		}
		b.ReportMetric(float64(lat.failed), "probe-failures")
		b.ReportMetric(float64(connected), "streams-connected")
		b.ReportMetric(float64(streams.notices.Load()), "notices-received")
		b.ReportMetric(float64(slowOpen), "slow-conns-open")
		b.ReportMetric(droppedStreams(b, srv.api), "streams-dropped")
	}
}

type serverProcess struct {
	pid                 int
	collector, api, dir string
}

func buildServer(tb testing.TB) string {
	bin := filepath.Join(tb.TempDir(), "agent-trace-server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startServerProcess(tb testing.TB, bin string) serverProcess {
	dir := tb.TempDir()
	c, a, d := freePort(tb), freePort(tb), freePort(tb)
	cmd := exec.Command(bin, "serve", "--db", filepath.Join(dir, "data.db"), "--collector-port", strconv.Itoa(c),
		"--api-port", strconv.Itoa(a), "--dashboard-port", strconv.Itoa(d), "--otlp-port", "0")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s := serverProcess{pid: cmd.Process.Pid, dir: dir,
		collector: fmt.Sprintf("http://127.0.0.1:%d", c), api: fmt.Sprintf("http://127.0.0.1:%d", a)}
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(s.api + "/healthz"); err == nil {
			resp.Body.Close()
			return s
		}
	}
	tb.Fatal("the server did not start")
	return s
}

type processPeak struct {
	rssMiB float64
	fds    int
}

// watchProcess samples pid's RSS and open descriptors every 200 ms until ctx ends; the
// function it returns gives the peaks.
func watchProcess(ctx context.Context, pid int) func() processPeak {
	var mu sync.Mutex
	var p processPeak
	go func() {
		for ctx.Err() == nil {
			rss, fds := procRSS(pid), procFDs(pid)
			mu.Lock()
			p.rssMiB, p.fds = max(p.rssMiB, rss), max(p.fds, fds)
			mu.Unlock()
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return func() processPeak { mu.Lock(); defer mu.Unlock(); return p }
}

func procRSS(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

func procFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// dialFrom dials addr (host:port of base) from the loopback source address src.
func dialFrom(ctx context.Context, src, base string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", strings.TrimPrefix(base, "http://"))
}

type slowStats struct{ accepted atomic.Int64 }

// slowBodies opens n connections from 127.0.0.9 that promise a 200,000-byte body and
// send one byte every 3 s until the server closes them or ctx ends.
func slowBodies(ctx context.Context, wg *sync.WaitGroup, base string, n int) *slowStats {
	st := &slowStats{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialFrom(ctx, "127.0.0.9", base)
			if err != nil {
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /v1/hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n")
			st.accepted.Add(1)
			defer st.accepted.Add(-1)
			for ctx.Err() == nil {
				if _, err := c.Write([]byte("{")); err != nil {
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(3 * time.Second):
				}
			}
		}()
	}
	return st
}

type streamStats struct{ connected, notices atomic.Int64 }

// sseClients follows the API stream with n clients, spread over ten source addresses.
func sseClients(ctx context.Context, wg *sync.WaitGroup, base string, n int) *streamStats {
	st := &streamStats{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := fmt.Sprintf("127.0.1.%d", 1+i%10)
			tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dialFrom(ctx, src, base) }}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/stream", nil)
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			st.connected.Add(1)
			defer st.connected.Add(-1)
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "event: ") {
					st.notices.Add(1)
				}
			}
		}()
	}
	return st
}

// feedBigPrompts posts a new session with a 20 KB prompt every 100 ms from 127.0.0.7.
func feedBigPrompts(ctx context.Context, base string) {
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialFrom(ctx, "127.0.0.7", base)
	}}}
	prompt := strings.Repeat("lorem ipsum ", 20<<10/12)
	for i := 0; ctx.Err() == nil; i++ {
		evs := storetest.Fixtures()[0].Events
		for j := range evs {
			evs[j].SessionID = fmt.Sprintf("big-%05d", i)
			evs[j].ID = fmt.Sprintf("big-%05d-%d", i, j)
			if evs[j].HookEvent == "UserPromptSubmit" {
				var p map[string]any
				_ = json.Unmarshal(evs[j].Payload, &p)
				p["prompt"] = prompt
				evs[j].Payload, _ = json.Marshal(p)
			}
		}
		body, _ := json.Marshal(event.Batch{Events: evs})
		if resp, err := client.Post(base+"/v1/hooks", "application/json", bytes.NewReader(body)); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type probeLatency struct {
	ok     []time.Duration
	failed int
}

// probe ingests one new event every 250 ms from 127.0.0.5 until 2 s before ctx ends.
func probe(ctx context.Context, base string) probeLatency {
	var out probeLatency
	ev := storetest.Fixtures()[0].Events[1]
	end, _ := ctx.Deadline()
	for i := 0; time.Until(end) > 2*time.Second; i++ {
		ev.ID, ev.SessionID = fmt.Sprintf("probe-%d", i), fmt.Sprintf("probe-%d", i)
		body, _ := json.Marshal(event.Batch{Events: []event.Event{ev}})
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialFrom(ctx, "127.0.0.5", base)
		}}}
		start := time.Now()
		resp, err := client.Post(base+"/v1/hooks", "application/json", bytes.NewReader(body))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			out.failed++
		} else {
			out.ok = append(out.ok, time.Since(start))
		}
		time.Sleep(250 * time.Millisecond)
	}
	return out
}

// droppedStreams reads agent_trace_sse_dropped_total from the API's /metrics.
func droppedStreams(tb testing.TB, api string) float64 {
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "agent_trace_sse_dropped_total "); ok {
			v, _ := strconv.ParseFloat(rest, 64)
			return v
		}
	}
	return -1
}
