package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/capture"
	"github.com/agent-trace/agent-trace/internal/spool"
)

// collector is a real HTTP collector on 127.0.0.1 that records the event IDs it stores.
type collector struct {
	*httptest.Server
	mu  sync.Mutex
	ids []string
}

func newCollector(t testing.TB) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/hooks" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var b event.Batch
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, e := range b.Events {
			c.ids = append(c.ids, e.ID)
		}
		c.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// spoolFixtures captures the recorded hook payloads into a fresh home, as the hook does,
// and points the process's agent-trace settings at it and at collectorURL.
func spoolFixtures(t *testing.T, collectorURL string) (home string, n int) {
	t.Helper()
	home = filepath.Join(t.TempDir(), "agent-trace")
	t.Setenv("AGENT_TRACE_HOME", home)
	t.Setenv("AGENT_TRACE_COLLECTOR_URL", collectorURL)
	t.Setenv("AGENT_TRACE_TOKEN", "")
	t.Setenv("AGENT_TRACE_PRIVACY_TIER", "2")
	t.Setenv("CLAUDE_CONFIG_DIR", filepath.Join(t.TempDir(), "claude"))
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		evts, _, err := capture.Capture(bytes.NewReader(raw), home, time.Now())
		if err != nil {
			t.Fatalf("capture %s: %v", p, err)
		}
		if _, err := spool.Capture(home, spool.Options{}, evts); err != nil {
			t.Fatalf("spool %s: %v", p, err)
		}
		n += len(evts)
	}
	if n == 0 {
		t.Fatal("the fixtures produced no events; the test would prove nothing")
	}
	return home, n
}

func TestForegroundReportsAndExits(t *testing.T) {
	live := newCollector(t)
	tests := []struct {
		name       string
		args       []string
		url        string
		wantCode   int
		wantStdout string
		wantStderr string // the one line; "" means stderr stays empty
		wantSent   bool
	}{
		{"delivers and empties the spool", []string{"--foreground"}, live.URL, 0, "; spool empty", "", true},
		{"collector down keeps the events", []string{"--foreground", "--timeout", "10s"}, "http://127.0.0.1:1", 1, "events kept in the spool", "flush: could not deliver: ", false},
		{"wait without foreground is a usage error", []string{"--wait"}, live.URL, 2, "", "need --foreground", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := live.count()
			home, n := spoolFixtures(t, tt.url)
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if tt.wantStderr == "" && stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
			if tt.wantStderr != "" && (len(lines) != 1 || !strings.Contains(lines[0], tt.wantStderr)) {
				t.Errorf("stderr = %q, want one line with %q", stderr.String(), tt.wantStderr)
			}
			got := live.count() - before
			s, err := spool.Open(spool.Path(home), spool.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := s.Stats()
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSent {
				if got != n || st.Pending != 0 {
					t.Fatalf("collector got %d of %d, %d still pending", got, n, st.Pending)
				}
			} else if got != 0 || st.Pending != n {
				t.Fatalf("collector got %d, pending %d; want 0 sent, %d kept", got, st.Pending, n)
			}
		})
	}
}
