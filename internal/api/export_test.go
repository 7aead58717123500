package api_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/api"
)

// get serves a GET through the whole handler (the exports stream, past humatest).
func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	resp := httptest.NewRecorder()
	h.ServeHTTP(resp, httptest.NewRequest(http.MethodGet, path, nil))
	return resp
}

// exportRows reads an export in either format as rows of name → text.
func exportRows(t *testing.T, resp *httptest.ResponseRecorder, format string) []map[string]string {
	t.Helper()
	if resp.Code != http.StatusOK {
		t.Fatalf("status %d: %s", resp.Code, resp.Body)
	}
	var out []map[string]string
	if format == "csv" {
		recs, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil || len(recs) == 0 {
			t.Fatalf("CSV: %v (%d records)", err, len(recs))
		}
		for _, rec := range recs[1:] {
			row := map[string]string{}
			for i, name := range recs[0] {
				row[name] = rec[i]
			}
			out = append(out, row)
		}
		return out
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("JSON line %q: %v", sc.Text(), err)
		}
		row := map[string]string{}
		for k, v := range obj {
			switch x := v.(type) {
			case string:
				row[k] = x
			case float64:
				row[k] = strconv.FormatFloat(x, 'f', -1, 64)
			case nil:
				row[k] = ""
			default:
				b, _ := json.Marshal(x)
				row[k] = string(b)
			}
		}
		out = append(out, row)
	}
	return out
}

// TestExport: every table in both formats holds exactly what the read endpoints say.
func TestExport(t *testing.T) {
	e := mustEnv(t, api.Options{})
	mustIngestAll(t, e)
	h := e.api.Handler()
	page := decode[agenttrace.SessionPage](t, e.http.Get("/v1/sessions?limit=200").Body.Bytes())
	var prompts, calls int
	for _, s := range page.Sessions {
		full := decode[agenttrace.Session](t, e.http.Get("/v1/sessions/"+s.ID).Body.Bytes())
		prompts += len(full.Prompts)
		for _, p := range full.Prompts {
			calls += countCalls(p.ToolCalls)
		}
	}
	commits := decode[agenttrace.CommitPage](t, e.http.Get("/v1/commits?limit=200").Body.Bytes())
	const day = "from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
	daily := decode[struct{ Days []agenttrace.DailyCost }](t, e.http.Get("/v1/analytics/cost/daily?group_by=user&"+day).Body.Bytes())
	var cost float64
	for _, d := range daily.Days {
		cost += d.CostUSD
	}

	for _, format := range []string{"csv", "jsonl"} {
		for _, tt := range []struct {
			table, query string
			want         int
		}{
			{"sessions", "", len(page.Sessions)},
			{"prompts", "", prompts},
			{"tool_calls", "", calls},
			{"commits", "", len(commits.Commits)},
			{"cost_daily", "&group_by=user&" + day, len(daily.Days)},
			{"sessions", "&user=nobody", 0},
		} {
			t.Run(format+"/"+tt.table+tt.query, func(t *testing.T) {
				resp := get(t, h, "/v1/export/"+tt.table+"?format="+format+tt.query)
				if cd := resp.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=\"agent-trace-"+tt.table) {
					t.Errorf("Content-Disposition = %q", cd)
				}
				rows := exportRows(t, resp, format)
				if len(rows) != tt.want {
					t.Fatalf("%d rows, want %d", len(rows), tt.want)
				}
				if tt.table == "cost_daily" {
					var sum float64
					for _, r := range rows {
						v, _ := strconv.ParseFloat(r["cost_usd"], 64)
						sum += v
					}
					if math.Abs(sum-cost) > 1e-9 {
						t.Errorf("exported cost %v, the API says %v", sum, cost)
					}
				}
				if tt.table == "sessions" && len(rows) > 0 && rows[0]["session_id"] != page.Sessions[0].ID {
					t.Errorf("first session %q, want %q (the list's order)", rows[0]["session_id"], page.Sessions[0].ID)
				}
			})
		}
	}
}

func countCalls(calls []agenttrace.ToolCall) int {
	n := len(calls)
	for _, c := range calls {
		n += countCalls(c.Children)
	}
	return n
}

