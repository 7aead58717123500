package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

type toolsData struct {
	From, To   string
	Report     agenttrace.ToolReport
	Calls      int // every call in the range
	RangeLinks []rangeLink
}

// toolsPage shows, over a range, each tool's and MCP server's calls, failure rate,
// refusals and duration percentiles, and the commands that fail most.
func (a *app) toolsPage(w http.ResponseWriter, r *http.Request) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from, to, err := parseDayRange(r.URL.Query(), today)
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Bad date", err.Error())
		return
	}
	rep, err := a.store.Tools(r.Context(), from, to.AddDate(0, 0, 1))
	if err != nil {
		a.fail(w, r, "report tool calls", err)
		return
	}
	d := toolsData{From: from.Format("2006-01-02"), To: to.Format("2006-01-02"), Report: rep}
	for _, t := range rep.Tools {
		d.Calls += t.Calls
	}
	d.RangeLinks = rangeLinks("/tools", today, d.From, d.To, url.Values{})
	a.render(w, r, http.StatusOK, "tools", "layout", page{Title: "Tools", Nav: "tools", Data: d})
}

// percent is part of whole as a percentage with one decimal, "—" for an empty whole.
func percent(part, whole int) string {
	if whole == 0 {
		return "—"
	}
	return strconv.FormatFloat(float64(part)*100/float64(whole), 'f', 1, 64) + " %"
}
