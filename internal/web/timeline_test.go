package web

import (
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Calls that overlap get lanes of their own, a subagent's calls too; model requests have
// their lane; names are escaped; a prompt with nothing to draw draws nothing.
func TestTimelineLanes(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	call := func(id string, start, secs float64, status string, children ...agenttrace.ToolCall) agenttrace.ToolCall {
		return agenttrace.ToolCall{ID: id, Name: "<" + id + ">", Status: status, StartedAt: at(start),
			DurationMS: int64(secs * 1000), Children: children}
	}
	p := agenttrace.Prompt{StartedAt: t0, DurationMS: 15000,
		ToolCalls: []agenttrace.ToolCall{
			call("agent", 0, 10, agenttrace.ToolOK, call("sub", 1, 3, agenttrace.ToolOK)),
			call("grep", 2, 3, agenttrace.ToolError),
			call("bash", 11, 1, agenttrace.ToolOK),
		},
		Requests: []agenttrace.APIRequest{{Time: at(0.5), DurationMS: 500, Model: "m"}, {Time: at(14), DurationMS: 2000, Model: "m"}},
	}
	got := string(timeline(p))
	for _, want := range []string{`class="span call st-ok"`, `class="span call st-ok sub"`, `class="span call st-error"`,
		`class="span req"`, ">model<", ">tools<", ">parallel 2<", ">parallel 3<", "&lt;grep&gt;"} {
		if !strings.Contains(got, want) {
			t.Errorf("timeline lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "<rect"); n != 6 {
		t.Errorf("%d bars, want 4 calls and 2 requests", n)
	}
	if strings.Contains(got, ">parallel 4<") {
		t.Error("4 lanes for at most 3 calls at once")
	}
	if got := timeline(agenttrace.Prompt{StartedAt: t0}); got != "" {
		t.Errorf("an empty prompt draws %q", got)
	}
}

// The replay draws a timeline for each prompt with calls: one bar per call.
func TestSessionPageTimeline(t *testing.T) {
	h, st := mustDashboard(t)
	s, err := st.Session(t.Context(), multiID)
	if err != nil {
		t.Fatal(err)
	}
	_, doc := mustGet(t, h, "/sessions/"+multiID)
	cards := query(doc, "article.prompt")
	for i, p := range s.Prompts {
		n := len(query(cards[i], "svg.timeline rect.call"))
		if want := len(callSpans(p.ToolCalls, nil, false)); n != want {
			t.Errorf("prompt %d: %d bars, want %d", i, n, want)
		}
	}
}
