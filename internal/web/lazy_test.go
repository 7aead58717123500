package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// highlightedSpans counts syntax-coloured tokens in a diff or command block: spans other
// than the diff's own line and marker spans.
func highlightedSpans(n *html.Node) int {
	count := 0
	for _, s := range query(n, "span") {
		if !hasClass(s, "dl") && !hasClass(s, "dm") {
			count++
		}
	}
	return count
}

func TestLongSessionHighlightsLazily(t *testing.T) {
	st := mustEmptyStore(t)
	mustIngest(t, st, bigSessionEvents(t))
	h := mustHandler(t, st)
	highlighted.reset()

	_, doc := mustGet(t, h, "/sessions/"+bigID)
	var eager, plain int
	for _, pre := range append(query(doc, "pre.diff"), query(doc, "pre.shell")...) {
		if hasClass(pre, "plain") {
			plain++
			if highlightedSpans(pre) != 0 {
				t.Errorf("a plain block has syntax colours")
			}
		} else {
			eager++
			if highlightedSpans(pre) == 0 {
				t.Errorf("a highlighted block has no syntax colours")
			}
		}
	}
	// 20 prompts × 50 calls: 340 edits with diffs, 340 Bash commands.
	if eager != eagerBlocks || eager+plain != 680 {
		t.Errorf("%d highlighted and %d plain blocks, want %d highlighted of 680", eager, plain, eagerBlocks)
	}
	// The first call is highlighted, the last is not, and its diff is still a diff.
	if hasClass(first(t, doc, "li#call-toolu_big_00_00 pre.diff"), "plain") {
		t.Error("the first diff is not highlighted")
	}
	last := first(t, doc, "li#call-toolu_big_19_48 pre.diff")
	if !hasClass(last, "plain") {
		t.Fatal("the last diff is highlighted in the first render")
	}
	if len(query(last, ".dl.add")) != 2 || len(query(last, ".dl.del")) != 1 {
		t.Errorf("plain diff: %d added, %d removed lines; want 2 and 1", len(query(last, ".dl.add")), len(query(last, ".dl.del")))
	}
	if got := text(query(last, ".dl.add")[1]); got != "+ row := s.db.QueryRowContext(ctx, \"SELECT * FROM items WHERE id = ?\", id)" {
		t.Errorf("plain added line = %q", got)
	}

	// The page's script asks for the plain ones as they come into view.
	q := url.Values{"call": {"toolu_big_19_48", "toolu_big_19_49", "toolu_nope"}}
	res, frag := mustGet(t, h, "/sessions/"+bigID+"/highlight?"+q.Encode())
	if res.StatusCode != http.StatusOK {
		t.Fatalf("highlight: status %d", res.StatusCode)
	}
	if got := len(query(frag, "div")); got != 2 {
		t.Errorf("highlight answered %d calls, want 2 (the unknown one left out)", got)
	}
	diff := first(t, frag, "div#hl-toolu_big_19_48 pre.diff")
	if hasClass(diff, "plain") || highlightedSpans(diff) == 0 || len(query(diff, ".dl.add")) != 2 {
		t.Errorf("highlighted diff: plain %v, %d coloured tokens, %d added lines", hasClass(diff, "plain"), highlightedSpans(diff), len(query(diff, ".dl.add")))
	}
	shell := first(t, frag, "div#hl-toolu_big_19_49 pre.shell")
	if hasClass(shell, "plain") || !strings.Contains(text(shell), "go test ./store/...") {
		t.Errorf("highlighted command: plain %v, text %q", hasClass(shell, "plain"), text(shell))
	}

	// A live re-render now shows them highlighted (and highlights the next 32 too).
	_, doc = mustGet(t, h, "/sessions/"+bigID+"?fragment=body")
	if hasClass(first(t, doc, "li#call-toolu_big_19_48 pre.diff"), "plain") {
		t.Error("a block highlighted on request is plain again in the next render")
	}
	if got := len(query(doc, "pre.plain")); got != 680-2*eagerBlocks-2 {
		t.Errorf("second render: %d plain blocks, want %d", got, 680-2*eagerBlocks-2)
	}
}

func TestHighlightRequests(t *testing.T) {
	h, _ := mustDashboard(t)
	tests := []struct {
		path   string
		status int
		divs   int
	}{
		{"/sessions/" + commitID + "/highlight", http.StatusBadRequest, 0},
		{"/sessions/" + commitID + "/highlight?" + strings.Repeat("call=x&", maxLazyCalls+1), http.StatusBadRequest, 0},
		{"/sessions/nope/highlight?call=x", http.StatusNotFound, 0},
		{"/sessions/" + commitID + "/highlight?call=unknown", http.StatusOK, 0},
		// A tier 1 session recorded no commands: the call is answered empty.
		{"/sessions/" + tier1ID + "/highlight?call=toolu_" + tier1ID + "_00", http.StatusOK, 1},
	}
	for _, tt := range tests {
		res, doc := mustGet(t, h, tt.path)
		if res.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.path, res.StatusCode, tt.status)
			continue
		}
		if tt.status == http.StatusOK {
			divs := query(doc, "div")
			if len(divs) != tt.divs {
				t.Errorf("GET %s: %d calls answered, want %d", tt.path, len(divs), tt.divs)
			}
			if len(query(doc, "pre")) != 0 {
				t.Errorf("GET %s: blocks returned for a session without them", tt.path)
			}
		}
	}
}
