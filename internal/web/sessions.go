package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

const sessionsPerPage = 50

// listFilter is the session list's query string, parsed once and echoed back into the
// form, the sort links and the next-page link.
type listFilter struct {
	From, To   string // YYYY-MM-DD, inclusive
	Repo, User string
	Status     string
	Commits    string // "", "yes", "no"
	Query      string
	Sort       string
	Order      string // "desc" (default) or "asc"
	Cursor     string
}

func (f listFilter) Active() bool {
	return f.From != "" || f.To != "" || f.Repo != "" || f.User != "" || f.Status != "" ||
		f.Commits != "" || f.Query != ""
}

func (f listFilter) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("from", f.From)
	set("to", f.To)
	set("repo", f.Repo)
	set("user", f.User)
	set("status", f.Status)
	set("commits", f.Commits)
	set("q", f.Query)
	set("sort", f.Sort)
	set("order", f.Order)
	set("cursor", f.Cursor)
	return v
}

// withCursor is the list URL for the page at cursor c, keeping every filter.
func (f listFilter) withCursor(c string) string {
	f.Cursor = c
	return "/?" + f.Values().Encode()
}

// SortURL toggles the order when the column is already the sort key.
func (f listFilter) SortURL(key string) string {
	g := f
	g.Cursor = ""
	if g.sortKey() == key && g.Order != "asc" {
		g.Order = "asc"
	} else {
		g.Order = ""
	}
	g.Sort = key
	if key == "started_at" {
		g.Sort = ""
	}
	if q := g.Values().Encode(); q != "" {
		return "/?" + q
	}
	return "/"
}

// SortMark is the arrow shown beside the current sort column.
func (f listFilter) SortMark(key string) string {
	if f.sortKey() != key {
		return ""
	}
	if f.Order == "asc" {
		return "▲"
	}
	return "▼"
}

func (f listFilter) sortKey() string {
	if f.Sort == "" {
		return "started_at"
	}
	return f.Sort
}

func parseListFilter(q url.Values) (listFilter, agenttrace.SessionFilter, error) {
	f := listFilter{
		From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Repo: strings.TrimSpace(q.Get("repo")), User: strings.TrimSpace(q.Get("user")),
		Status: q.Get("status"), Commits: q.Get("commits"), Query: strings.TrimSpace(q.Get("q")),
		Sort: q.Get("sort"), Order: q.Get("order"), Cursor: q.Get("cursor"),
	}
	sf := agenttrace.SessionFilter{
		Repo: f.Repo, User: f.User, Query: f.Query, Cursor: f.Cursor,
		Desc: f.Order != "asc", Limit: sessionsPerPage,
	}
	switch f.Status {
	case "", agenttrace.StatusActive, agenttrace.StatusIdle, agenttrace.StatusEnded:
		sf.Status = f.Status
	default:
		return f, sf, badRequest("status must be active, idle or ended")
	}
	switch f.Sort {
	case "", "started_at", "cost", "duration":
		sf.Sort = f.Sort
	default:
		return f, sf, badRequest("sort must be started_at, cost or duration")
	}
	switch f.Commits {
	case "yes":
		t := true
		sf.HasCommits = &t
	case "no":
		no := false
		sf.HasCommits = &no
	case "":
	default:
		return f, sf, badRequest("commits must be yes or no")
	}
	var err error
	if sf.From, err = parseDay(f.From, 0); err != nil {
		return f, sf, err
	}
	if sf.To, err = parseDay(f.To, 24*time.Hour); err != nil {
		return f, sf, err
	}
	return f, sf, nil
}

// parseDay reads a YYYY-MM-DD form value as a UTC day; To is inclusive in the form, so it
// is shifted to the next midnight for the store's half-open range.
func parseDay(s string, shift time.Duration) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, badRequest("dates must look like 2026-01-31")
	}
	return t.Add(shift), nil
}

type badRequestError string

func (e badRequestError) Error() string { return string(e) }

func badRequest(msg string) error { return badRequestError(msg) }

type sessionRow struct {
	agenttrace.SessionSummary
	RepoLabel string
	Spun      bool
}

type sessionListData struct {
	Filter       listFilter
	Rows         []sessionRow
	NextURL      string
	FirstURL     string
	Paged        bool // this is not the first page
	CollectorURL string
	InitCommand  string
}

func (a *app) sessionList(w http.ResponseWriter, r *http.Request) {
	f, sf, err := parseListFilter(r.URL.Query())
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Bad filter", err.Error())
		return
	}
	pg, err := a.store.ListSessions(r.Context(), sf)
	if err != nil {
		a.fail(w, r, "list sessions", err)
		return
	}
	d := sessionListData{
		Filter:       f,
		Paged:        f.Cursor != "",
		FirstURL:     f.withCursor(""),
		CollectorURL: a.collectorURL,
		InitCommand:  "agent-trace-hook init --collector-url " + a.collectorURL + " --privacy-tier 2",
	}
	if pg.NextCursor != "" {
		d.NextURL = f.withCursor(pg.NextCursor)
	}
	for _, s := range pg.Sessions {
		d.Rows = append(d.Rows, sessionRow{SessionSummary: s, RepoLabel: repoLabel(s), Spun: isSpun(s)})
	}
	if r.URL.Query().Get("fragment") == "rows" {
		a.render(w, r, http.StatusOK, "sessions", "list", d)
		return
	}
	a.render(w, r, http.StatusOK, "sessions", "layout", page{Title: "Sessions", Nav: "sessions", Live: a.liveURL, Data: d})
}

// repoLabel shortens a normalised remote (github.com/owner/repo) to owner/repo and falls
// back to the working directory's name for repositories without a remote.
func repoLabel(s agenttrace.SessionSummary) string {
	if s.Repo != "" {
		if _, rest, ok := strings.Cut(s.Repo, "/"); ok && strings.Contains(s.Repo, ".") && strings.Contains(rest, "/") {
			return rest
		}
		return s.Repo
	}
	return basename(s.CWD)
}
