package web

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/live"
	"github.com/agent-trace/agent-trace/internal/sqlite"
)

const chromiumPath = "/usr/bin/chromium"

// browser is one headless Chromium tab with what the page did recorded: JavaScript
// dialogs (an XSS payload that ran) and console errors (a CSP violation, a script error).
type browser struct {
	ctx     context.Context
	dialogs atomic.Int32
	mu      sync.Mutex
	errors  []string
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// mustBrowser starts Chromium (Debian's package) headless with a fresh profile. Without it
// the test is skipped, except in CI, where it must be installed. A failing test leaves a
// screenshot in its temp dir.
func mustBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need %s (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("browser tests need %s (apt-get install chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b := &browser{ctx: ctx}
	// Listen starts the browser; its callback must not call back into the tab, so the
	// dialog is dismissed from another goroutine.
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *cdppage.EventJavascriptDialogOpening:
			b.dialogs.Add(1)
			go chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: false})
		case *runtime.EventExceptionThrown:
			b.mu.Lock()
			b.errors = append(b.errors, "exception: "+ev.ExceptionDetails.Text)
			b.mu.Unlock()
		case *log.EventEntryAdded:
			// A dropped SSE connection during the restart test is expected noise.
			if ev.Entry.Level == log.EntryLevelError && !strings.Contains(ev.Entry.Text, "/live") &&
				!strings.Contains(ev.Entry.Text, "ERR_CONNECTION_REFUSED") && !strings.Contains(ev.Entry.Text, "favicon") {
				b.mu.Lock()
				b.errors = append(b.errors, "console: "+ev.Entry.Text)
				b.mu.Unlock()
			}
		}
	})
	if err == nil {
		err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, runtime.Enable, cdp.Empty{})
			return err
		}))
	}
	if err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if buf, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
				// t.TempDir is removed when the test ends; AGENT_TRACE_FAILURE_DIR keeps a copy.
				dirs := []string{t.TempDir()}
				if d := os.Getenv("AGENT_TRACE_FAILURE_DIR"); d != "" {
					dirs = append(dirs, d)
				}
				for _, d := range dirs {
					p := filepath.Join(d, t.Name()+"-failure.png")
					if os.WriteFile(p, buf, 0o644) == nil {
						t.Logf("screenshot of the failure: %s", p)
					}
				}
			}
			cancel()
		}
		cancelCtx()
		cancelAlloc()
	})
	return b
}