// A prompt that a spreadsheet would run as a formula is defused in CSV, kept as is in
// JSON Lines.
func TestExportDefusesFormulas(t *testing.T) {
	e := mustEnv(t, api.Options{})
	evs := fixture(t, "commit").Events
	for i := range evs {
		if evs[i].HookEvent == "UserPromptSubmit" {
			p := map[string]any{}
			_ = json.Unmarshal(evs[i].Payload, &p)
			p["prompt"] = `=HYPERLINK("http://evil.example","x")`
			evs[i].Payload, _ = json.Marshal(p)
		}
	}
	mustIngest(t, e, evs)
	csvRows := exportRows(t, get(t, e.api.Handler(), "/v1/export/prompts?format=csv"), "csv")
	jsonRows := exportRows(t, get(t, e.api.Handler(), "/v1/export/prompts?format=jsonl"), "jsonl")
	if len(csvRows) == 0 || len(jsonRows) != len(csvRows) {
		t.Fatalf("rows: csv %d, jsonl %d", len(csvRows), len(jsonRows))
	}
	if got := csvRows[0]["text"]; !strings.HasPrefix(got, `'=HYPERLINK`) {
		t.Errorf("CSV text = %q, want it prefixed with an apostrophe", got)
	}
	if got := jsonRows[0]["text"]; !strings.HasPrefix(got, `=HYPERLINK`) {
		t.Errorf("JSON Lines text = %q, want it unchanged", got)
	}
}

type failingLists struct{ agenttrace.Store }

func (failingLists) ListSessions(context.Context, agenttrace.SessionFilter) (agenttrace.SessionPage, error) {
	return agenttrace.SessionPage{}, errors.New("disk on fire")
}

// Bad requests are 422 and a store that fails before the first row is a 503 problem,
// never a 200 with an empty download.
func TestExportErrors(t *testing.T) {
	e := mustEnv(t, api.Options{})
	for _, q := range []string{"/v1/export/sessions?format=xlsx", "/v1/export/passwords", "/v1/export/cost_daily?group_by=host",
		"/v1/export/cost_daily?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"} {
		if resp := get(t, e.api.Handler(), q); resp.Code != http.StatusUnprocessableEntity && resp.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 422: %s", q, resp.Code, resp.Body)
		}
	}
	broken := api.New(failingLists{e.store}, nil, api.Options{})
	defer broken.Close()
	resp := get(t, broken.Handler(), "/v1/export/sessions")
	if resp.Code != http.StatusServiceUnavailable || resp.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("failing store: status %d %q: %s", resp.Code, resp.Header().Get("Content-Type"), resp.Body)
	}
	if resp.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// The breakdown through HTTP: its rows add up to the summary of the same range.
func TestBreakdownAddsUpToSummary(t *testing.T) {
	e := mustEnv(t, api.Options{})
	mustIngestAll(t, e)
	const rng = "from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
	sum := decode[agenttrace.Summary](t, e.http.Get("/v1/analytics/summary?"+rng).Body.Bytes())
	for _, by := range []string{"user", "repo", "branch"} {
		resp := e.http.Get("/v1/analytics/breakdown?by=" + by + "&" + rng)
		if resp.Code != http.StatusOK {
			t.Fatalf("by %s: status %d: %s", by, resp.Code, resp.Body)
		}
		got := decode[struct{ Rows []agenttrace.BreakdownRow }](t, resp.Body.Bytes())
		var sessions, commits int
		var cost float64
		for _, r := range got.Rows {
			sessions, commits, cost = sessions+r.Sessions, commits+r.Commits, cost+r.CostUSD
		}
		if sessions != sum.Sessions || commits != sum.Commits || math.Abs(cost-sum.CostUSD) > 1e-9 || len(got.Rows) == 0 {
			t.Errorf("by %s: %d rows adding to %d sessions, %d commits, $%v; summary %d, %d, $%v",
				by, len(got.Rows), sessions, commits, cost, sum.Sessions, sum.Commits, sum.CostUSD)
		}
	}
	mustProblem(t, e.http.Get("/v1/analytics/breakdown?by=host"), http.StatusUnprocessableEntity)

	// ?repo= and ?user= keep one repository's or person's sessions.
	all := decode[struct{ Rows []agenttrace.BreakdownRow }](t, e.http.Get("/v1/analytics/breakdown?by=user&"+rng).Body.Bytes()).Rows
	for _, c := range []struct {
		query    url.Values
		sessions int
	}{
		{url.Values{"by": {"user"}, "user": {all[0].User}}, all[0].Sessions},
		{url.Values{"by": {"user"}, "user": {"nobody"}}, 0},
		{url.Values{"by": {"branch"}, "repo": {"github.com/nobody/nothing"}}, 0},
	} {
		got := decode[struct{ Rows []agenttrace.BreakdownRow }](t, e.http.Get("/v1/analytics/breakdown?"+c.query.Encode()+"&"+rng).Body.Bytes()).Rows
		n := 0
		for _, r := range got {
			n += r.Sessions
		}
		if n != c.sessions {
			t.Errorf("%s: %d sessions, want %d", c.query.Encode(), n, c.sessions)
		}
	}
}
