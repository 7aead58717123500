package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlite"
)

// Sessions recorded from Claude Code 2.1.332 (storetest's fixtures) and made up here.
const (
	commitID       = "02ffe567-4617-41ff-b977-3528b6d21881"
	commitPromptID = "6054bf7f-251e-4fe0-9023-89fdca143dab"
	subagentID     = "d04f3c58-1e16-4770-9cf3-d9f8ce8512ba"
	secretsID      = "1b99b927-2428-4aac-bc09-8a6ccc271b5d"
	prID           = "2e8f6bcb-7f98-4e1a-ad09-af2a1bccac55"
	prPromptID     = "bc51a26a-3231-4e07-9be4-6ec8f289c7f1"
	multiID        = "33528e40-6bde-4559-863c-1df9461005de"
	failedID       = "9c09aacd-42d8-41f2-8688-e1f97b442f6c"
	spunID         = "spun-0000-4000-8000-000000000001"
	tier1ID        = "tier1-000-4000-8000-000000000001"
)

const xssText = "<script>alert(1)</script> and <img src=x onerror=alert(1)>"

// mustDashboard is the dashboard over a real SQLite store holding every recorded session,
// the XSS session, a session that spun (30 calls, 10 failures, no commit) and a tier 1
// session.
func mustDashboard(tb testing.TB) (http.Handler, *sqlite.Store) {
	tb.Helper()
	st := mustFixtureStore(tb)
	mustIngest(tb, st, synthSession(tb, spunID, time.Date(2026, 11, 19, 10, 0, 0, 0, time.UTC), event.TierDetails, "make the flaky test pass", 30, 3, true))
	mustIngest(tb, st, synthSession(tb, tier1ID, time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC), event.TierMetadata, "secret plans", 1, 0, true))
	return mustHandler(tb, st), st
}

func mustEmptyStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return st
}

func mustHandler(tb testing.TB, store agenttrace.Store) http.Handler {
	tb.Helper()
	h, err := New(Options{Store: store, CollectorURL: "http://127.0.0.1:9999"})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return h
}

func rowIDs(doc *html.Node) []string {
	var ids []string
	for _, r := range query(doc, "tr.session") {
		ids = append(ids, attr(r, "data-session"))
	}
	return ids
}

func TestNewRequiresStore(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a store: got nil error")
	}
}

func TestSessionList(t *testing.T) {
	h, _ := mustDashboard(t)
	res, doc := mustGet(t, h, "/")
	if got, want := res.StatusCode, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	// Newest first.
	want := []string{xssSessionID, subagentID, secretsID, prID, multiID, failedID, commitID, spunID, tier1ID}
	if got := rowIDs(doc); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	commit := first(t, doc, "tr[data-session="+commitID+"]")
	if !hasClass(commit, "productive") || hasClass(commit, "spun") {
		t.Errorf("commit session classes = %q, want productive, not spun", attr(commit, "class"))
	}
	cells := map[string]string{}
	for _, td := range query(commit, "td") {
		cells[attr(td, "data-label")] = text(td)
	}
	wantCells := map[string]string{
		"Cost": "$0.0926", "Prompt": "Create hello.py and commit it", "Commits": "✔ 1", "Tool calls": "4",
		"Prompts": "1", "Errors": "0", "Lines": "+3 −1", "Repo": "example/demo main", "User": "dev devbox",
		"Tokens": "49k", "Status": "ended",
	}
	for k, v := range wantCells {
		if cells[k] != v {
			t.Errorf("commit row %s = %q, want %q", k, cells[k], v)
		}
	}
	if got := attr(first(t, commit, "time"), "datetime"); got != "2026-11-20T12:44:49Z" {
		t.Errorf("time datetime = %q, want RFC 3339 UTC", got)
	}
	if got, want := attr(first(t, commit, "a.row-link"), "href"), "/sessions/"+commitID; got != want {
		t.Errorf("row link = %q, want %q", got, want)
	}
	spun := first(t, doc, "tr[data-session="+spunID+"]")
	if !hasClass(spun, "spun") || len(query(spun, ".badge.spun")) != 1 {
		t.Error("a session with 30 calls, 10 errors and no commit is not marked spun")
	}
	if len(query(first(t, doc, "tr[data-session="+xssSessionID+"]"), ".status.active .pulse")) != 1 {
		t.Error("an active session has no live marker")
	}
	if len(query(commit, ".pulse")) != 0 {
		t.Error("an ended session has a live marker")
	}
	if got := text(first(t, doc, "tr[data-session="+tier1ID+"] td[data-label=Prompt]")); got != "not recorded at tier 1 (needs tier 2)" {
		t.Errorf("tier 1 prompt cell = %q, want a tier note", got)
	}
	if got, want := res.Header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
}

