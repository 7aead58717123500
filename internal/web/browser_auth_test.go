package web

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/live"
)

// TestBrowserLogin: with auth on, a visit is sent to the login form; a wrong token is
// refused, the right one leads back to the page asked for, and the live stream (which
// carries only the cookie) keeps the list up to date.
func TestBrowserLogin(t *testing.T) {
	ls := mustAuthServer(t)

	b := mustBrowser(t, 1280, 900)
	b.do(t, chromedp.Navigate(ls.url("/costs")), chromedp.WaitVisible(chromedp.CSS(`input#secret`)))
	if got := eval[string](t, b, `location.pathname + location.search`); got != "/login?next=%2Fcosts" {
		t.Errorf("redirected to %q, want /login?next=%%2Fcosts", got)
	}

	b.do(t, chromedp.SendKeys(chromedp.CSS(`input#secret`), "at_not-a-token"), chromedp.Submit(chromedp.CSS(`input#secret`)),
		chromedp.WaitVisible(chromedp.CSS(`.login-error`)))
	if got := eval[string](t, b, `document.querySelector(".login-error").innerText`); got != errLoginRefused {
		t.Errorf("wrong token: message %q", got)
	}

	b.do(t, chromedp.SendKeys(chromedp.CSS(`input#secret`), readSecret),
		chromedp.Submit(chromedp.CSS(`input#secret`)), chromedp.WaitVisible(chromedp.CSS(`form.logout`)))
	if got := eval[string](t, b, `location.pathname`); got != "/costs" {
		t.Errorf("after login at %q, want /costs", got)
	}
	// HttpOnly: the page's script cannot read the session id.
	if got := eval[string](t, b, `document.cookie`); got != "" {
		t.Errorf("document.cookie = %q, want the session cookie hidden from script", got)
	}

	b.do(t, chromedp.Navigate(ls.url("/")), chromedp.WaitVisible(chromedp.CSS(`tr[data-session="`+commitID+`"]`)))
	b.waitFor(t, 10*time.Second, `document.getElementById("live-status").dataset.state === "open"`)
	newID := "auth-0000-4000-8000-000000000001"
	ls.ingest(t, synthSession(t, newID, time.Now().UTC(), event.TierDetails, "a session while logged in", 1, 0, false))
	b.waitFor(t, 10*time.Second, `!!document.querySelector('tr[data-session="`+newID+`"]')`)

	// Log out: the cookie is gone and the pages are closed again.
	b.do(t, chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.CSS(`input#secret`)))
	b.do(t, chromedp.Navigate(ls.url("/")), chromedp.WaitVisible(chromedp.CSS(`input#secret`)))
	// A revoked token stops working on the open page: the next live update finds the
	// fragment refused and the page goes back to the login form.
	b.do(t, chromedp.SendKeys(chromedp.CSS(`input#secret`), adminSecret), chromedp.Submit(chromedp.CSS(`input#secret`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-session="`+newID+`"]`)))
	b.waitFor(t, 10*time.Second, `document.getElementById("live-status").dataset.state === "open"`)
	if err := ls.store.RevokeToken(context.Background(), "tok_b"); err != nil {
		t.Fatal(err)
	}
	ls.ingest(t, synthSession(t, "auth-0000-4000-8000-000000000002", time.Now().UTC(), event.TierDetails, "after revocation", 1, 0, false))
	b.waitFor(t, 10*time.Second, `!!document.querySelector("input#secret")`)

	// The refused login is a 401 page, which the console reports; nothing else may fail.
	for _, e := range b.consoleErrors() {
		if !strings.Contains(e, "status of 401") {
			t.Errorf("console error: %s", e)
		}
	}
}

// mustAuthServer is the fixture dashboard with auth on (tokens in its store), a live
// hub, on a loopback port.
func mustAuthServer(t *testing.T) *liveServer {
	t.Helper()
	st := mustAuthStore(t)
	hub := live.New()
	sa := storeAuth{st}
	h, err := New(Options{Store: st, Live: hub, Authenticate: sa.authenticate, VerifySecret: sa.verify,
		Sessions: auth.NewSessions(st)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(func() { hub.Close(); srv.Close() })
	return &liveServer{store: st, hub: hub, srv: srv, addr: l.Addr().String()}
}
