package web

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// breakdownPage is one of the "who and where" pages: People (per user) and Repositories
// (per repository, or per repository and branch), over a range, sortable by any column,
// with a totals row that equals the Costs page's for the same range.
type breakdownPage struct {
	Path, Title, Nav string
	// ByChoices are the groupings the page offers (the first is the default).
	ByChoices []string
}

var (
	peoplePage = breakdownPage{Path: "/people", Title: "People", Nav: "people",
		ByChoices: []string{agenttrace.BreakdownByUser, agenttrace.BreakdownByTeam}}
	reposPage = breakdownPage{Path: "/repos", Title: "Repositories", Nav: "repos",
		ByChoices: []string{agenttrace.BreakdownByRepo, agenttrace.BreakdownByBranch}}
)

type breakdownData struct {
	breakdownPage
	From, To, By, Sort string
	Team               string // by user: only this team's people
	Desc               bool
	Rows               []breakdownRow // this page's rows
	Total              agenttrace.BreakdownRow
	RangeLinks         []rangeLink
	query              url.Values
	// Page is the page of rows shown, from 1; First and Last number its rows among All.
	Page, First, Last, All int
}

// breakdownPageRows bounds the rows a page shows: by branch, a team's range can group
// thousands, and drawing them all took most of the page's time. The totals row still
// sums every row.
const breakdownPageRows = 100

type breakdownRow struct {
	agenttrace.BreakdownRow
	SessionsURL string // the session list filtered to this row
}

// breakdownSorts are the sortable columns: each returns a row's key.
var breakdownSorts = map[string]func(r agenttrace.BreakdownRow) float64{
	"cost":       func(r agenttrace.BreakdownRow) float64 { return r.CostUSD },
	"sessions":   func(r agenttrace.BreakdownRow) float64 { return float64(r.Sessions) },
	"prompts":    func(r agenttrace.BreakdownRow) float64 { return float64(r.Prompts) },
	"commits":    func(r agenttrace.BreakdownRow) float64 { return float64(r.Commits) },
	"lines":      func(r agenttrace.BreakdownRow) float64 { return float64(r.LinesAdded + r.LinesRemoved) },
	"tokens":     func(r agenttrace.BreakdownRow) float64 { return float64(tokensOf(r.Usage)) },
	"errors":     func(r agenttrace.BreakdownRow) float64 { return float64(r.ToolErrors) },
	"per_commit": perCommitKey,
}

func tokensOf(u agenttrace.Usage) int64 {
	return u.InputTokens + u.OutputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
}

// perCommitKey sorts rows without commits after every row with them.
func perCommitKey(r agenttrace.BreakdownRow) float64 {
	if r.CostPerCommitUSD == nil {
		return -1
	}
	return *r.CostPerCommitUSD
}

func (a *app) breakdown(p breakdownPage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		today := time.Now().UTC().Truncate(24 * time.Hour)
		from, to, err := parseDayRange(q, today)
		if err != nil {
			a.renderError(w, r, http.StatusBadRequest, "Bad date", err.Error())
			return
		}
		d := breakdownData{breakdownPage: p, From: from.Format("2006-01-02"), To: to.Format("2006-01-02"),
			By: p.ByChoices[0], Sort: "cost", Desc: q.Get("order") != "asc"}
		d.Page, _ = strconv.Atoi(q.Get("page"))
		if by := q.Get("by"); containsString(p.ByChoices, by) {
			d.By = by
		}
		if _, ok := breakdownSorts[q.Get("sort")]; ok {
			d.Sort = q.Get("sort")
		}
		rows, err := a.store.Breakdown(r.Context(), agenttrace.BreakdownFilter{From: from, To: to.AddDate(0, 0, 1), By: d.By})
		if err == nil && d.By == agenttrace.BreakdownByUser && q.Has("team") {
			d.Team = q.Get("team")
			rows, err = a.teamRows(r, rows, d.Team)
		}
		if err != nil {
			a.fail(w, r, "total by "+d.By, err)
			return
		}
		d.query = url.Values{"from": {d.From}, "to": {d.To}, "by": {d.By}}
		if d.Team != "" {
			d.query.Set("team", d.Team)
		}
		d.fill(rows, from, to)
		d.RangeLinks = rangeLinks(p.Path, today, d.From, d.To, url.Values{"by": {d.By}, "sort": {d.Sort}})
		a.render(w, r, http.StatusOK, "breakdown", "layout", page{Title: p.Title, Nav: p.Nav, Data: d})
	}
}