func TestSessionListFilters(t *testing.T) {
	h, _ := mustDashboard(t)
	tests := []struct {
		name, query string
		want        []string
	}{
		{"status", "status=active", []string{xssSessionID}},
		{"has commits", "commits=yes", []string{prID, multiID, commitID}},
		{"no commits", "commits=no&status=ended", []string{subagentID, secretsID, failedID, spunID, tier1ID}},
		{"text search", "q=flaky", []string{spunID}},
		{"repo", "repo=github.com/nobody/else", nil},
		{"date range", "from=2026-11-22&to=2026-11-23", []string{prID, multiID}},
		{"oldest first", "from=2026-11-18&to=2026-11-20&order=asc", []string{tier1ID, spunID, commitID}},
		{"by cost", "sort=cost&from=2026-11-20&to=2026-11-23", []string{multiID, commitID, prID, failedID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, doc := mustGet(t, h, "/?"+tt.query)
			if got := rowIDs(doc); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("rows = %v, want %v", got, tt.want)
			}
			if tt.want == nil && len(query(doc, ".empty")) == 0 {
				t.Error("no empty state when nothing matches")
			}
		})
	}
	for _, bad := range []string{"status=bogus", "from=yesterday", "sort=name", "commits=maybe"} {
		if res, _ := mustGet(t, h, "/?"+bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /?%s: status %d, want 400", bad, res.StatusCode)
		}
	}
}

func TestSessionListEmptyState(t *testing.T) {
	h := mustHandler(t, mustEmptyStore(t))
	_, doc := mustGet(t, h, "/")
	if got, want := text(first(t, doc, ".empty pre.command")), "agent-trace-hook init --collector-url http://127.0.0.1:9999 --privacy-tier 2"; got != want {
		t.Fatalf("init command = %q, want %q", got, want)
	}
}

func TestSessionListPagination(t *testing.T) {
	st := mustEmptyStore(t)
	var evs []event.Event
	for i := range 60 {
		evs = append(evs, synthSession(t, fmt.Sprintf("page-%02d", i), baseTime.Add(time.Duration(i)*time.Minute), 2, "hi", 0, 0, true)...)
	}
	mustIngest(t, st, evs)
	h := mustHandler(t, st)
	_, doc := mustGet(t, h, "/?q=hi")
	if got, want := len(rowIDs(doc)), sessionsPerPage; got != want {
		t.Fatalf("first page rows = %d, want %d", got, want)
	}
	next := attr(first(t, doc, "nav.pager a[rel=next]"), "href")
	if !strings.Contains(next, "q=hi") {
		t.Errorf("next link %q drops the filter", next)
	}
	_, doc = mustGet(t, h, next)
	rows := rowIDs(doc)
	if got, want := len(rows), 10; got != want {
		t.Fatalf("second page rows = %d, want %d", got, want)
	}
	if got, want := rows[0], "page-09"; got != want {
		t.Errorf("second page starts at %s, want %s", got, want)
	}
	if len(query(doc, "nav.pager a[rel=next]")) != 0 {
		t.Error("last page has a next link")
	}
}

var baseTime = time.Date(2026, 11, 10, 9, 30, 0, 0, time.UTC)

