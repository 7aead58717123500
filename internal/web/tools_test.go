package web

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Tools page: every call of the range once (its total equals the sessions' tool
// call count), Bash's failures, and the synthetic session's failing command counted.
func TestToolsPage(t *testing.T) {
	h, st := mustDashboard(t)
	_, doc := mustGet(t, h, "/tools?from=2026-11-01&to=2026-11-30")
	sum, err := st.Summary(context.Background(), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	rows := map[string][]string{}
	for _, tr := range query(doc, "table.toolstats tr.tool") {
		var cells []string
		for _, td := range query(tr, "td") {
			cells = append(cells, text(td))
		}
		rows[attr(tr, "data-tool")] = cells
		n, _ := strconv.Atoi(cells[0])
		calls += n
	}
	if calls != sum.ToolCalls || calls == 0 {
		t.Errorf("the tools add up to %d calls, the sessions count %d", calls, sum.ToolCalls)
	}
	bash := rows["Bash"]
	if len(bash) < 3 || bash[1] == "0" || !strings.HasSuffix(bash[2], "%") {
		t.Errorf("Bash row %v, want failures and a rate", bash)
	}
	var failing []string
	for _, tr := range query(doc, "table.failing tbody tr") {
		failing = append(failing, text(query(tr, "td")[0])+"="+text(query(tr, "td")[1]))
	}
	if len(failing) == 0 || failing[0] != "go test ./...=10" {
		t.Errorf("failing commands %v, want go test ./... first with the spun session's 10 failures", failing)
	}
}