// teamRows keeps the rows of team's people (team "" : people in no team).
func (a *app) teamRows(r *http.Request, rows []agenttrace.BreakdownRow, team string) ([]agenttrace.BreakdownRow, error) {
	users, err := a.store.Users(r.Context())
	if err != nil {
		return nil, err
	}
	of := map[string]string{}
	for _, u := range users {
		of[u.Name] = u.Team
	}
	return slices.DeleteFunc(rows, func(b agenttrace.BreakdownRow) bool { return of[b.User] != team }), nil
}

// fill sorts the rows, links each to its sessions and adds up the totals row.
func (d *breakdownData) fill(rows []agenttrace.BreakdownRow, from, to time.Time) {
	key := breakdownSorts[d.Sort]
	sort.SliceStable(rows, func(i, j int) bool {
		if d.Desc {
			return key(rows[i]) > key(rows[j])
		}
		return key(rows[i]) < key(rows[j])
	})
	for _, row := range rows {
		addBreakdown(&d.Total, row)
	}
	if d.Total.Commits > 0 {
		c := d.Total.CostUSD / float64(d.Total.Commits)
		d.Total.CostPerCommitUSD = &c
	}
	d.All = len(rows)
	d.Page = min(max(d.Page, 1), max((d.All+breakdownPageRows-1)/breakdownPageRows, 1))
	lo := (d.Page - 1) * breakdownPageRows
	rows = rows[lo:min(lo+breakdownPageRows, d.All)]
	d.First, d.Last = lo+1, lo+len(rows)
	for _, row := range rows {
		v := url.Values{"from": {from.Format("2006-01-02")}, "to": {to.Format("2006-01-02")}}
		link := "/?"
		switch d.By {
		case agenttrace.BreakdownByUser:
			link = "/people/" + url.PathEscape(row.User) + "?"
		case agenttrace.BreakdownByRepo:
			link = "/repos/" + row.Repo + "?"
		case agenttrace.BreakdownByTeam: // the team's people
			v.Set("by", agenttrace.BreakdownByUser)
			v.Set("team", row.Team)
			link = d.Path + "?"
		default:
			v.Set("repo", row.Repo)
		}
		d.Rows = append(d.Rows, breakdownRow{BreakdownRow: row, SessionsURL: link + v.Encode()})
	}
}

// PageURL is this page's rows page n, in the same order; "" when there is no such page.
func (d breakdownData) PageURL(n int) string {
	if n < 1 || (n-1)*breakdownPageRows >= d.All || n == d.Page {
		return ""
	}
	v := url.Values{}
	for k, vs := range d.query {
		v[k] = vs
	}
	v.Set("sort", d.Sort)
	if !d.Desc {
		v.Set("order", "asc")
	}
	v.Set("page", strconv.Itoa(n))
	return d.Path + "?" + v.Encode()
}

func addBreakdown(t *agenttrace.BreakdownRow, r agenttrace.BreakdownRow) {
	t.Summary.Add(r.Summary)
	t.Unpriced += r.Unpriced
}

// SortURL is this page sorted by col, toggling the order when it already is.
func (d breakdownData) SortURL(col string) string {
	v := url.Values{}
	for k, vs := range d.query {
		v[k] = vs
	}
	v.Set("sort", col)
	if col == d.Sort && d.Desc {
		v.Set("order", "asc")
	}
	return d.Path + "?" + v.Encode()
}

// SortMark is the arrow beside the sorted column's heading.
func (d breakdownData) SortMark(col string) string {
	switch {
	case col != d.Sort:
		return ""
	case d.Desc:
		return "▼"
	}
	return "▲"
}

// ByURL is this page grouped by by.
func (d breakdownData) ByURL(by string) string {
	return d.Path + "?" + url.Values{"from": {d.From}, "to": {d.To}, "by": {by}, "sort": {d.Sort}}.Encode()
}

// Label names a row: the user, the repository, or the repository and branch.
func (r breakdownRow) Label() string {
	switch {
	case r.User != "":
		return r.User
	case r.Team != "":
		return r.Team
	case r.Branch != "":
		return strings.TrimSpace(r.Repo + " · " + r.Branch)
	case r.Repo != "":
		return r.Repo
	}
	return ""
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
