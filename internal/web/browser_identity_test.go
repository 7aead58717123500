package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// TestBrowserReadOwn: a person logged in with bob's read:own token sees only bob's
// sessions in the list (not alice's of the same team, not carol's of another, not the
// fixtures of other users), and another user's session page is a 404 in the browser too.
func TestBrowserReadOwn(t *testing.T) {
	ls := mustAuthServer(t)
	const bobSecret = "at_bob-read-own-secret-for-tests"
	users := []struct{ name, team string }{{"alice", "a"}, {"bob", "a"}, {"carol", "b"}}
	ids := map[string]string{}
	for i, u := range users {
		tok := agenttrace.Token{ID: "tok_own_" + u.name, Name: "own-" + u.name, Scope: agenttrace.ScopeReadOwn, User: u.name, Team: u.team}
		secret := "at_unused-" + u.name + "-secret"
		if u.name == "bob" {
			secret = bobSecret
		}
		if err := ls.store.CreateToken(context.Background(), tok, auth.HashSecret(secret)); err != nil {
			t.Fatal(err)
		}
		ids[u.name] = "user-0000-4000-8000-00000000000" + string(rune('1'+i))
		evs := synthSession(t, ids[u.name], time.Now().UTC().Add(-time.Duration(i)*time.Minute), event.TierDetails, "work of "+u.name, 1, 0, true)
		for j := range evs {
			evs[j].User = u.name
		}
		ls.ingest(t, evs)
	}

	b := mustBrowser(t, 1280, 900)
	b.do(t, chromedp.Navigate(ls.url("/")), chromedp.WaitVisible(chromedp.CSS(`input#secret`)))
	b.do(t, chromedp.SendKeys(chromedp.CSS(`input#secret`), bobSecret), chromedp.Submit(chromedp.CSS(`input#secret`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-session="`+ids["bob"]+`"]`)))
	rows := eval[[]string](t, b, `[...document.querySelectorAll("tr[data-session]")].map(r => r.dataset.session)`)
	if len(rows) != 1 || rows[0] != ids["bob"] {
		t.Errorf("bob's list shows sessions %q, want only his %s", rows, ids["bob"])
	}
	for _, u := range []string{"alice", "carol"} {
		b.do(t, chromedp.Navigate(ls.url("/sessions/"+ids[u])), chromedp.WaitReady(chromedp.CSS(`body`)))
		if got := eval[int](t, b, `performance.getEntriesByType("navigation")[0].responseStatus`); got != 404 {
			t.Errorf("%s's session page: HTTP %d, want 404", u, got)
		}
		if body := eval[string](t, b, `document.body.innerText`); strings.Contains(body, "work of "+u) {
			t.Errorf("%s's session page shows their prompt to bob", u)
		}
	}
	b.do(t, chromedp.Navigate(ls.url("/sessions/"+ids["bob"])), chromedp.WaitReady(chromedp.CSS(`body`)))
	if got := eval[int](t, b, `performance.getEntriesByType("navigation")[0].responseStatus`); got != 200 {
		t.Errorf("bob's own session page: HTTP %d, want 200", got)
	}
	for _, e := range b.consoleErrors() {
		if !strings.Contains(e, "status of 404") {
			t.Errorf("console error: %s", e)
		}
	}
}
