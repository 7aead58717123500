package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// rssMiB reads this process's resident set size from /proc (Linux only).
func rssMiB(tb testing.TB) float64 {
	tb.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024
		}
	}
	tb.Skip("no VmRSS")
	return 0
}

// BenchmarkServerRSS starts the whole server in-process and reports resident memory idle
// and after ingesting 100,000 events in batches of 500 while reading sessions back. The
// test binary's own footprint is included, so these are upper bounds.
func BenchmarkServerRSS(b *testing.B) {
	for b.Loop() {
		srv := mustStart(b, filepath.Join(b.TempDir(), "data.db"))
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		idle := rssMiB(b)

		client := &http.Client{}
		sessions := storetest.Generate(9, 200, 500)
		peak := idle
		for i, evs := range sessions {
			body, _ := json.Marshal(event.Batch{Events: evs})
			resp, err := client.Post(srv.URL("collector")+"/v1/hooks", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if i%10 == 0 {
				resp, err := client.Get(srv.URL("api") + "/v1/sessions/" + evs[0].SessionID)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				peak = max(peak, rssMiB(b))
			}
		}
		loaded := rssMiB(b)
		srv.stop(b)
		b.ReportMetric(idle, "idle-RSS-MiB")
		b.ReportMetric(max(peak, loaded), "load-RSS-MiB")
	}
}
