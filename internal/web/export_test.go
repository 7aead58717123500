package web

import (
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// download follows a dashboard link and reads the CSV it serves.
func download(t *testing.T, h http.Handler, href string) [][]string {
	t.Helper()
	resp := httptest.NewRecorder()
	h.ServeHTTP(resp, httptest.NewRequest(http.MethodGet, href, nil))
	if resp.Code != http.StatusOK || !strings.HasPrefix(resp.Header().Get("Content-Disposition"), "attachment") {
		t.Fatalf("%s: status %d, Content-Disposition %q: %s", href, resp.Code, resp.Header().Get("Content-Disposition"), resp.Body)
	}
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: CSV %v (%d records)", href, err, len(recs))
	}
	return recs
}

// The list's export links carry its filters: the download holds the sessions the page
// lists, and the costs page's link the days and grouping it shows.
func TestExportLinks(t *testing.T) {
	h, _ := mustDashboard(t)
	_, doc := mustGet(t, h, "/?commits=yes")
	listed := map[string]bool{}
	for _, tr := range query(doc, "tr.session") {
		listed[attr(tr, "data-session")] = true
	}
	var href string
	for _, a := range query(doc, "p.exports a") {
		if text(a) == "sessions" {
			href = attr(a, "href")
		}
	}
	if !strings.Contains(href, "commits=yes") || !strings.Contains(href, "format=csv") {
		t.Fatalf("sessions export link %q does not carry the filter", href)
	}
	recs := download(t, h, href)
	if recs[0][0] != "session_id" || len(recs)-1 != len(listed) || len(listed) == 0 {
		t.Fatalf("export has %d sessions (header %v), the page lists %d", len(recs)-1, recs[0][:3], len(listed))
	}
	for _, rec := range recs[1:] {
		if !listed[rec[0]] {
			t.Errorf("exported session %s is not on the page", rec[0])
		}
	}

	_, doc = mustGet(t, h, "/costs?from=2026-11-18&to=2026-11-25&by=session")
	link := first(t, doc, "form.filters a[download]")
	costs := download(t, h, attr(link, "href"))
	if len(costs) < 2 || costs[0][1] != "group_by" || costs[1][1] != "session" {
		t.Errorf("cost export %v, want rows grouped by session", costs[:min(2, len(costs))])
	}

	resp := httptest.NewRecorder()
	h.ServeHTTP(resp, httptest.NewRequest(http.MethodGet, "/export/passwords", nil))
	if resp.Code != http.StatusNotFound {
		t.Errorf("unknown export: status %d, want 404", resp.Code)
	}
}