func TestSessionPage(t *testing.T) {
	h, _ := mustDashboard(t)
	res, doc := mustGet(t, h, "/sessions/"+commitID)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", res.StatusCode)
	}
	card := first(t, doc, "article.prompt#prompt-"+commitPromptID)
	if got, want := text(first(t, card, ".user-text")), "Create hello.py and commit it"; got != want {
		t.Errorf("prompt text = %q, want %q", got, want)
	}
	var tools []string
	for _, li := range query(card, "ol.calls li.call") {
		tools = append(tools, text(first(t, li, ".tool"))+":"+strings.TrimPrefix(attr(li, "class"), "call "))
	}
	if got, want := strings.Join(tools, ","), "Write:call-edit ok,Edit:call-edit ok,Read:call-read ok,Bash:call-bash ok"; got != want {
		t.Errorf("tool calls = %s, want %s", got, want)
	}
	edit := first(t, card, "li#call-toolu_0feabf38e14743dab70224ba")
	if got, want := text(first(t, edit, ".summary")), "/home/dev/src/demo/hello.py"; got != want {
		t.Errorf("edit summary = %q, want %q", got, want)
	}
	if got, want := text(first(t, edit, "pre.diff .dl.hunk")), "@@ -1,2 +1,2 @@"; got != want {
		t.Errorf("hunk header = %q, want %q", got, want)
	}
	if got, want := text(first(t, edit, "pre.diff .dl.del")), "- return 'hi'"; got != want {
		t.Errorf("removed line = %q, want %q", got, want)
	}
	if got, want := text(first(t, edit, "pre.diff .dl.add")), "+ return 'hello, world'"; got != want {
		t.Errorf("added line = %q, want %q", got, want)
	}
	// Highlighted as Python (from .py): "def" is a keyword, 'hi' a single-quoted string.
	if len(query(edit, "pre.diff .dl.ctx span.k")) == 0 || len(query(edit, "pre.diff .dl.del .s1")) == 0 {
		t.Error("diff lines are not syntax-highlighted as Python")
	}
	bash := first(t, card, "li#call-toolu_62091e55c7654b8e80ff25e4")
	if got, want := text(first(t, bash, "pre.shell")), "git add hello.py && git commit -m 'Add hello module'"; got != want {
		t.Errorf("command = %q, want %q", got, want)
	}
	if len(query(bash, "pre.shell span.s1")) == 0 {
		t.Error("the command is not highlighted as shell")
	}
	out := first(t, bash, "details.output")
	if _, open := attrOK(out, "open"); open {
		t.Error("output is expanded by default")
	}
	if !strings.Contains(text(out), "[main f5e602f] Add hello module") {
		t.Errorf("output = %q", text(out))
	}
	if got := text(first(t, card, "li#call-toolu_f39da645a0fb465db6ccd0c5 .summary")); got != "/home/dev/src/demo/hello.py" {
		t.Errorf("read summary = %q", got)
	}
	code := first(t, card, ".response .markdown pre.chroma")
	if got, want := attr(code, "data-lang"), "python"; got != want {
		t.Errorf("code block lang = %q, want %q", got, want)
	}
	if len(query(code, "span.k")) == 0 {
		t.Error("the response's code block is not highlighted")
	}
	if got := text(first(t, card, ".response .markdown p code")); got != "hello.py" {
		t.Errorf("inline code = %q", got)
	}
	if got := text(first(t, card, "footer.outcomes .badge.commit")); got != "f5e602f Add hello module" {
		t.Errorf("commit badge = %q", got)
	}
	totals := map[string]string{}
	for _, d := range query(doc, "section.session-head dl.totals div") {
		totals[text(first(t, d, "dt"))] = text(first(t, d, "dd"))
	}
	for k, v := range map[string]string{"Cost": "$0.0926", "Claude Code's estimate": "$0.0926", "Prompts": "1",
		"Tool calls": "4", "Lines": "+3 −1", "Commits": "1", "PRs": "0", "Duration": "11 ms"} {
		if totals[k] != v {
			t.Errorf("header %s = %q, want %q", k, totals[k], v)
		}
	}
	var tokens []string
	for _, td := range query(doc, "table.tokens td") {
		tokens = append(tokens, text(td))
	}
	if got, want := strings.Join(tokens, " "), "7,600 2,000 3,000 36,000 48,600"; got != want {
		t.Errorf("tokens = %q, want %q (input output cache-write cache-read total)", got, want)
	}
	head := text(first(t, doc, "section.session-head"))
	for _, want := range []string{"claude-opus-5-5", "tier 3", "example/demo", "dev@devbox"} {
		if !strings.Contains(head, want) {
			t.Errorf("header lacks %q: %s", want, head)
		}
	}
	if got := text(first(t, card, ".prompt-head .cost")); got != "$0.0926" {
		t.Errorf("prompt cost = %q", got)
	}
}

