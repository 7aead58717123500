package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// detailData is a person's or a repository's page: their totals over the range, the
// daily spend trend, their sessions, and for a repository its branches, commits, pull
// requests and the files its commits changed most often.
type detailData struct {
	Kind, Name     string // "person" or "repository"
	From, To       string
	Total          agenttrace.BreakdownRow
	Chart          template.HTML
	HasSpend       bool
	Sessions       []sessionRow
	MoreSessions   string // the session list with this filter, when there are more
	Branches       []agenttrace.BreakdownRow
	Commits        []agenttrace.Commit
	PullRequests   []agenttrace.PullRequest
	Files          []fileCount
	RangeLinks     []rangeLink
	BackURL, Title string
}

type fileCount struct {
	Path    string
	Commits int
}

const detailSessions = 25

// personPage answers /people/{user}.
func (a *app) personPage(w http.ResponseWriter, r *http.Request) {
	a.detail(w, r, "person", r.PathValue("user"))
}

// repoPage answers /repos/{repo...} (a repository name holds slashes).
func (a *app) repoPage(w http.ResponseWriter, r *http.Request) {
	a.detail(w, r, "repository", r.PathValue("repo"))
}

func (a *app) detail(w http.ResponseWriter, r *http.Request, kind, name string) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from, to, err := parseDayRange(r.URL.Query(), today)
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Bad date", err.Error())
		return
	}
	end := to.AddDate(0, 0, 1)
	d := detailData{Kind: kind, Name: name, From: from.Format("2006-01-02"), To: to.Format("2006-01-02")}
	if err := a.fillDetail(r, &d, from, end); err != nil {
		a.fail(w, r, "load the "+kind, err)
		return
	}
	path := "/people/" + url.PathEscape(name)
	d.BackURL, d.Title = "/people", "People"
	if kind == "repository" {
		path, d.BackURL, d.Title = "/repos/"+name, "/repos", "Repositories"
	}
	d.RangeLinks = rangeLinks(path, today, d.From, d.To, url.Values{})
	a.render(w, r, http.StatusOK, "detail", "layout", page{Title: name, Nav: map[string]string{"person": "people", "repository": "repos"}[kind], Data: d})
}

// fillDetail reads what the page shows, through the store's read ports (so a token's
// read scope narrows it as everywhere else).
func (a *app) fillDetail(r *http.Request, d *detailData, from, end time.Time) error {
	ctx := r.Context()
	by, group := agenttrace.BreakdownByUser, agenttrace.GroupByUser
	f := agenttrace.SessionFilter{From: from, To: end, Desc: true, Limit: detailSessions}
	if d.Kind == "repository" {
		by, group, f.Repo = agenttrace.BreakdownByRepo, agenttrace.GroupByRepo, d.Name
	} else {
		f.User = d.Name
	}
	if err := a.detailTotals(ctx, d, from, end, by); err != nil {
		return err
	}
	daily, err := a.store.DailyCost(ctx, from, end, group)
	if err != nil {
		return err
	}
	mine := daily[:0:0]
	for _, day := range daily {
		if day.Key == d.Name {
			mine = append(mine, day)
		}
	}
	d.Chart, _ = costChart(mine, from, end, group)
	d.HasSpend = len(mine) > 0
	page, err := a.store.ListSessions(ctx, f)
	if err != nil {
		return err
	}
	for _, s := range page.Sessions {
		d.Sessions = append(d.Sessions, sessionRow{SessionSummary: s, RepoLabel: repoLabel(s), Spun: isSpun(s)})
	}
	if page.NextCursor != "" {
		v := url.Values{"from": {d.From}, "to": {d.To}}
		v.Set(map[bool]string{true: "repo", false: "user"}[d.Kind == "repository"], d.Name)
		d.MoreSessions = "/?" + v.Encode()
	}
	if d.Kind == "repository" {
		return a.repoGit(ctx, d, from, end)
	}
	return nil
}

// detailTotals fills the totals row and, for a repository, its branches, from the
// person's or repository's sessions alone.
func (a *app) detailTotals(ctx context.Context, d *detailData, from, end time.Time, by string) error {
	f := agenttrace.BreakdownFilter{From: from, To: end, By: by}
	if by == agenttrace.BreakdownByRepo {
		f.Repo = d.Name
	} else {
		f.User = d.Name
	}
	rows, err := a.store.Breakdown(ctx, f)
	if err != nil {
		return err
	}
	if len(rows) == 1 { // the filter leaves the one row, none without sessions
		d.Total = rows[0]
	}
	if by != agenttrace.BreakdownByRepo {
		return nil
	}
	f.By = agenttrace.BreakdownByBranch
	d.Branches, err = a.store.Breakdown(ctx, f)
	return err
}

// maxDetailCommits bounds the commits a repository page reads for its file counts.
const maxDetailCommits = 1000

// repoGit fills a repository's commits, pull requests and most changed files.
func (a *app) repoGit(ctx context.Context, d *detailData, from, end time.Time) error {
	f := agenttrace.CommitFilter{From: from, To: end, Repo: d.Name, Limit: 200}
	files := map[string]int{}
	var all []agenttrace.Commit
	for len(all) < maxDetailCommits {
		page, err := a.store.Commits(ctx, f)
		if err != nil {
			return err
		}
		all = append(all, page.Commits...)
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	for _, c := range all {
		for _, p := range c.Files {
			files[p]++
		}
	}
	d.Commits = all[:min(len(all), 20)]
	for p, n := range files {
		d.Files = append(d.Files, fileCount{Path: p, Commits: n})
	}
	sort.Slice(d.Files, func(i, j int) bool {
		if d.Files[i].Commits != d.Files[j].Commits {
			return d.Files[i].Commits > d.Files[j].Commits
		}
		return d.Files[i].Path < d.Files[j].Path
	})
	d.Files = d.Files[:min(len(d.Files), 15)]
	prs, err := a.store.PullRequests(ctx, agenttrace.CommitFilter{From: from, To: end, Repo: d.Name, Limit: 20})
	d.PullRequests = prs.PullRequests
	return err
}
