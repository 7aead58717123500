package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

const bigID = "big-0000-4000-8000-000000000001"

// bigSessionEvents is a 2,000-event tier 3 session: 20 prompts of 50 tool calls (a Pre
// and a Post event each), a third of them edits with diffs, a third Bash with output,
// and a Markdown response with a code block per prompt.
func bigSessionEvents(tb testing.TB) []event.Event {
	tb.Helper()
	at := baseTime
	var out []event.Event
	add := func(m map[string]any) {
		m["session_id"] = bigID
		m["cwd"] = "/home/dev/src/store"
		raw, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, hookEvent(tb, raw, at))
		at = at.Add(100 * time.Millisecond)
	}
	add(map[string]any{"hook_event_name": "SessionStart", "source": "startup"})
	for p := range 20 {
		pid := fmt.Sprintf("big-prompt-%02d", p)
		add(map[string]any{"hook_event_name": "UserPromptSubmit", "prompt_id": pid, "prompt": strings.Repeat("please refactor this part ", 8)})
		for c := range 50 {
			tid := fmt.Sprintf("toolu_big_%02d_%02d", p, c)
			var name string
			var input, resp map[string]any
			switch c % 3 {
			case 0:
				name = "Edit"
				file := fmt.Sprintf("/home/dev/src/store/file%d.go", c)
				oldS := fmt.Sprintf("\trow := s.db.QueryRow(\"SELECT * FROM items WHERE id = ?\", id) // %d.%d", p, c)
				newS := "\tctx := context.Background()\n\trow := s.db.QueryRowContext(ctx, \"SELECT * FROM items WHERE id = ?\", id)"
				input = map[string]any{"file_path": file, "old_string": oldS, "new_string": newS}
				resp = map[string]any{"filePath": file, "structuredPatch": []map[string]any{{
					"oldStart": 10, "oldLines": 3, "newStart": 10, "newLines": 4, "lines": []string{
						fmt.Sprintf(" func (s *Store) Get%d_%d(id string) (*Item, error) {", p, c),
						"-" + oldS, "+\tctx := context.Background()",
						"+\trow := s.db.QueryRowContext(ctx, \"SELECT * FROM items WHERE id = ?\", id)",
						" \treturn scan(row)"}}}}
			case 1:
				name = "Bash"
				input = map[string]any{"command": fmt.Sprintf("go test ./store/... -run TestGet%d_%d -count=1 | tail -20", p, c), "description": "Run the test"}
				resp = map[string]any{"stdout": strings.Repeat("ok  \tgithub.com/x/store\t0.12s\n", 20), "stderr": ""}
			default:
				name = "Read"
				input = map[string]any{"file_path": fmt.Sprintf("/home/dev/src/store/file%d.go", c)}
				resp = map[string]any{"type": "text", "file": map[string]any{"content": strings.Repeat("package store\n", 40)}}
			}
			add(map[string]any{"hook_event_name": "PreToolUse", "prompt_id": pid, "tool_name": name, "tool_use_id": tid, "tool_input": input})
			add(map[string]any{"hook_event_name": "PostToolUse", "prompt_id": pid, "tool_name": name, "tool_use_id": tid, "tool_input": input, "tool_response": resp, "duration_ms": 120})
		}
		add(map[string]any{"hook_event_name": "Stop", "prompt_id": pid, "last_assistant_message": fmt.Sprintf(
			"Done. The change:\n\n```go\nfunc (s *Store) Close%d() error {\n\treturn s.db.Close()\n}\n```\n\n- one\n- two\n", p)})
	}
	return out
}

// BenchmarkSessionPage2000Events measures GET /sessions/{id} on the real SQLite store:
// cold (nothing highlighted yet: the first eagerBlocks commands and diffs are, the rest
// go out plain) and warm (a live re-render, where the highlight cache holds what earlier
// renders highlighted). The machine may be shared, so CPU time per render is reported
// too (cpu-ms/op: the process's user+system time, which includes the prewarm workers).
// Target: under 100 ms. Measure with
//
//	go test ./internal/web/ -run '^$' -bench SessionPage2000 -benchtime 10x -count 3
func BenchmarkSessionPage2000Events(b *testing.B) {
	st := mustEmptyStore(b)
	evs := bigSessionEvents(b)
	if len(evs) < 2000 {
		b.Fatalf("only %d events", len(evs))
	}
	mustIngest(b, st, evs)
	h := mustHandler(b, st)
	warmLexers() // what New starts in the background at start-up
	for _, cold := range []bool{true, false} {
		name := map[bool]string{true: "cold", false: "warm"}[cold]
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/sessions/"+bigID, nil)
			highlighted.reset()
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				if cold {
					highlighted.reset()
				}
				rec := httptest.NewRecorder()
				before := cpuTime(b)
				h.ServeHTTP(rec, req)
				cpu += cpuTime(b) - before
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkSessionHighlightBatch measures one lazy-highlight request: the commands and
// diffs of 16 calls (what a screen or two of a replay asks for), none cached.
func BenchmarkSessionHighlightBatch(b *testing.B) {
	st := mustEmptyStore(b)
	mustIngest(b, st, bigSessionEvents(b))
	h := mustHandler(b, st)
	warmLexers()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sessions/"+bigID, nil)) // as a page view would first
	q := url.Values{}
	for c := range 16 {
		q.Add("call", fmt.Sprintf("toolu_big_19_%02d", c))
	}
	req := httptest.NewRequest(http.MethodGet, "/sessions/"+bigID+"/highlight?"+q.Encode(), nil)
	b.ReportAllocs()
	for b.Loop() {
		highlighted.reset()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkSessionList(b *testing.B) {
	h, _ := mustDashboard(b)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
