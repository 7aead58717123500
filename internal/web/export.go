package web

import (
	"net/http"

	"github.com/agent-trace/agent-trace/internal/export"
)

// exportDownload answers GET /export/{table}: the sessions list's filters (or the costs
// page's range and grouping, for cost_daily) as CSV or JSON Lines, through the same
// export the API serves, so a download holds what the page showed and no more.
func (a *app) exportDownload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, sf, err := parseListFilter(q)
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Bad filter", err.Error())
		return
	}
	req := export.Request{Table: r.PathValue("table"), Format: q.Get("format"), Sessions: sf, GroupBy: q.Get("by")}
	if req.Format == "" {
		req.Format = export.CSV
	}
	if err := export.Check(req); err != nil {
		a.renderError(w, r, http.StatusNotFound, "No such export", err.Error())
		return
	}
	if err := export.Serve(w, r, a.store, req, func(err error) { a.fail(w, r, "export "+req.Table, err) }); err != nil {
		a.log.Error("dashboard: export cut short", "table", req.Table, "err", err)
	}
}

// ExportURL is the download of table in format with the list's filters (no page cursor).
func (f listFilter) ExportURL(table, format string) string {
	f.Cursor = ""
	v := f.Values()
	v.Set("format", format)
	return "/export/" + table + "?" + v.Encode()
}
