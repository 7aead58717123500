package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

//go:embed templates
var templateFS embed.FS

// pages every handler may render; parseViews fails when one is missing, so a typo in a
// template name is a start-up error, not a 500 in front of a user.
var pageNames = []string{"sessions", "session", "costs", "breakdown", "detail", "tools", "git", "error", "login"}

type views struct {
	pages map[string]*template.Template
}

func parseViews(as *assets) (*views, error) {
	funcs := templateFuncs(as)
	common, err := fs.Glob(templateFS, "templates/common/*.html")
	if err != nil {
		return nil, err
	}
	vs := &views{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		files := append([]string{"templates/pages/" + name + ".html"}, common...)
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, files...)
		if err != nil {
			return nil, fmt.Errorf("page %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("page %s: no \"content\" template", name)
		}
		vs.pages[name] = t
	}
	return vs, nil
}

// smokeTest renders every page's layout with empty data, so what only fails at execution
// (a missing asset, a call on a field that does not exist) fails New, not a user's visit.
func (vs *views) smokeTest() error {
	empty := map[string]any{
		"sessions": sessionListData{},
		"session":  sessionData{S: &agenttrace.Session{}},
		"costs":    costsData{},
		"breakdown": breakdownData{breakdownPage: peoplePage, Rows: []breakdownRow{{}},
			Total: agenttrace.BreakdownRow{Summary: agenttrace.Summary{CostPerCommitUSD: new(float64)}}},
		"git": gitData{},
		"tools": toolsData{Report: agenttrace.ToolReport{Tools: []agenttrace.ToolStat{{}}, MCPServers: []agenttrace.ToolStat{{}},
			FailingCommands: []agenttrace.FailingCommand{{}}}},
		"detail": detailData{Kind: "repository", Sessions: []sessionRow{{}}, Branches: []agenttrace.BreakdownRow{{}},
			Commits: []agenttrace.Commit{{}}, PullRequests: []agenttrace.PullRequest{{}}, Files: []fileCount{{}}},
		"error": errorData{},
		"login": loginData{},
	}
	for name, t := range vs.pages {
		if err := t.ExecuteTemplate(io.Discard, "layout", page{Title: name, Data: empty[name]}); err != nil {
			return fmt.Errorf("page %s: %w", name, err)
		}
	}
	return nil
}

// render executes into a buffer first so a template error becomes a clean 500 instead
// of half a page.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name, block string, data any) {
	t := a.views.pages[name]
	if t == nil {
		a.log.Error("dashboard: unknown page", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if p, ok := data.(page); ok && a.login {
		if c, err := r.Cookie(a.cookieName); err == nil && c.Value != "" {
			p.LoggedIn = true
			data = p
		}
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, block, data); err != nil {
		a.log.Error("dashboard: render", "page", name, "block", block, "err", err)
		http.Error(w, "internal error: could not render page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// page is what the layout needs around every page's content.
type page struct {
	Title string
	Nav   string // which top-level tab is current
	Live  string // the SSE stream the page follows ("" = none)
	// LoggedIn: the request carried the session cookie, so the page offers to log out.
	// Set by render.
	LoggedIn bool
	Data     any
}

type errorData struct {
	Status  int
	Heading string
	Message string
}

func (a *app) renderError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	a.render(w, r, status, "error", "layout", page{Title: heading, Data: errorData{status, heading, msg}})
}

func templateFuncs(as *assets) template.FuncMap {
	return template.FuncMap{
		"asset":       as.url,
		"cost":        formatCostPtr,
		"costf":       formatCost,
		"tokens":      formatTokens,
		"count":       formatCount,
		"duration":    formatDuration,
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"utc":         func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"day":         func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"truncate":    truncate,
		"short":       shortSHA,
		"shell":       shellBlock,
		"diff":        diffBlock,
		"markdown":    renderMarkdown,
		"spun":        isSpun,
		"withTier":    withTier,
		"originLabel": originLabel,
		"percent":     percent,
		"timeline":    timeline,
		"clip":        clip,
		"clipped":     func(s string) bool { return len(s) > maxOutputBytes },
		"kb":          func(s string) string { return strconv.Itoa((len(s)+1023)/1024) + " KB" },
		"perCommit": func(c *float64, n int) string {
			if c == nil || n == 0 {
				return "—"
			}
			return formatCost(*c / float64(n))
		},
		"basename": basename,
		"add":      func(a, b int) int { return a + b },
		"join":     strings.Join,
		"firstLine": func(s string) string {
			line, _, _ := strings.Cut(s, "\n")
			return line
		},
		"tierNote": func(have, need int) string {
			return fmt.Sprintf("not recorded at tier %d (needs tier %d)", have, need)
		},
	}
}

// formatCost gives costs the precision they deserve: cents for dollars, four decimals
// below a dollar (a $0.0926 prompt is not "$0.09").
func formatCost(v float64) string {
	switch {
	case v == 0:
		return "$0.00"
	case math.Abs(v) >= 1:
		return "$" + commas(strconv.FormatFloat(v, 'f', 2, 64))
	case math.Abs(v) >= 0.0001:
		return "$" + strconv.FormatFloat(v, 'f', 4, 64)
	default:
		return "<$0.0001"
	}
}

func formatCostPtr(v *float64) string {
	if v == nil {
		return "—"
	}
	return formatCost(*v)
}

func commas(s string) string {
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

func formatTokens(n int64) string {
	f := float64(n)
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 10_000:
		return strconv.FormatFloat(f/1000, 'f', 1, 64) + "k"
	case n < 1_000_000:
		return strconv.FormatFloat(f/1000, 'f', 0, 64) + "k"
	case n < 10_000_000:
		return strconv.FormatFloat(f/1e6, 'f', 2, 64) + "M"
	default:
		return strconv.FormatFloat(f/1e6, 'f', 1, 64) + "M"
	}
}

func formatCount(n int64) string { return commas(strconv.FormatInt(n, 10)) }

func formatDuration(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case ms <= 0:
		return "—"
	case d < time.Second:
		return strconv.FormatInt(ms, 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

func basename(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 && i < len(p)-1 {
		return p[i+1:]
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

// maxOutputBytes bounds how much of one tool output a page carries; the whole output stays
// in the store and the API.
const maxOutputBytes = 64 << 10

// clip cuts s to maxOutputBytes on a rune boundary.
func clip(s string) string {
	if len(s) <= maxOutputBytes {
		return s
	}
	cut := maxOutputBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// isSpun flags a session that worked hard and produced nothing: many tool calls, a good
// share of them failing, and no commit to show for it.
func isSpun(s agenttrace.SessionSummary) bool {
	if s.CommitCount > 0 || s.ToolCallCount < 15 {
		return false
	}
	return s.ErrorCount >= 5 || float64(s.ErrorCount) >= 0.25*float64(s.ToolCallCount)
}
