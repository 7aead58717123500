// Package web is agent-trace's dashboard: server-rendered pages (html/template) over the
// agenttrace.Store contract, with embedded, checksummed static assets and a little vanilla
// JavaScript that follows the live SSE stream. Everything it needs ships in the binary.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// Options configure the dashboard handler.
type Options struct {
	// Store is where every page reads from. Required.
	Store agenttrace.Store
	// Live is the SSE endpoint (internal/live's Hub); it is mounted at /live. Nil disables
	// live updates: pages still render, the script just has nothing to follow.
	Live http.Handler
	// Authenticate admits or refuses a request; nil means no authentication. It should
	// refuse tokens that may not read (an ingest token), like api.Authorize(r, "read"),
	// and returns the context the request's reads run with: narrowed to what the token
	// may read (api.(*API).ReadContext fits), so every page and the live stream show
	// only the sessions the token may see.
	Authenticate func(*http.Request) (context.Context, error)
	// VerifySecret resolves a secret typed into the login form to its live token (an
	// error when there is none); api.(*API).VerifySecret fits. With it and Authenticate
	// set, refused page views go to /login, which sets the session cookie. The dashboard
	// admits read and admin tokens only.
	VerifySecret func(ctx context.Context, secret string) (*agenttrace.Token, error)
	// Sessions starts a login's server-side session (the cookie carries only its id) and
	// ends it on logout; api.(*API).Sessions fits. The login form needs it too.
	Sessions Sessions
	// Audit records logins, logouts and refused logins; nil records nothing.
	Audit Auditor
	// CookieName is the session cookie; "" means auth.CookieName, which the API reads too.
	CookieName string
	// TrustedProxies are the peers whose X-Forwarded-Proto is believed: the session cookie
	// is marked Secure when the request came over TLS, or from one of these saying https.
	TrustedProxies []netip.Prefix
	// CollectorURL is shown in the empty state's init command.
	CollectorURL string
	// Logger receives handler failures; nil discards them.
	Logger *slog.Logger
}

// Sessions starts and ends dashboard logins (auth.Sessions fits).
type Sessions interface {
	// Start creates a session for tok and returns its id, the cookie's value, and when it
	// expires.
	Start(ctx context.Context, tok *agenttrace.Token, userAgent string) (id string, expires time.Time, err error)
	// End deletes session id and returns its token (nil when it was over already); an
	// unknown id is no error.
	End(ctx context.Context, id string) (*agenttrace.Token, error)
}

// Auditor records logins, logouts and refused logins in the audit log
// (*audit.Recorder fits).
type Auditor interface {
	Record(ctx context.Context, e agenttrace.AuditEntry) error
	Denied(tok *agenttrace.Token, remote, action, target, reason string)
}

// noAudit is the Auditor of a dashboard given none.
type noAudit struct{}

func (noAudit) Record(context.Context, agenttrace.AuditEntry) error      { return nil }
func (noAudit) Denied(*agenttrace.Token, string, string, string, string) {}

// contentSecurityPolicy forbids inline script and style: every script and stylesheet
// is an embedded file, so injected markup can neither run nor restyle the page.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// app is the dashboard's state shared by every page handler.
type app struct {
	store        agenttrace.Store
	views        *views
	assets       *assets
	collectorURL string
	liveURL      string // "" when there is no live stream
	log          *slog.Logger

	// login: the login form is served (Authenticate, VerifySecret and Sessions are set).
	login      bool
	authOn     bool // Authenticate is set: requests carry tokens (or are refused)
	verify     func(ctx context.Context, secret string) (*agenttrace.Token, error)
	sessions   Sessions
	proxies    []netip.Prefix
	audit      Auditor
	cookieName string
	limiter    *loginLimiter

	recent *recentSessions // for the highlight requests of open replays
}

// Failed logins: five in a row, then one more every 12 seconds per client address.
const (
	loginBurst = 5
	loginEvery = 12 * time.Second
)