func TestSessionPageTierNotes(t *testing.T) {
	h, _ := mustDashboard(t)
	_, doc := mustGet(t, h, "/sessions/"+tier1ID)
	card := first(t, doc, "article.prompt")
	var notes []string
	for _, n := range query(card, ".tier-note") {
		notes = append(notes, text(n))
	}
	joined := strings.Join(notes, " | ")
	for _, want := range []string{"Prompt text not recorded at tier 1", "Command not recorded at tier 1", "Output not recorded at tier 1", "Response not recorded at tier 1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("tier notes %q lack %q", joined, want)
		}
	}
	if strings.Contains(text(doc), "secret plans") {
		t.Error("a tier 1 page shows prompt text")
	}
}

func TestSessionPageSubagentAndPR(t *testing.T) {
	h, _ := mustDashboard(t)
	_, doc := mustGet(t, h, "/sessions/"+subagentID)
	agent := first(t, doc, "li#call-toolu_26b96c7a68324032adfa148b")
	child := first(t, agent, "ol.calls.sub li#call-toolu_1dae823a53c5436296c341a4")
	if got := text(first(t, child, "pre.shell")); got != "wc -l README.md" {
		t.Errorf("subagent command = %q", got)
	}
	if got := len(query(doc, "article.prompt")); got != 2 {
		t.Errorf("prompt cards = %d, want 2", got)
	}
	// The second user turn is Claude Code's <task-notification>: a system note, not prompt #2.
	note := first(t, doc, "article.prompt.note")
	if got, want := attr(note, "data-origin"), "task-notification"; got != want {
		t.Errorf("note origin = %q, want %q", got, want)
	}
	if got, want := text(first(t, note, ".pnum")), "background task finished"; got != want {
		t.Errorf("note label = %q, want %q", got, want)
	}
	var nums []string
	for _, n := range query(doc, "article.prompt .pnum") {
		nums = append(nums, text(n))
	}
	if got, want := strings.Join(nums, ","), "#1,background task finished"; got != want {
		t.Errorf("prompt labels = %q, want %q", got, want)
	}

	_, doc = mustGet(t, h, "/sessions/"+prID)
	pr := first(t, doc, "article.prompt footer.outcomes a.badge.pr")
	if got, want := attr(pr, "href"), "https://github.com/example/demo/pull/42"; got != want {
		t.Errorf("PR href = %q, want %q", got, want)
	}
	if got, want := text(pr), "PR example/demo#42"; got != want {
		t.Errorf("PR badge = %q, want %q", got, want)
	}
	if head := text(first(t, doc, ".session-head .meta")); !strings.Contains(head, "feature/greeting") {
		t.Errorf("header lacks the second branch: %s", head)
	}
}

func TestSessionPageFailedCall(t *testing.T) {
	h, _ := mustDashboard(t)
	_, doc := mustGet(t, h, "/sessions/"+multiID)
	failed := query(doc, "li.call.error")
	if len(failed) != 1 {
		t.Fatalf("failed calls = %d, want 1", len(failed))
	}
	if got := text(first(t, failed[0], "pre.tool-error")); got != "Exit code 3 1 failed" {
		t.Errorf("error = %q", got)
	}
	if got := text(first(t, failed[0], ".st")); got != "✖ error" {
		t.Errorf("status = %q", got)
	}
}

