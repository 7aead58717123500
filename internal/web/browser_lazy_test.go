package web

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserLazyHighlight: a long replay's later diffs arrive plain, with their added
// and removed lines already marked, and are highlighted once scrolled to.
func TestBrowserLazyHighlight(t *testing.T) {
	st := mustEmptyStore(t)
	mustIngest(t, st, bigSessionEvents(t))
	highlighted.reset()
	h := mustHandler(t, st)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)

	b := mustBrowser(t, 1280, 900)
	lastDiff := `document.querySelector("#call-toolu_big_19_48 > pre.diff")`
	b.do(t, chromedp.Navigate(srv.URL+"/sessions/"+bigID), chromedp.WaitVisible(chromedp.CSS(`pre.diff`)))
	if !eval[bool](t, b, lastDiff+`.classList.contains("plain")`) {
		t.Fatal("the last diff is highlighted before it was scrolled to")
	}
	marked := eval[int](t, b, lastDiff+`.querySelectorAll(".dl.add, .dl.del").length`)
	if marked != 3 {
		t.Errorf("plain diff marks %d lines added or removed, want 3", marked)
	}
	plainBefore := eval[int](t, b, `document.querySelectorAll("pre.plain").length`)

	eval[chromedp.Void](t, b, `window.scrollTo(0, document.body.scrollHeight)`)
	b.waitFor(t, 10*time.Second, `!`+lastDiff+`.classList.contains("plain") && `+lastDiff+`.querySelectorAll(".dl.add span:not(.dm)").length > 0`)
	// Only what came near the viewport was asked for.
	plainAfter := eval[int](t, b, `document.querySelectorAll("pre.plain").length`)
	if plainAfter >= plainBefore || plainAfter < plainBefore/2 {
		t.Errorf("plain blocks: %d before scrolling, %d after; want only those near the bottom highlighted", plainBefore, plainAfter)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
