// Package forge finds pull and merge request URLs in free text (Bash output, `gh pr
// create` results) with the standard library only.
//
// A match is a fact the text states, not a guess: only URLs whose path has the exact
// shape of a GitHub pull request (/owner/repo/pull/N, on github.com or an Enterprise
// host), a GitLab merge request (/group/.../repo/-/merge_requests/N) or a Bitbucket pull
// request (/owner/repo/pull-requests/N, or Bitbucket Server's
// /projects/KEY/repos/repo/pull-requests/N) count. Issue URLs and "open a PR" links
// (/pull/new/branch) do not.
package forge

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/agent-trace/agent-trace/event"
)

// Forge names as stored in event.PullRequest.Forge.
const (
	GitHub    = "github"
	GitLab    = "gitlab"
	Bitbucket = "bitbucket"
)

// Each pattern captures: 1 scheme+host prefix, 2 owner, 3 repo, 4 number. The trailing \b
// rejects "/pull/12abc" while letting "12)." or "12/files" end the number, so trailing
// punctuation and sub-pages are cut from the canonical URL.
const (
	host = `((?i:https?)://[A-Za-z0-9.-]+(?::[0-9]+)?)`
	seg  = `[A-Za-z0-9_.-]+`
)

type pattern struct {
	forge string
	re    *regexp.Regexp
}

// compiledPatterns is compiled on the first Find that needs it, not at start-up: the
// hook's capture path links this package and runs for a few milliseconds, and most
// payloads hold no URL at all.
var compiledPatterns = sync.OnceValue(func() []pattern {
	return []pattern{
		{Bitbucket, regexp.MustCompile(host + `((?:/` + seg + `)*?/(?:projects|users)/` + seg + `)/repos/(` + seg + `)/pull-requests/([0-9]+)\b`)},
		{Bitbucket, regexp.MustCompile(host + `/(` + seg + `)/(` + seg + `)/pull-requests/([0-9]+)\b`)},
		{GitLab, regexp.MustCompile(host + `/(` + seg + `(?:/` + seg + `)*)/(` + seg + `)/-/merge_requests/([0-9]+)\b`)},
		{GitHub, regexp.MustCompile(host + `/(` + seg + `)/(` + seg + `)/pull/([0-9]+)\b`)},
	}
})

type found struct {
	at int
	pr event.PullRequest
}

// Find returns the pull and merge requests whose URLs appear in text, deduplicated by
// canonical URL, in order of first appearance.
func Find(text string) []event.PullRequest {
	// Most tool output holds no PR URL at all; skip the regexps for it.
	if !strings.Contains(text, "://") || !(strings.Contains(text, "/pull") || strings.Contains(text, "/merge_requests/")) {
		return nil
	}
	var all []found
	for _, p := range compiledPatterns() {
		for _, m := range p.re.FindAllStringSubmatchIndex(text, -1) {
			pr, ok := build(p.forge, text, m)
			if ok {
				all = append(all, found{at: m[0], pr: pr})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at < all[j].at })

	var out []event.PullRequest
	seen := map[string]bool{}
	starts := map[int]bool{}
	for _, f := range all {
		// Patterns are tried most specific first, so a URL already claimed at this
		// position (Bitbucket Server's /projects/K/repos/r) is not reread by a looser one.
		if starts[f.at] || seen[f.pr.URL] {
			continue
		}
		starts[f.at] = true
		seen[f.pr.URL] = true
		out = append(out, f.pr)
	}
	return out
}

func build(forge, text string, m []int) (event.PullRequest, bool) {
	prefix := text[m[2]:m[3]]
	owner := text[m[4]:m[5]]
	repo := text[m[6]:m[7]]
	num, err := strconv.Atoi(text[m[8]:m[9]])
	if err != nil || num <= 0 {
		return event.PullRequest{}, false
	}
	if forge == Bitbucket {
		// Server form: the owner group holds "[/context]/projects/KEY"; keep only KEY.
		if i := strings.LastIndex(owner, "/projects/"); i >= 0 {
			owner = owner[i+len("/projects/"):]
		} else if i := strings.LastIndex(owner, "/users/"); i >= 0 {
			owner = owner[i+len("/users/"):]
		}
	}
	if owner == "" || repo == "" || strings.Trim(repo, ".") == "" {
		return event.PullRequest{}, false
	}
	scheme, hostport, _ := strings.Cut(prefix, "://")
	url := strings.ToLower(scheme) + "://" + strings.ToLower(hostport) + text[m[3]:m[1]]
	return event.PullRequest{URL: url, Forge: forge, Owner: owner, Repo: repo, Number: num}, true
}
