package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/server"
)

// bigSession is a 2,000-event session: 20 prompts of 50 tool calls (a Pre and a Post
// event each), a third of them edits with diffs, a third Bash with output, a Markdown
// response with a code block per prompt.
func bigSession() *server.Session {
	t0 := baseTime
	s := &server.Session{SessionSummary: server.SessionSummary{
		ID: "big", StartedAt: t0, Status: server.StatusEnded, Tier: 3, PromptCount: 20, ToolCallCount: 1000,
		FirstPrompt: "refactor the storage layer", CostUSD: ptr(4.2), EventCount: 2000, Models: []string{"claude-opus-5-5"},
	}}
	for p := range 20 {
		pr := server.Prompt{ID: fmt.Sprintf("p%02d", p), Index: p, Text: strings.Repeat("please refactor this part ", 8),
			StartedAt: t0.Add(time.Duration(p) * time.Minute), CostUSD: ptr(0.21),
			Response: "Done. The change:\n\n```go\nfunc (s *Store) Close" + fmt.Sprint(p) + "() error {\n\treturn s.db.Close()\n}\n```\n\n- one\n- two\n"}
		for c := range 50 {
			tc := server.ToolCall{ID: fmt.Sprintf("t%02d_%02d", p, c), Status: server.ToolOK,
				StartedAt: pr.StartedAt.Add(time.Duration(c) * time.Second), DurationMS: 120}
			switch c % 3 {
			case 0:
				tc.Name, tc.FilePath = "Edit", fmt.Sprintf("/src/store/file%d.go", c)
				tc.Diff = []server.DiffHunk{{OldStart: 10, OldLines: 4, NewStart: 10, NewLines: 5, Lines: []string{
					fmt.Sprintf(" func (s *Store) Get%d_%d(id string) (*Item, error) {", p, c),
					"-\trow := s.db.QueryRow(\"SELECT * FROM items WHERE id = ?\", id)",
					"+\tctx := context.Background()",
					"+\trow := s.db.QueryRowContext(ctx, \"SELECT * FROM items WHERE id = ?\", id)",
					" \treturn scan(row)",
				}}}
				tc.LinesAdded, tc.LinesRemoved = 2, 1
			case 1:
				tc.Name, tc.Command = "Bash", fmt.Sprintf("go test ./store/... -run TestGet%d_%d -count=1 | tail -20", p, c)
				tc.Output = strings.Repeat("ok  \tgithub.com/x/store\t0.12s\n", 20)
			default:
				tc.Name, tc.FilePath = "Read", fmt.Sprintf("/src/store/file%d.go", c)
				tc.Output = strings.Repeat("package store\n", 40)
			}
			pr.ToolCalls = append(pr.ToolCalls, tc)
		}
		s.Prompts = append(s.Prompts, pr)
	}
	return s
}

// BenchmarkSessionPage2000Events measures a cold render (nothing highlighted yet) and a
// warm one (a live re-render, where the highlight cache holds every earlier block).
func BenchmarkSessionPage2000Events(b *testing.B) {
	b.Run("cold", func(b *testing.B) { benchSessionPage(b, true) })
	b.Run("warm", func(b *testing.B) { benchSessionPage(b, false) })
}

func benchSessionPage(b *testing.B, cold bool) {
	h := mustHandler(b, newMemStore(bigSession()))
	req := httptest.NewRequest(http.MethodGet, "/sessions/big", nil)
	highlighted.reset()
	b.ReportAllocs()
	for b.Loop() {
		if cold {
			highlighted.reset()
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkSessionList(b *testing.B) {
	var ss []*server.Session
	for i := range 200 {
		s := commitSession()
		s.ID = fmt.Sprintf("s%03d", i)
		s.StartedAt = baseTime.Add(time.Duration(i) * time.Minute)
		ss = append(ss, s)
	}
	h := mustHandler(b, newMemStore(ss...))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