func TestSessionNotFound(t *testing.T) {
	h := mustHandler(t, mustEmptyStore(t))
	for _, p := range []string{"/sessions/nope", "/no/such/page"} {
		if res, _ := mustGet(t, h, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestXSSRendersAsText(t *testing.T) {
	h, _ := mustDashboard(t)
	for _, p := range []string{"/", "/sessions/" + xssSessionID, "/costs?from=2026-11-18&to=2030-01-01&by=session", "/git"} {
		t.Run(p, func(t *testing.T) {
			_, doc := mustGet(t, h, p)
			walk(doc, func(n *html.Node) {
				if n.Type != html.ElementNode {
					return
				}
				if n.Data == "script" && attr(n, "src") == "" {
					t.Errorf("inline <script> element: %q", text(n))
				}
				if n.Data == "img" {
					t.Errorf("an <img> element was injected")
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") {
						t.Errorf("<%s %s=%q>: event handler attribute", n.Data, a.Key, a.Val)
					}
					if (a.Key == "href" || a.Key == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
						t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
					}
				}
			})
		})
	}
	_, doc := mustGet(t, h, "/sessions/"+xssSessionID)
	if got := text(first(t, doc, "article.prompt .user-text")); got != xssText {
		t.Errorf("prompt text = %q, want it shown verbatim: %q", got, xssText)
	}
	if got := text(first(t, doc, "li#call-toolu_xss_bash pre.shell")); got != `echo '<script>alert(2)</script>'` {
		t.Errorf("command = %q", got)
	}
	if got := text(first(t, doc, "li#call-toolu_xss_bash details.output pre")); got != "<script>alert(4)</script><img src=x onerror=alert(5)>" {
		t.Errorf("output = %q", got)
	}
	if got := text(first(t, doc, "li#call-toolu_xss_edit pre.diff .dl.add")); got != "+<script>alert(6)</script>" {
		t.Errorf("diff line = %q", got)
	}
	if got := text(first(t, doc, ".markdown pre.chroma")); got != "<script>alert(10)</script>" {
		t.Errorf("fenced code = %q", got)
	}
	_, doc = mustGet(t, h, "/")
	if got := text(first(t, doc, "tr[data-session="+xssSessionID+"] td[data-label=Prompt]")); got != xssText {
		t.Errorf("list prompt = %q, want %q", got, xssText)
	}
}

func TestSecurityHeadersAndNoInlineStyle(t *testing.T) {
	h, _ := mustDashboard(t)
	for _, p := range []string{"/", "/sessions/" + commitID, "/costs?from=2026-11-18&to=2026-11-25", "/git", "/nope"} {
		res, doc := mustGet(t, h, p)
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: CSP = %q", p, csp)
		}
		walk(doc, func(n *html.Node) {
			if n.Type != html.ElementNode {
				return
			}
			if n.Data == "style" {
				t.Errorf("GET %s: <style> element (blocked by the CSP)", p)
			}
			if _, ok := attrOK(n, "style"); ok {
				t.Errorf("GET %s: <%s style=...> (blocked by the CSP)", p, n.Data)
			}
		})
	}
}

func TestFragments(t *testing.T) {
	h, _ := mustDashboard(t)
	_, doc := mustGet(t, h, "/?fragment=rows&status=active")
	list := first(t, doc, "#session-list")
	if got := len(query(list, "tr.session")); got != 1 {
		t.Errorf("rows fragment has %d rows, want 1 (filters kept)", got)
	}
	if len(query(doc, "header.top")) != 0 {
		t.Error("rows fragment includes the page layout")
	}
	if got, want := attr(list, "data-fragment"), "/?fragment=rows&status=active"; got != want {
		t.Errorf("data-fragment = %q, want %q", got, want)
	}
	_, doc = mustGet(t, h, "/sessions/"+commitID+"?fragment=body")
	body := first(t, doc, "#session-body")
	if got := len(query(body, "article.prompt")); got != 1 {
		t.Errorf("body fragment has %d prompts, want 1", got)
	}
	if len(query(doc, "header.top")) != 0 {
		t.Error("body fragment includes the page layout")
	}
}

func TestCostsPage(t *testing.T) {
	h, _ := mustDashboard(t)
	_, doc := mustGet(t, h, "/costs?from=2026-11-18&to=2026-11-25&by=session")
	bars := query(doc, "svg.chart rect.bar")
	if got, want := len(bars), 6; got != want { // six priced sessions on six days
		t.Fatalf("bars = %d, want %d", got, want)
	}
	legend := query(doc, "ul.legend li")
	if got, want := len(legend), 6; got != want {
		t.Errorf("legend items = %d, want %d", got, want)
	}
	if got, want := attr(first(t, legend[0], "a"), "href"), "/sessions/"+multiID; got != want {
		t.Errorf("biggest series links to %q, want %q", got, want)
	}
	totals := map[string]string{}
	for _, d := range query(doc, "dl.totals div") {
		totals[text(first(t, d, "dt"))] = text(first(t, d, "dd"))
	}
	// 0.0926 + 0.01814 + 0.0956 + 0.087 + 0.02384 + 0.07026 over 3 commits.
	for k, v := range map[string]string{"Spend": "$0.3874", "Cost per commit": "$0.1291", "Commits": "3", "Per day": "$0.0484"} {
		if totals[k] != v {
			t.Errorf("total %s = %q, want %q", k, totals[k], v)
		}
	}
	top := query(doc, "table.sessions tbody tr")
	if len(top) != 6 {
		t.Fatalf("top sessions = %d, want 6", len(top))
	}
	if got := text(first(t, top[0], "td[data-label=Cost]")); got != "$0.0956" {
		t.Errorf("top session cost = %q, want $0.0956", got)
	}
	if cells := query(top[0], "td"); text(cells[len(cells)-1]) != "$0.0956" {
		got := text(cells[len(cells)-1])
		t.Errorf("top session cost per commit = %q, want $0.0956 (one commit)", got)
	}
	toggle := first(t, doc, ".toggle a.chip")
	if got := attr(toggle, "href"); !strings.Contains(got, "by=model") {
		t.Errorf("toggle href = %q, want by=model", got)
	}
	_, doc = mustGet(t, h, "/costs?from=2026-11-18&to=2026-11-25&by=model")
	if got := text(first(t, doc, "ul.legend li")); !strings.HasPrefix(got, "claude-opus-5-5") {
		t.Errorf("by model legend = %q", got)
	}
	// An empty range says so instead of drawing an empty chart.
	_, doc = mustGet(t, h, "/costs?from=2020-01-01&to=2020-01-31")
	if len(query(doc, "svg.chart")) != 0 {
		t.Error("a range without spend draws a chart")
	}
	if res, _ := mustGet(t, h, "/costs?from=yesterday"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad date: status %d, want 400", res.StatusCode)
	}
}

func TestGitPage(t *testing.T) {
	h, _ := mustDashboard(t)
	_, doc := mustGet(t, h, "/git")
	tables := query(doc, "table.git")
	if len(tables) != 2 {
		t.Fatalf("tables = %d, want 2 (PRs, commits)", len(tables))
	}
	rows := query(tables[1], "tbody tr")
	if len(rows) != 3 {
		t.Fatalf("commit rows = %d, want 3", len(rows))
	}
	last := rows[len(rows)-1] // oldest: the commit fixture
	if got := text(first(t, last, "td[data-label=SHA]")); got != "f5e602f" {
		t.Errorf("short SHA = %q", got)
	}
	if got := text(first(t, last, "td[data-label=Message]")); got != "Add hello module" {
		t.Errorf("message = %q", got)
	}
	links := query(last, "a")
	if got, want := attr(links[len(links)-1], "href"), "/sessions/"+commitID+"#prompt-"+commitPromptID; got != want {
		t.Errorf("commit link = %q, want %q", got, want)
	}
	prRow := first(t, tables[0], "tbody tr")
	if got, want := attr(first(t, prRow, "a.badge.pr"), "href"), "https://github.com/example/demo/pull/42"; got != want {
		t.Errorf("PR link = %q, want %q", got, want)
	}
	prLinks := query(prRow, "a")
	if got, want := attr(prLinks[len(prLinks)-1], "href"), "/sessions/"+prID+"#prompt-"+prPromptID; got != want {
		t.Errorf("PR session link = %q, want %q", got, want)
	}
}

func TestStaticAssets(t *testing.T) {
	h := mustHandler(t, mustEmptyStore(t))
	_, doc := mustGet(t, h, "/")
	css := attr(first(t, doc, "link[rel=stylesheet]"), "href")
	js := attr(first(t, doc, "script"), "src")
	for _, tt := range []struct{ url, typ string }{{css, "text/css; charset=utf-8"}, {js, "text/javascript; charset=utf-8"}} {
		res, _ := mustGet(t, h, tt.url)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", tt.url, res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != tt.typ {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.url, got, tt.typ)
		}
		if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
			t.Errorf("GET %s: Cache-Control %q, want immutable", tt.url, got)
		}
	}
	if res, _ := mustGet(t, h, "/static/0000/nope.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: status %d, want 404", res.StatusCode)
	}
}