// do runs steps with a deadline; the browser's own context has none, because a deadline
// on it would stop the whole browser.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript boolean expression until it is true or the deadline passes.
func (b *browser) waitFor(t *testing.T, within time.Duration, expr string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v still false: %s (last error: %v)", within, expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveServer is the dashboard with a real SQLite store and a real live hub, served on a
// loopback port that can be stopped and started again (a server restart).
type liveServer struct {
	store *sqlite.Store
	hub   *live.Hub
	srv   *httptest.Server
	addr  string
}

func mustLiveServer(t *testing.T) *liveServer {
	t.Helper()
	_, st := mustDashboard(t)
	ls := &liveServer{store: st}
	ls.start(t, "127.0.0.1:0")
	return ls
}

func (ls *liveServer) start(t *testing.T, addr string) {
	t.Helper()
	ls.hub = live.New()
	h, err := New(Options{Store: ls.store, Live: ls.hub, CollectorURL: "http://127.0.0.1:8317"})
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener
	for range 50 { // the old socket may linger for a moment after a restart
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	ls.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	ls.srv.Start()
	ls.addr = l.Addr().String()
	srv, hub := ls.srv, ls.hub
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
}

func (ls *liveServer) stop() {
	ls.hub.Close()
	ls.srv.CloseClientConnections()
	ls.srv.Close()
}

func (ls *liveServer) url(p string) string { return "http://" + ls.addr + p }

// ingest stores events and publishes what changed, as the collector does.
func (ls *liveServer) ingest(t *testing.T, evs []event.Event) {
	t.Helper()
	res, err := ls.store.Ingest(context.Background(), evs)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	for _, id := range res.Sessions {
		ls.hub.Publish(live.Change{Type: live.SessionUpdated, SessionID: id, Data: map[string]string{"session_id": id}})
	}
}

func TestBrowserSessionList(t *testing.T) {
	ls := mustLiveServer(t)
	b := mustBrowser(t, 1280, 900)
	b.do(t, chromedp.Navigate(ls.url("/")), chromedp.WaitVisible(chromedp.CSS(`tr[data-session="`+commitID+`"]`)))
	rows := eval[[]string](t, b, `Array.from(document.querySelectorAll("tr.session")).map(r => r.dataset.session)`)
	want := []string{xssSessionID, subagentID, secretsID, prID, multiID, failedID, commitID, spunID, tier1ID}
	if strings.Join(rows, ",") != strings.Join(want, ",") {
		t.Fatalf("rows = %v, want %v", rows, want)
	}
	firstPrompt := eval[string](t, b, `document.querySelector('tr[data-session="`+commitID+`"] td[data-label=Prompt]').innerText`)
	if firstPrompt != "Create hello.py and commit it" {
		t.Errorf("first prompt = %q", firstPrompt)
	}
	// The server renders UTC; the script rewrites it in the viewer's zone and keeps the
	// original as the title.
	localised := eval[bool](t, b, `(() => { const el = document.querySelector('tr[data-session="`+commitID+`"] time');
		return el.title.endsWith("UTC") && !el.textContent.endsWith("UTC"); })()`)
	if !localised {
		t.Error("timestamps are not shown in local time")
	}
	b.waitFor(t, 5*time.Second, `document.getElementById("live-status").dataset.state === "open"`)
	// Spun and productive rows look different.
	bgSpun := eval[string](t, b, `getComputedStyle(document.querySelector('tr[data-session="`+spunID+`"]')).backgroundColor`)
	bgPlain := eval[string](t, b, `getComputedStyle(document.querySelector('tr[data-session="`+failedID+`"]')).backgroundColor`)
	if bgSpun == bgPlain {
		t.Errorf("a spun session looks like any other (background %s)", bgSpun)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

func TestBrowserReplay(t *testing.T) {
	ls := mustLiveServer(t)
	b := mustBrowser(t, 1280, 900)
	b.do(t, chromedp.Navigate(ls.url("/sessions/"+commitID)), chromedp.WaitVisible(chromedp.CSS(`pre.diff`)))
	got := eval[replayFacts](t, b, `(() => {
		const q = s => document.querySelectorAll(s);
		const vis = s => Array.from(q(s)).filter(e => e.offsetParent !== null).length;
		return {
			Prompts: vis("article.prompt"), Calls: vis("li.call"),
			Added: vis("pre.diff .dl.add"), Removed: vis("pre.diff .dl.del"),
			Highlighted: vis(".markdown pre.chroma span.k"),
			Tools: Array.from(q("li.call .tool")).map(e => e.innerText),
			AddBG: getComputedStyle(q("pre.diff .dl.add")[0]).backgroundColor,
			CtxBG: getComputedStyle(q("pre.diff .dl.ctx")[0]).backgroundColor,
			Prompt: q("article.prompt .user-text")[0].innerText,
		};
	})()`)
	if got.Prompts != 1 || got.Calls != 4 || strings.Join(got.Tools, ",") != "Write,Edit,Read,Bash" {
		t.Errorf("prompts %d, calls %d %v; want 1 prompt, Write,Edit,Read,Bash", got.Prompts, got.Calls, got.Tools)
	}
	if got.Added < 2 || got.Removed < 1 {
		t.Errorf("visible diff lines: %d added, %d removed", got.Added, got.Removed)
	}
	if got.AddBG == got.CtxBG {
		t.Errorf("added lines are not marked (background %s)", got.AddBG)
	}
	if got.Highlighted == 0 {
		t.Error("no highlighted code block in the response")
	}
	if got.Prompt != "Create hello.py and commit it" {
		t.Errorf("prompt = %q", got.Prompt)
	}
	// Output is collapsed until opened.
	outputShown := eval[bool](t, b, `document.querySelector("details.output pre").checkVisibility()`)
	if outputShown {
		t.Error("tool output is expanded by default")
	}
	// j moves to the prompt card.
	b.do(t, chromedp.KeyEvent("j"))
	b.waitFor(t, 2*time.Second, `document.activeElement && document.activeElement.id === "prompt-`+commitPromptID+`"`)
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

func TestBrowserLiveUpdates(t *testing.T) {
	ls := mustLiveServer(t)
	b := mustBrowser(t, 1280, 900)
	b.do(t, chromedp.Navigate(ls.url("/")), chromedp.WaitVisible(chromedp.CSS(`tr[data-session="`+commitID+`"]`)))
	b.waitFor(t, 5*time.Second, `document.getElementById("live-status").dataset.state === "open"`)
	// A reload would lose this marker.
	eval[chromedp.Void](t, b, `window.__noReload = 1`)

	newID := "live-0000-4000-8000-000000000001"
	start := time.Now()
	ls.ingest(t, synthSession(t, newID, time.Now().UTC(), event.TierDetails, "a brand new session", 1, 0, false))
	// The deadline only bounds a broken stream; the latency itself is logged, not asserted
	// (a loaded CI machine is no place for timing assertions).
	b.waitFor(t, 10*time.Second, `!!document.querySelector('tr[data-session="`+newID+`"]')`)
	t.Logf("list updated %v after ingest", time.Since(start).Round(time.Millisecond))
	marker := eval[int](t, b, `window.__noReload || 0`)
	if marker != 1 {
		t.Fatal("the page reloaded")
	}
	firstRow := eval[string](t, b, `document.querySelector("tr.session").dataset.session`)
	if firstRow != newID {
		t.Errorf("first row = %s, want the new session %s", firstRow, newID)
	}

	// The open session page follows its session too: a new tool call appears.
	b.do(t, chromedp.Navigate(ls.url("/sessions/"+newID)), chromedp.WaitVisible(chromedp.CSS(`article.prompt`)))
	b.waitFor(t, 5*time.Second, `document.getElementById("live-status").dataset.state === "open"`)
	eval[chromedp.Void](t, b, `window.__noReload = 2`)
	more := synthSession(t, newID, time.Now().UTC(), event.TierDetails, "a brand new session", 3, 0, false)
	start = time.Now()
	ls.ingest(t, more)
	b.waitFor(t, 10*time.Second, `document.querySelectorAll("li.call").length === 3`)
	t.Logf("session page updated %v after ingest", time.Since(start).Round(time.Millisecond))
	marker = eval[int](t, b, `window.__noReload || 0`)
	if marker != 2 {
		t.Fatal("the session page reloaded")
	}

	// Restart the server on the same address: the page reconnects by itself and picks up
	// what was ingested while it was away.
	addr := ls.addr
	ls.stop()
	b.waitFor(t, 5*time.Second, `document.getElementById("live-status").dataset.state !== "open"`)
	// Ingested while the page is disconnected: nothing is published that it could see.
	more = synthSession(t, newID, time.Now().UTC(), event.TierDetails, "a brand new session", 5, 0, false)
	if _, err := ls.store.Ingest(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	ls.start(t, addr)
	start = time.Now()
	b.waitFor(t, 20*time.Second, `document.querySelectorAll("li.call").length === 5`)
	t.Logf("session page caught up %v after the restart", time.Since(start).Round(time.Millisecond))
	marker = eval[int](t, b, `window.__noReload || 0`)
	if marker != 2 {
		t.Fatal("the session page reloaded to reconnect")
	}
}

func TestBrowserXSSNeverRuns(t *testing.T) {
	ls := mustLiveServer(t)
	b := mustBrowser(t, 1280, 900)
	for _, p := range []string{"/", "/sessions/" + xssSessionID} {
		b.do(t, chromedp.Navigate(ls.url(p)), chromedp.WaitReady(chromedp.CSS("body")))
		time.Sleep(300 * time.Millisecond) // give any injected handler (onerror) time to fire
	}
	var shown xssFacts
	b.do(t, chromedp.Click(chromedp.CSS("details.output summary")))
	shown = eval[xssFacts](t, b, `({
		Prompt: document.querySelector("article.prompt .user-text").innerText,
		Output: document.querySelector("details.output pre").innerText,
		Diff: document.querySelector("pre.diff .dl.add").innerText,
	})`)
	time.Sleep(200 * time.Millisecond)
	if n := b.dialogs.Load(); n != 0 {
		t.Fatalf("%d JavaScript dialogs opened: injected script ran", n)
	}
	if shown.Prompt != xssText {
		t.Errorf("prompt shows %q, want the text %q", shown.Prompt, xssText)
	}
	if shown.Output != "<script>alert(4)</script><img src=x onerror=alert(5)>" {
		t.Errorf("output shows %q", shown.Output)
	}
	if !strings.Contains(shown.Diff, "<script>alert(6)</script>") {
		t.Errorf("diff shows %q", shown.Diff)
	}
}

type replayFacts struct {
	Prompts, Calls, Added, Removed, Highlighted int
	Tools                                       []string
	AddBG, CtxBG, Prompt                        string
}

type xssFacts struct{ Prompt, Output, Diff string }

// TestBrowserThemesAndNarrowScreens checks the pages follow a dark system theme and fit
// a 390 px phone without sideways scrolling.
func TestBrowserThemesAndNarrowScreens(t *testing.T) {
	ls := mustLiveServer(t)
	b := mustBrowser(t, 1280, 900)
	bodyBG := func() string {
		return eval[string](t, b, `getComputedStyle(document.body).backgroundColor`)
	}
	b.do(t, chromedp.Navigate(ls.url("/sessions/"+commitID)), chromedp.WaitVisible(chromedp.CSS(`pre.diff`)))
	light := bodyBG()
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}))
	dark := bodyBG()
	if light == dark {
		t.Errorf("body background %s in both themes", light)
	}
	// The highlighted code follows the theme too (chroma's dark style).
	if bg := eval[string](t, b, `getComputedStyle(document.querySelector(".markdown pre.chroma")).backgroundColor`); bg != "rgb(13, 17, 23)" {
		t.Errorf("dark code background = %s, want github-dark's rgb(13, 17, 23)", bg)
	}

	for _, p := range []string{"/", "/sessions/" + prID, "/costs?from=2026-11-12&to=2026-11-25", "/git",
		"/people?from=2026-11-01&to=2026-11-30", "/repos?by=branch&from=2026-11-01&to=2026-11-30", "/tools?from=2026-11-01&to=2026-11-30",
		"/repos/github.com/example/demo?from=2026-11-01&to=2026-11-30", "/people/dev?from=2026-11-01&to=2026-11-30"} {
		b.do(t, chromedp.EmulateViewport(390, 844), chromedp.Navigate(ls.url(p)), chromedp.WaitReady(chromedp.CSS("main")))
		if w := eval[int](t, b, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s at 390 px is %d px wide: it scrolls sideways", p, w)
		}
	}
}
