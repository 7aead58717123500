package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/agent-trace/agent-trace/server"
)

func mustHandler(tb testing.TB, store server.Store) http.Handler {
	tb.Helper()
	h, err := New(Options{Store: store, CollectorURL: "http://127.0.0.1:9999"})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return h
}

func TestNewRequiresStore(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a store: got nil error")
	}
}

func TestSessionList(t *testing.T) {
	h := mustHandler(t, newMemStore(allSessions()...))
	res, doc := mustGet(t, h, "/")
	if got, want := res.StatusCode, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	rows := query(doc, "tr.session")
	var ids []string
	for _, r := range rows {
		ids = append(ids, attr(r, "data-session"))
	}
	// Newest first.
	if got, want := strings.Join(ids, ","), "xss-session,02ffe567-4617-41ff-b977-3528b6d21881,tier1-session,spun-session,subagent-session"; got != want {
		t.Fatalf("rows = %s, want %s", got, want)
	}
	commit := first(t, doc, "tr[data-session=02ffe567-4617-41ff-b977-3528b6d21881]")
	if !hasClass(commit, "productive") {
		t.Error("a session with commits is not marked productive")
	}
	if got, want := text(first(t, commit, "td[data-label=Cost]")), "$0.0926"; got != want {
		t.Errorf("cost = %q, want %q", got, want)
	}
	if got, want := text(first(t, commit, "td[data-label=Prompt]")), "Create hello.py and commit it"; got != want {
		t.Errorf("first prompt = %q, want %q", got, want)
	}
	if got := attr(first(t, commit, "time"), "datetime"); got != "2026-11-20T09:30:00Z" {
		t.Errorf("time datetime = %q, want RFC 3339 UTC", got)
	}
	if got, want := attr(first(t, commit, "a.row-link"), "href"), "/sessions/02ffe567-4617-41ff-b977-3528b6d21881"; got != want {
		t.Errorf("row link = %q, want %q", got, want)
	}
	spun := first(t, doc, "tr[data-session=spun-session]")
	if !hasClass(spun, "spun") || len(query(spun, ".badge.spun")) != 1 {
		t.Error("a session with 30 calls, 10 errors and no commit is not marked spun")
	}
	if got, want := text(first(t, spun, "td[data-label=Cost]")), "$12.40"; got != want {
		t.Errorf("cost = %q, want %q", got, want)
	}
	if hasClass(commit, "spun") {
		t.Error("a session with a commit is marked spun")
	}
	if len(query(first(t, doc, "tr[data-session=xss-session]"), ".status.active .pulse")) != 1 {
		t.Error("an active session has no live marker")
	}
	tier1 := first(t, doc, "tr[data-session=tier1-session] td[data-label=Prompt]")
	if got := text(tier1); !strings.Contains(got, "not recorded at tier 1") {
		t.Errorf("tier 1 prompt cell = %q, want a tier note", got)
	}
	if got, want := res.Header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
}

