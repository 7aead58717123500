package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// page fetches path from h and parses the body as HTML.
func mustGet(tb testing.TB, h http.Handler, path string) (*http.Response, *html.Node) {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	doc, err := html.Parse(strings.NewReader(string(body)))
	if err != nil {
		tb.Fatalf("GET %s: parse HTML: %v", path, err)
	}
	return res, doc
}

// query returns the elements matching a tiny selector language: space-separated
// descendant steps, each `tag`, `.class`, `#id` or `[attr]` / `[attr=value]` combined,
// e.g. "tr.session td.num" or "a[href=/costs]".
func query(root *html.Node, selector string) []*html.Node {
	steps := strings.Fields(selector)
	cur := []*html.Node{root}
	for _, step := range steps {
		var next []*html.Node
		seen := map[*html.Node]bool{}
		for _, n := range cur {
			walk(n, func(c *html.Node) {
				if c != n && !seen[c] && matches(c, step) {
					seen[c] = true
					next = append(next, c)
				}
			})
		}
		cur = next
	}
	return cur
}

func first(tb testing.TB, root *html.Node, selector string) *html.Node {
	tb.Helper()
	ns := query(root, selector)
	if len(ns) == 0 {
		tb.Fatalf("no element matches %q", selector)
	}
	return ns[0]
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func matches(n *html.Node, step string) bool {
	if n.Type != html.ElementNode {
		return false
	}
	for step != "" {
		var part string
		i := strings.IndexAny(step[1:], ".#[")
		if i < 0 {
			part, step = step, ""
		} else {
			part, step = step[:i+1], step[i+1:]
		}
		switch part[0] {
		case '.':
			if !hasClass(n, part[1:]) {
				return false
			}
		case '#':
			if attr(n, "id") != part[1:] {
				return false
			}
		case '[':
			k, v, hasV := strings.Cut(strings.Trim(part, "[]"), "=")
			got, ok := attrOK(n, k)
			if !ok || (hasV && got != v) {
				return false
			}
		default:
			if n.Data != part {
				return false
			}
		}
	}
	return true
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// text is the node's text content with whitespace collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return strings.Join(strings.Fields(b.String()), " ")
}
