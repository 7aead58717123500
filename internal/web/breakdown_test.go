package web

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// The People and Repositories pages: their totals equal the Costs page's for the same
// range, each row links to exactly its sessions, and every column sorts.
func TestBreakdownPages(t *testing.T) {
	h, st := mustDashboard(t)
	// Two more people, one on another repository's feature branch.
	for i, who := range []string{"grace", "linus"} {
		evs := synthSession(t, "bd-"+who, time.Date(2026, 11, 20+i, 9, 0, 0, 0, time.UTC), event.TierDetails, "hi", 2+i, 0, true)
		for j := range evs {
			evs[j].User = who
			evs[j].Git = &event.GitState{Remote: "github.com/example/" + who, Branch: "feature/" + who}
		}
		mustIngest(t, st, evs)
		if err := st.CreateUser(t.Context(), agenttrace.User{Name: who, Team: "ops"}); err != nil {
			t.Fatal(err)
		}
	}
	const rng = "from=2026-11-01&to=2026-11-30"
	_, costs := mustGet(t, h, "/costs?"+rng)
	totals := map[string]string{}
	for _, div := range query(costs, "dl.totals div") {
		totals[text(first(t, div, "dt"))] = text(first(t, div, "dd"))
	}
	for _, path := range []string{"/people?" + rng, "/people?by=team&" + rng, "/repos?" + rng, "/repos?by=branch&" + rng} {
		t.Run(path, func(t *testing.T) {
			_, doc := mustGet(t, h, path)
			rows := query(doc, "table.breakdown tbody tr.group")
			if len(rows) == 0 {
				t.Fatal("no rows")
			}
			total := query(doc, "table.breakdown tfoot td")
			if got, want := text(total[0]), totals["Sessions"]; got != want {
				t.Errorf("total sessions %s, the Costs page says %s", got, want)
			}
			if got, want := text(total[6]), totals["Spend"]; got != want {
				t.Errorf("total cost %s, the Costs page says %s", got, want)
			}
			sum := 0
			for _, tr := range rows {
				n, _ := strconv.Atoi(text(query(tr, "td")[0]))
				sum += n
				_, list := mustGet(t, h, attr(first(t, tr, "th a"), "href"))
				if strings.Contains(path, "team") { // a team's row leads to its people
					people := 0
					for _, p := range query(list, "table.breakdown tbody tr.group") {
						k, _ := strconv.Atoi(text(query(p, "td")[0]))
						people += k
					}
					if people != n {
						t.Errorf("team %s: %d sessions, its people's rows add up to %d", text(tr), n, people)
					}
					continue
				}
				if got := len(query(list, "tr.session")); got != n && !strings.Contains(path, "branch") {
					t.Errorf("%s: the row says %d sessions, its link lists %d", text(tr), n, got)
				}
			}
			if strconv.Itoa(sum) != text(total[0]) {
				t.Errorf("rows add up to %d sessions, the total says %s", sum, text(total[0]))
			}
		})
	}

	_, asc := mustGet(t, h, "/repos?by=branch&sort=sessions&order=asc&"+rng)
	var counts []int
	for _, tr := range query(asc, "table.breakdown tbody tr.group") {
		n, _ := strconv.Atoi(text(query(tr, "td")[0]))
		counts = append(counts, n)
	}
	for i := 1; i < len(counts); i++ {
		if counts[i] < counts[i-1] {
			t.Errorf("sort=sessions&order=asc gives %v", counts)
		}
	}
	if len(counts) < 3 {
		t.Errorf("by branch: %d rows, want at least 3", len(counts))
	}
}

func TestPeopleByTeam(t *testing.T) {
	h, st := mustDashboard(t)
	for i, who := range []string{"grace", "linus"} {
		evs := synthSession(t, "team-"+who, time.Date(2026, 11, 20+i, 9, 0, 0, 0, time.UTC), event.TierDetails, "hi", 1, 0, true)
		for j := range evs {
			evs[j].User = who
		}
		mustIngest(t, st, evs)
		if err := st.CreateUser(t.Context(), agenttrace.User{Name: who, Team: "ops"}); err != nil {
			t.Fatal(err)
		}
	}
	_, doc := mustGet(t, h, "/people?by=team&from=2026-11-01&to=2026-11-30")
	teams := map[string]string{}
	for _, tr := range query(doc, "table.breakdown tbody tr.group") {
		teams[text(first(t, tr, "th"))] = text(query(tr, "td")[0])
	}
	if teams["ops"] != "2" || teams["(none)"] == "" {
		t.Errorf("teams %v, want ops with 2 sessions and the rest in no team", teams)
	}
	_, doc = mustGet(t, h, "/people?by=user&team=ops&from=2026-11-01&to=2026-11-30")
	var people []string
	for _, tr := range query(doc, "table.breakdown tbody tr.group") {
		people = append(people, text(first(t, tr, "th")))
	}
	if strings.Join(people, ",") != "grace,linus" && strings.Join(people, ",") != "linus,grace" {
		t.Errorf("team ops lists %v, want grace and linus", people)
	}
}