func TestSessionListFilters(t *testing.T) {
	h := mustHandler(t, newMemStore(allSessions()...))
	tests := []struct {
		name, query string
		want        []string
	}{
		{"status", "status=active", []string{"xss-session"}},
		{"has commits", "commits=yes", []string{"02ffe567-4617-41ff-b977-3528b6d21881"}},
		{"text search", "q=flaky", []string{"spun-session"}},
		{"repo", "repo=github.com/example/private", []string{"tier1-session"}},
		{"date range", "from=2026-11-20&to=2026-11-20", []string{"xss-session", "02ffe567-4617-41ff-b977-3528b6d21881", "tier1-session", "spun-session", "subagent-session"}},
		{"before range", "to=2026-11-19", nil},
		{"sort by cost", "sort=cost", []string{"spun-session", "xss-session", "02ffe567-4617-41ff-b977-3528b6d21881"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, doc := mustGet(t, h, "/?"+tt.query)
			var got []string
			for _, r := range query(doc, "tr.session") {
				got = append(got, attr(r, "data-session"))
			}
			if len(got) > len(tt.want) {
				got = got[:len(tt.want)] // sort tests check the head only
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
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
	h := mustHandler(t, newMemStore())
	_, doc := mustGet(t, h, "/")
	if got, want := text(first(t, doc, ".empty pre.command")), "agent-trace-hook init --collector-url http://127.0.0.1:9999 --privacy-tier 2"; got != want {
		t.Fatalf("init command = %q, want %q", got, want)
	}
}

func TestSessionListPagination(t *testing.T) {
	var ss []*server.Session
	for i := range 60 {
		ss = append(ss, &server.Session{SessionSummary: server.SessionSummary{
			ID: fmt.Sprintf("s%02d", i), StartedAt: baseTime.Add(time.Duration(i) * time.Minute), Status: server.StatusEnded, Tier: 2,
		}})
	}
	h := mustHandler(t, newMemStore(ss...))
	_, doc := mustGet(t, h, "/?repo=")
	if got, want := len(query(doc, "tr.session")), sessionsPerPage; got != want {
		t.Fatalf("first page rows = %d, want %d", got, want)
	}
	next := attr(first(t, doc, "nav.pager a[rel=next]"), "href")
	_, doc = mustGet(t, h, next)
	rows := query(doc, "tr.session")
	if got, want := len(rows), 10; got != want {
		t.Fatalf("second page rows = %d, want %d", got, want)
	}
	if got, want := attr(rows[0], "data-session"), "s09"; got != want {
		t.Errorf("second page starts at %s, want %s", got, want)
	}
	if len(query(doc, "nav.pager a[rel=next]")) != 0 {
		t.Error("last page has a next link")
	}
}

func TestSessionPage(t *testing.T) {
	h := mustHandler(t, newMemStore(allSessions()...))
	res, doc := mustGet(t, h, "/sessions/02ffe567-4617-41ff-b977-3528b6d21881")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", res.StatusCode)
	}
	card := first(t, doc, "article.prompt#prompt-6054bf7f-251e-4fe0-9023-89fdca143dab")
	if got, want := text(first(t, card, ".user-text")), "Create hello.py and commit it"; got != want {
		t.Errorf("prompt text = %q, want %q", got, want)
	}
	var tools []string
	for _, li := range query(card, "ol.calls li.call") {
		tools = append(tools, text(first(t, li, ".tool")))
	}
	if got, want := strings.Join(tools, ","), "Write,Edit,Read,Bash"; got != want {
		t.Errorf("tool calls = %s, want %s", got, want)
	}
	edit := first(t, card, "li#call-toolu_edit")
	if got, want := text(first(t, edit, "pre.diff .dl.del")), "- return 'hi'"; got != want {
		t.Errorf("removed line = %q, want %q", got, want)
	}
	if got, want := text(first(t, edit, "pre.diff .dl.add")), "+ return 'hello, world'"; got != want {
		t.Errorf("added line = %q, want %q", got, want)
	}
	// Python highlighting: "def" is a keyword span and the string a string span.
	if len(query(edit, "pre.diff .dl.ctx span.k")) == 0 || len(query(edit, "pre.diff .dl.add .s1")) == 0 {
		t.Error("diff lines are not syntax-highlighted as Python")
	}
	bash := first(t, card, "li#call-toolu_bash")
	if got, want := text(first(t, bash, "pre.shell")), "git add hello.py && git commit -m 'Add hello module'"; got != want {
		t.Errorf("command = %q, want %q", got, want)
	}
	if len(query(bash, "pre.shell span")) == 0 {
		t.Error("the command is not highlighted")
	}
	out := first(t, bash, "details.output")
	if _, open := attrOK(out, "open"); open {
		t.Error("output is expanded by default")
	}
	if !strings.Contains(text(out), "[main f5e602f] Add hello module") {
		t.Errorf("output = %q", text(out))
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
	if got := text(first(t, card, "footer.outcomes .badge.commit")); !strings.HasPrefix(got, "f5e602f Add hello module") {
		t.Errorf("commit badge = %q", got)
	}
	head := text(first(t, doc, "section.session-head"))
	for _, want := range []string{"$0.0926", "$0.0931", "50.0 s", "claude-opus-5-5", "20,000", "5,000", "Claude Code 2.1.332"} {
		if !strings.Contains(head, want) {
			t.Errorf("header lacks %q: %s", want, head)
		}
	}
}

func TestSessionPageTierNotes(t *testing.T) {
	h := mustHandler(t, newMemStore(allSessions()...))
	_, doc := mustGet(t, h, "/sessions/tier1-session")
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
}

func TestSessionPageSubagentAndPR(t *testing.T) {
	h := mustHandler(t, newMemStore(allSessions()...))
	_, doc := mustGet(t, h, "/sessions/subagent-session")
	agent := first(t, doc, "li#call-toolu_agent")
	child := first(t, agent, "ol.calls.sub li#call-toolu_child")
	if got := text(first(t, child, "pre.shell")); got != "ls | wc -l" {
		t.Errorf("subagent command = %q", got)
	}
	pr := first(t, doc, "article.prompt a.badge.pr")
	if got, want := attr(pr, "href"), "https://github.com/example/demo/pull/7"; got != want {
		t.Errorf("PR href = %q, want %q", got, want)
	}
}

func TestSessionNotFound(t *testing.T) {
	h := mustHandler(t, newMemStore())
	for _, p := range []string{"/sessions/nope", "/no/such/page"} {
		if res, _ := mustGet(t, h, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestXSSRendersAsText(t *testing.T) {
	h := mustHandler(t, newMemStore(allSessions()...))
	for _, p := range []string{"/", "/sessions/xss-session", "/costs?from=2026-11-01&to=2026-11-30&by=session", "/git"} {
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
	_, doc := mustGet(t, h, "/sessions/xss-session")
	if got := text(first(t, doc, "article.prompt .user-text")); got != xssText {
		t.Errorf("prompt text = %q, want it shown verbatim: %q", got, xssText)
	}
	md := text(first(t, doc, "article.prompt .markdown"))
	if !strings.Contains(md, "<script>alert(8)</script>") {
		t.Errorf("fenced code lost its text: %q", md)
	}
	if got := text(first(t, doc, "li#call-toolu_x1 pre.shell")); got != `echo "<script>alert(9)</script>"` {
		t.Errorf("command = %q", got)
	}
	_, doc = mustGet(t, h, "/")
	if got := text(first(t, doc, "tr[data-session=xss-session] td[data-label=Prompt]")); got != xssText {
		t.Errorf("list prompt = %q, want %q", got, xssText)
	}
}

func TestSecurityHeadersAndNoInlineStyle(t *testing.T) {
	h := mustHandler(t, newMemStore(allSessions()...))
	for _, p := range []string{"/", "/sessions/02ffe567-4617-41ff-b977-3528b6d21881", "/costs?from=2026-11-01&to=2026-11-30", "/git", "/nope"} {
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
	h := mustHandler(t, newMemStore(allSessions()...))
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
	_, doc = mustGet(t, h, "/sessions/02ffe567-4617-41ff-b977-3528b6d21881?fragment=body")
	body := first(t, doc, "#session-body")
	if got := len(query(body, "article.prompt")); got != 1 {
		t.Errorf("body fragment has %d prompts, want 1", got)
	}
	if len(query(doc, "header.top")) != 0 {
		t.Error("body fragment includes the page layout")
	}
}

func TestCostsPage(t *testing.T) {
	h := mustHandler(t, newMemStore(allSessions()...))
	_, doc := mustGet(t, h, "/costs?from=2026-11-14&to=2026-11-20&by=session")
	bars := query(doc, "svg.chart rect.bar")
	if len(bars) == 0 {
		t.Fatal("no bars in the chart")
	}
	legend := query(doc, "ul.legend li")
	if got, want := len(legend), 3; got != want { // spun, xss, commit have a cost
		t.Errorf("legend items = %d, want %d", got, want)
	}
	if got, want := attr(first(t, legend[0], "a"), "href"), "/sessions/spun-session"; got != want {
		t.Errorf("biggest series links to %q, want %q", got, want)
	}
	totals := text(first(t, doc, "dl.totals"))
	for _, want := range []string{"$12.99"} { // 12.40 + 0.50 + 0.0926; one commit, so per commit too
		if !strings.Contains(totals, want) {
			t.Errorf("totals lack %q: %s", want, totals)
		}
	}
	top := query(doc, "table.sessions tbody tr")
	if len(top) != 3 {
		t.Fatalf("top sessions = %d, want 3", len(top))
	}
	if got := text(first(t, top[0], "td[data-label=Cost]")); got != "$12.40" {
		t.Errorf("top session cost = %q, want $12.40", got)
	}
	toggle := first(t, doc, ".toggle a.chip")
	if got := attr(toggle, "href"); !strings.Contains(got, "by=model") {
		t.Errorf("toggle href = %q, want by=model", got)
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
	h := mustHandler(t, newMemStore(allSessions()...))
	_, doc := mustGet(t, h, "/git")
	tables := query(doc, "table.git")
	if len(tables) != 2 {
		t.Fatalf("tables = %d, want 2 (PRs, commits)", len(tables))
	}
	commitRow := first(t, tables[1], "tbody tr")
	if got := text(first(t, commitRow, "td[data-label=SHA]")); got != "f5e602f" {
		t.Errorf("short SHA = %q", got)
	}
	links := query(commitRow, "a")
	if got, want := attr(links[len(links)-1], "href"), "/sessions/02ffe567-4617-41ff-b977-3528b6d21881#prompt-6054bf7f-251e-4fe0-9023-89fdca143dab"; got != want {
		t.Errorf("commit link = %q, want %q", got, want)
	}
	prRow := first(t, tables[0], "tbody tr")
	if got, want := attr(first(t, prRow, "a.badge.pr"), "href"), "https://github.com/example/demo/pull/7"; got != want {
		t.Errorf("PR link = %q, want %q", got, want)
	}
}

func TestStaticAssets(t *testing.T) {
	h := mustHandler(t, newMemStore())
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
	h, err := New(Options{Store: newMemStore(), Authenticate: func(r *http.Request) error {
		if r.Header.Get("Authorization") == "Bearer good" {
			return nil
		}
		return errors.New("missing token")
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
