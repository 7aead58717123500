package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/internal/api"
	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/net/html"
)

// TestDocsPageOffline renders /docs from the OpenAPI document: every operation is
// listed, and the page loads nothing from another origin (it must work offline).
func TestDocsPageOffline(t *testing.T) {
	e := mustEnv(t, api.Options{})
	rec := httptest.NewRecorder()
	e.api.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /docs = %d, want 200: %s", rec.Code, rec.Body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none'", csp)
	}
	doc, err := html.Parse(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if (a.Key == "src" || a.Key == "href") && (strings.Contains(a.Val, "//") || strings.HasPrefix(a.Val, "http")) {
					t.Errorf("<%s %s=%q> points at another origin", n.Data, a.Key, a.Val)
				}
				if n.Data == "section" && a.Key == "id" {
					sections[a.Val] = true
				}
			}
			if n.Data == "script" {
				t.Error("/docs has a <script>; it must need none")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	var want int
	for _, item := range e.api.Huma().OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op != nil && !op.Hidden {
				want++
			}
		}
	}
	if got := len(sections); got != want || want < 10 {
		t.Errorf("/docs lists %d operations, the OpenAPI document has %d", got, want)
	}
	for _, id := range []string{"ingest-events", "list-sessions", "get-session", "daily-cost", "stream"} {
		if !sections[id] {
			t.Errorf("/docs has no section for operation %s", id)
		}
	}
}