func TestAuthenticate(t *testing.T) {
	h, err := New(Options{Store: mustEmptyStore(t), Authenticate: func(r *http.Request) (context.Context, error) {
		if r.Header.Get("Authorization") == "Bearer good" {
			return r.Context(), nil
		}
		return nil, errors.New("missing token")
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := mustGet(t, h, "/"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", res.StatusCode)
	}
	as, _ := loadAssets()
	u, _ := as.url("app.css")
	if res, _ := mustGet(t, h, u); res.StatusCode != http.StatusOK {
		t.Errorf("static asset without a token: status %d, want 200", res.StatusCode)
	}
}

func TestFormatting(t *testing.T) {
	costs := []struct {
		in   float64
		want string
	}{{0, "$0.00"}, {0.0926, "$0.0926"}, {12.4, "$12.40"}, {1234.5, "$1,234.50"}, {0.00001, "<$0.0001"}, {1, "$1.00"}}
	for _, tt := range costs {
		if got := formatCost(tt.in); got != tt.want {
			t.Errorf("formatCost(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	tokens := []struct {
		in   int64
		want string
	}{{999, "999"}, {1234, "1.2k"}, {45_678, "46k"}, {1_234_567, "1.23M"}, {12_345_678, "12.3M"}}
	for _, tt := range tokens {
		if got := formatTokens(tt.in); got != tt.want {
			t.Errorf("formatTokens(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
	durs := []struct {
		in   int64
		want string
	}{{0, "—"}, {850, "850 ms"}, {12_300, "12.3 s"}, {245_000, "4m 05s"}, {3_720_000, "1h 02m"}}
	for _, tt := range durs {
		if got := formatDuration(tt.in); got != tt.want {
			t.Errorf("formatDuration(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestChartScale(t *testing.T) {
	tests := []struct {
		max       float64
		top       float64
		ticks     int
		axisLabel string // the label of the first tick above zero
	}{
		{0.0956, 0.1, 5, "$0.02"},
		{0.15, 0.2, 4, "$0.05"},
		{3.2, 5, 5, "$1"},
		{12.4, 20, 4, "$5"},
		{0, 1, 4, "$0.25"},
	}
	for _, tt := range tests {
		top, ticks := niceScale(tt.max)
		if top != tt.top || ticks != tt.ticks {
			t.Errorf("niceScale(%v) = %v, %d; want %v, %d", tt.max, top, ticks, tt.top, tt.ticks)
		}
		if got := axisCost(top / float64(ticks)); got != tt.axisLabel {
			t.Errorf("axis label for %v = %q, want %q", tt.max, got, tt.axisLabel)
		}
	}
}

func TestHugeBlocksAreNotHighlighted(t *testing.T) {
	var lines []string
	for i := range 5000 {
		lines = append(lines, fmt.Sprintf("+x%d = '<b>%d</b>'", i, i))
	}
	out := string(renderDiffUncached("big.py", []agenttrace.DiffHunk{{NewStart: 1, NewLines: len(lines), Lines: lines}}))
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(query(doc, ".dl.add")); got != 5000 {
		t.Errorf("added lines = %d, want 5000", got)
	}
	if got := len(query(doc, ".dl.add span.s1")); got != 0 {
		t.Errorf("%d highlighted strings in a block over the cap", got)
	}
	if got := text(query(doc, ".dl.add")[4999]); got != "+x4999 = '<b>4999</b>'" {
		t.Errorf("last line = %q", got)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", maxOutputBytes) // two bytes a rune
	got := clip(long)
	if len(got) > maxOutputBytes || !utf8.ValidString(got) {
		t.Errorf("clip: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if got := clip("short"); got != "short" {
		t.Errorf("clip(short) = %q", got)
	}
}