// A repository's page: its totals as the Repos page has them, its sessions, commits and
// pull requests; a person's page: their sessions and spend.
func TestRepoAndPersonPages(t *testing.T) {
	h, st := mustDashboard(t)
	const rng = "from=2026-11-01&to=2026-11-30"
	rows, err := st.Breakdown(t.Context(), agenttrace.BreakdownFilter{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), By: agenttrace.BreakdownByRepo})
	if err != nil || len(rows) == 0 {
		t.Fatalf("breakdown: %v %v", rows, err)
	}
	var repo agenttrace.BreakdownRow
	for _, r := range rows {
		if r.Repo == "github.com/example/demo" {
			repo = r
		}
	}
	_, doc := mustGet(t, h, "/repos/github.com/example/demo?"+rng)
	totals := map[string]string{}
	for _, div := range query(doc, "dl.totals div") {
		totals[text(first(t, div, "dt"))] = text(first(t, div, "dd"))
	}
	if totals["Sessions"] != strconv.Itoa(repo.Sessions) || totals["Commits"] != strconv.Itoa(repo.Commits) {
		t.Errorf("repo totals %v, the breakdown says %d sessions, %d commits", totals, repo.Sessions, repo.Commits)
	}
	if got := len(query(doc, "table.detail-sessions tr.session")); got != min(repo.Sessions, detailSessions) {
		t.Errorf("%d sessions listed, want %d", got, min(repo.Sessions, detailSessions))
	}
	if got := len(query(doc, ".outcomes a.badge.commit")); got != repo.Commits {
		t.Errorf("%d commit badges, want %d", got, repo.Commits)
	}
	if len(query(doc, "table.branches tbody tr")) == 0 || len(query(doc, "svg.chart")) == 0 {
		t.Error("no branches table or spend chart")
	}
	_, doc = mustGet(t, h, "/people/dev?"+rng)
	if got := len(query(doc, "table.detail-sessions tr.session")); got == 0 {
		t.Error("dev's page lists no sessions")
	}
	if got := text(first(t, doc, "h1")); got != "dev" {
		t.Errorf("person page heading %q", got)
	}
}

// A grouping with more rows than a page shows them a hundred at a time, in order, each
// row on exactly one page, with a totals row that still sums them all.
func TestBreakdownPaging(t *testing.T) {
	h, st := mustDashboard(t)
	const branches = 205
	var all []event.Event
	for i := range branches {
		evs := synthSession(t, fmt.Sprintf("pg-%03d", i), time.Date(2026, 11, 20, 9, i%60, 0, 0, time.UTC), event.TierDetails, "hi", 1, 0, false)
		for j := range evs {
			evs[j].Git = &event.GitState{Remote: "github.com/example/paged", Branch: fmt.Sprintf("b%03d", i)}
		}
		all = append(all, evs...)
	}
	mustIngest(t, st, all)
	const path = "/repos?by=branch&from=2026-11-20&to=2026-11-20&sort=sessions"
	seen := map[string]bool{}
	sessions := 0
	next, pages := path, 0
	var totals []string
	for next != "" {
		_, doc := mustGet(t, h, next)
		pages++
		for _, tr := range query(doc, "table.breakdown tbody tr.group") {
			k := attr(tr, "data-key")
			if seen[k] {
				t.Errorf("%s: row %q again", next, k)
			}
			seen[k] = true
			n, _ := strconv.Atoi(text(query(tr, "td")[0]))
			sessions += n
		}
		foot := []string{}
		for _, td := range query(doc, "table.breakdown tfoot td") {
			foot = append(foot, text(td))
		}
		if totals != nil && !slices.Equal(foot, totals) {
			t.Errorf("%s: totals %v, page 1 had %v", next, foot, totals)
		}
		totals, next = foot, ""
		for _, a := range query(doc, "nav.pager a") {
			if attr(a, "rel") == "next" {
				next = attr(a, "href")
			}
		}
	}
	if pages != 3 || len(seen) < branches {
		t.Errorf("%d pages showed %d rows; want 3 pages and the %d branches", pages, len(seen), branches)
	}
	if totals[0] != strconv.Itoa(sessions) {
		t.Errorf("total sessions %s, the rows of every page sum to %d", totals[0], sessions)
	}
}
