package web

import (
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/internal/storetest"
)

// TestSessionPageOTel: a session Claude Code's telemetry reported shows its request rows
// under the prompt, the rejected call, the API errors, active time and OTel's estimate.
func TestSessionPageOTel(t *testing.T) {
	st := mustEmptyStore(t)
	mustIngest(t, st, storetest.OTelSession())
	h := mustHandler(t, st)
	_, doc := mustGet(t, h, "/sessions/"+storetest.OTelSessionID)
	tests := []struct {
		selector string
		want     int
		text     string // a substring of the first match
	}{
		{"tr.request", 3, ""},
		{"tr.request.failed", 1, "529 overloaded"},
		{"li.call.rejected", 1, "rejected (user_reject)"},
		{".api-errors dd", 1, "1"},
		{".otel-cost dd", 1, "$0.05"},
		{".active-time", 1, "you 2.5 s"},
	}
	for _, tt := range tests {
		got := query(doc, tt.selector)
		if len(got) != tt.want {
			t.Errorf("%s: %d, want %d", tt.selector, len(got), tt.want)
			continue
		}
		if tt.text != "" && !strings.Contains(text(got[0]), tt.text) {
			t.Errorf("%s: %q, want it to contain %q", tt.selector, text(got[0]), tt.text)
		}
	}
	_, list := mustGet(t, h, "/")
	if cells := query(list, "td.errors"); len(cells) != 1 || !strings.Contains(text(cells[0]), "+1 API") {
		t.Errorf("list error cells %d, want one showing +1 API", len(cells))
	}
}
