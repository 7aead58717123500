package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// TestServeFiresBudgetsOnceAcrossRestart runs the whole path: a budget set with the
// command, spend posted to the collector, the server's worker posting to a real receiver
// at 80 % and 100 %, and a restarted server (new process state, same database) sending
// nothing again; budget list shows both alerts delivered.
func TestServeFiresBudgetsOnceAcrossRestart(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		json.Unmarshal(raw, &body)
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
	}))
	defer recv.Close()
	received := func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), got...)
	}
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); len(received()) < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("receiver got %d alerts, want %d", len(received()), n)
			}
		}
	}

	db := filepath.Join(t.TempDir(), "data.db")
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "budget", "set", "--db", db, "--scope", "user:ada", "--period", "daily", "--limit", "1", "--webhook", recv.URL); err != nil {
		t.Fatalf("budget set: %q, %v", out, err)
	}
	fast := func(m *Main) { m.BudgetInterval = 20 * time.Millisecond; m.DashboardURL = "https://trace.example" }
	srv := mustStart(t, db, fast)
	spend := func(msg string, usd float64) {
		t.Helper()
		e := event.Event{ID: event.ID(event.KindUsage, "s1", msg, "r"+msg), Kind: event.KindUsage, SessionID: "s1", Time: time.Now().UTC(),
			Tier: event.TierFull, User: "ada", Usage: &event.Usage{MessageID: msg, RequestID: "r" + msg, Model: "claude-opus-5-5", OutputTokens: int64(usd * 50_000)}}
		if resp, body := post(t, srv.URL("collector"), []event.Event{e}); resp.StatusCode != 200 {
			t.Fatalf("ingest: %d %s", resp.StatusCode, body)
		}
	}
	spend("m1", 0.85)
	waitFor(1)
	spend("m2", 0.20)
	waitFor(2)
	srv.stop(t)

	srv = mustStart(t, db, fast)
	time.Sleep(200 * time.Millisecond) // ten passes of the restarted worker
	srv.stop(t)
	bodies := received()
	if len(bodies) != 2 || bodies[0]["threshold"] != 80.0 || bodies[1]["threshold"] != 100.0 || bodies[1]["dashboard_url"] != "https://trace.example/costs" {
		t.Fatalf("alerts = %v, want 80 then 100, once each", bodies)
	}
	out, err := run(t, "budget", "list", "--db", db)
	if err != nil || !strings.Contains(out, "100% "+time.Now().UTC().Format("2006-01-02")+" delivered") {
		t.Errorf("budget list = %q, %v", out, err)
	}
}
