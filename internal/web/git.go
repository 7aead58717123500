package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

type gitData struct {
	Repo         string
	Commits      []agenttrace.Commit
	PullRequests []agenttrace.PullRequest
	NextURL      string
	Paged        bool
}

func (a *app) gitPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	repo := strings.TrimSpace(q.Get("repo"))
	cursor := q.Get("cursor")
	ctx := r.Context()
	commits, err := a.store.Commits(ctx, agenttrace.CommitFilter{Repo: repo, Cursor: cursor, Limit: 50})
	if err != nil {
		a.fail(w, r, "list commits", err)
		return
	}
	d := gitData{Repo: repo, Commits: commits.Commits, Paged: cursor != ""}
	if commits.NextCursor != "" {
		v := url.Values{"cursor": {commits.NextCursor}}
		if repo != "" {
			v.Set("repo", repo)
		}
		d.NextURL = "/git?" + v.Encode()
	}
	// Pull requests are few next to commits; the first page of them is shown beside
	// every page of commits.
	prs, err := a.store.PullRequests(ctx, agenttrace.CommitFilter{Repo: repo, Limit: 50})
	if err != nil {
		a.fail(w, r, "list pull requests", err)
		return
	}
	d.PullRequests = prs.PullRequests
	a.render(w, r, http.StatusOK, "git", "layout", page{Title: "Git", Nav: "git", Data: d})
}
