package web

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestScreenshots renders the README's screenshots of the fixture sessions:
//
//	AGENT_TRACE_SCREENSHOTS=1 go test ./internal/web -run TestScreenshots
//
// writes docs/screenshots/*.png (or into the directory the variable names).
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("AGENT_TRACE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set AGENT_TRACE_SCREENSHOTS=1 (or a directory) to write the README's screenshots")
	}
	if dir == "1" {
		dir = filepath.Join("..", "..", "docs", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ls := mustLiveServer(t)
	authed := mustAuthServer(t)
	shots := []struct {
		name, path, ready string
		width, height     int
		viewportOnly      bool // a phone screenshot shows the first screen, not the whole page
		auth              bool // taken from a server with auth on
	}{
		{"sessions.png", "/", "tr.session", 1280, 800, false, false},
		{"session-replay.png", "/sessions/" + commitID, "pre.diff", 1280, 800, false, false},
		{"costs.png", "/costs?from=2026-11-12&to=2026-11-25&by=session", "svg.chart", 1280, 800, false, false},
		{"git.png", "/git", "table.git", 1280, 800, false, false},
		{"people.png", "/people?from=2026-11-01&to=2026-11-30", "table.breakdown", 1280, 600, false, false},
		{"tools.png", "/tools?from=2026-11-01&to=2026-11-30", "table.toolstats", 1280, 800, false, false},
		{"repos.png", "/repos?by=branch&from=2026-11-01&to=2026-11-30", "table.breakdown", 1280, 600, false, false},
		{"sessions-390px.png", "/", "tr.session", 390, 844, true, false},
		{"session-replay-390px.png", "/sessions/" + prID, "article.prompt", 390, 844, true, false},
		{"login.png", "/", "input#secret", 1280, 600, true, true},
	}
	for _, s := range shots {
		b := mustBrowser(t, s.width, s.height)
		url := ls.url(s.path)
		if s.auth {
			url = authed.url(s.path)
		}
		b.do(t, chromedp.EmulateViewport(int64(s.width), int64(s.height)),
			chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(s.ready)))
		time.Sleep(300 * time.Millisecond) // local times and the live marker settle
		// quality 100 makes chromedp capture PNG rather than JPEG.
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		shot := chromedp.FullScreenshot(100)
		if s.viewportOnly {
			shot = chromedp.CaptureScreenshot()
		}
		buf, err := chromedp.Run(ctx, shot)
		cancel()
		if err != nil {
			t.Fatalf("screenshot %s: %v", s.name, err)
		}
		p := filepath.Join(dir, s.name)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d KB)", p, len(buf)/1024)
	}
}