// New parses every template and builds every asset up front, so a broken template fails
// start-up rather than a page view, and returns the dashboard's handler.
func New(opts Options) (http.Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("web: Options.Store is required")
	}
	as, err := loadAssets()
	if err != nil {
		return nil, fmt.Errorf("load dashboard assets: %w", err)
	}
	vs, err := parseViews(as)
	if err != nil {
		return nil, fmt.Errorf("parse dashboard templates: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	collector := opts.CollectorURL
	if collector == "" {
		collector = "http://127.0.0.1:8317"
	}
	login := opts.Authenticate != nil && opts.VerifySecret != nil && opts.Sessions != nil
	a := &app{store: opts.Store, views: vs, assets: as, collectorURL: collector, log: logger,
		login: login, authOn: opts.Authenticate != nil, verify: opts.VerifySecret, sessions: opts.Sessions, proxies: opts.TrustedProxies, cookieName: opts.CookieName,
		limiter: newLoginLimiter(loginBurst, loginEvery), recent: newRecentSessions(8, time.Minute)}
	if a.cookieName == "" {
		a.cookieName = auth.CookieName
	}
	if a.audit = opts.Audit; a.audit == nil {
		a.audit = noAudit{}
	}
	if opts.Live != nil {
		a.liveURL = "/live"
	}
	go warmLexers()
	if err := vs.smokeTest(); err != nil {
		return nil, fmt.Errorf("render dashboard templates: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /static/", as)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		u, _ := as.url("favicon.svg")
		http.Redirect(w, r, u, http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /{$}", a.sessionList)
	mux.HandleFunc("GET /sessions", a.sessionList)
	mux.HandleFunc("GET /sessions/{id}", a.sessionPage)
	mux.HandleFunc("GET /sessions/{id}/highlight", a.highlightCalls)
	mux.HandleFunc("GET /costs", a.costsPage)
	mux.HandleFunc("POST /costs/budgets", a.createBudget)
	mux.HandleFunc("POST /costs/budgets/{id}/delete", a.deleteBudget)
	mux.HandleFunc("GET /git", a.gitPage)
	mux.HandleFunc("GET /export/{table}", a.exportDownload)
	mux.HandleFunc("GET /people", a.breakdown(peoplePage))
	mux.HandleFunc("GET /people/{user}", a.personPage)
	mux.HandleFunc("GET /repos", a.breakdown(reposPage))
	mux.HandleFunc("GET /repos/{repo...}", a.repoPage)
	mux.HandleFunc("GET /tools", a.toolsPage)
	if opts.Live != nil {
		mux.Handle("GET /live", opts.Live)
	}
	if login {
		mux.HandleFunc("GET /login", a.loginForm)
		mux.HandleFunc("POST /login", a.loginSubmit)
		mux.HandleFunc("POST /logout", a.logout)
	}
	mux.HandleFunc("/", a.notFound)

	var h http.Handler = mux
	if opts.Authenticate != nil {
		h = a.authenticate(opts.Authenticate, h)
	}
	return secureHeaders(h), nil
}

func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "same-origin")
		hdr.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

func (a *app) notFound(w http.ResponseWriter, r *http.Request) {
	a.renderError(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
}

// fail maps a store error to a status once, here at the edge, and logs only what is ours.
func (a *app) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	switch {
	case errors.Is(err, agenttrace.ErrNotFound):
		a.renderError(w, r, http.StatusNotFound, "Not found", "No such record; it may have been deleted by retention.")
	case errors.Is(err, agenttrace.ErrInvalid):
		a.renderError(w, r, http.StatusBadRequest, "Bad request", err.Error())
	case errors.Is(err, agenttrace.ErrSchemaOutdated):
		a.renderError(w, r, http.StatusServiceUnavailable, "Database out of date", "Run `agent-trace-server migrate`.")
	default:
		a.log.Error("dashboard: "+op, "path", r.URL.Path, "err", err)
		a.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "The server could not "+op+". See its log.")
	}
}
