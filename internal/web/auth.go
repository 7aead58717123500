package web

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// authenticate guards every page and the live stream. Static assets and the login form
// stay public: the assets are the same for everyone and carry no data. A refused page
// view is sent to the login form (when there is one) so a person sees a way in; the live
// stream, fragments and anything but GET get a plain 401, because a script cannot follow
// a redirect to a form.
func (a *app) authenticate(check func(*http.Request) (context.Context, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/static/") || p == "/favicon.ico" || (a.login && (p == "/login" || p == "/logout")) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, err := check(r)
		if err != nil {
			page := r.Method == http.MethodGet || r.Method == http.MethodHead
			script := p == "/live" || strings.HasSuffix(p, "/highlight") || r.URL.Query().Get("fragment") != ""
			if a.login && page && !script {
				http.Redirect(w, r, "/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
				return
			}
			// No detail: why a credential failed is of use only to someone guessing.
			w.Header().Set("WWW-Authenticate", `Bearer realm="agent-trace"`)
			http.Error(w, "unauthorized: log in at /login", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// safeNext returns next when it is a path on this site, and "/" otherwise, so the login
// form can never be used to send someone elsewhere (an open redirect): no scheme, no host,
// no protocol-relative "//host" or "/\host" (browsers treat a backslash as a slash), no
// control characters.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return "/"
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	if u.Path == "/login" || u.Path == "/logout" {
		return "/"
	}
	return next
}

// overTLS reports whether the browser reached us over HTTPS, directly or through a
// trusted proxy that terminated TLS, so the cookie is marked Secure exactly when it can
// be. X-Forwarded-Proto from any other peer is ignored: anyone can send it.
func (a *app) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") && trustedPeer(r.RemoteAddr, a.proxies)
}

// trustedPeer reports whether the peer address remote ("host:port") is in one of proxies.
func trustedPeer(remote string, proxies []netip.Prefix) bool {
	if len(proxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

type loginData struct {
	Next  string
	Error string
}

func (a *app) loginForm(w http.ResponseWriter, r *http.Request) {
	a.renderLogin(w, r, http.StatusOK, safeNext(r.URL.Query().Get("next")), "")
}

func (a *app) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	a.render(w, r, status, "login", "layout", page{Title: "Log in", Nav: "login", Data: loginData{Next: next, Error: msg}})
}

// errLoginRefused is what every failed login shows, whatever the reason: unknown,
// revoked or under-scoped tokens look the same to someone guessing.
const errLoginRefused = "That token was not accepted. Use a live token with a read or admin scope (agent-trace-server token create --scope read:own --user NAME)."

func (a *app) loginSubmit(w http.ResponseWriter, r *http.Request) {
	// Login CSRF (another site logging the browser in with the attacker's token) needs no
	// cookie, so the SameSite=Strict cookie does not stop it; the origin check does.
	if auth.SameOrigin(r.Header.Get, r.Host) != nil {
		a.renderError(w, r, http.StatusForbidden, "Cross-site request refused", "Log in from the dashboard's own login page.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		a.renderLogin(w, r, http.StatusBadRequest, "/", "The form could not be read; try again.")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	ip := clientIP(r)
	if wait, ok := a.limiter.allow(ip); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		a.renderLogin(w, r, http.StatusTooManyRequests, next, "Too many failed attempts; wait a minute and try again.")
		return
	}
	secret := strings.TrimSpace(r.PostForm.Get("secret"))
	tok, err := a.verify(r.Context(), secret)
	// The dashboard only reads: read and admin tokens may log in, an ingest token (the one
	// every hook holds) may not.
	if err != nil || tok == nil || !auth.Allows(tok.Scope, agenttrace.ScopeRead) {
		if err != nil && !errors.Is(err, agenttrace.ErrNotFound) {
			// Logged so an operator can tell a store outage from a wrong token; never
			// the secret itself.
			a.log.Info("dashboard: login refused", "remote", ip, "err", err)
		}
		a.limiter.fail(ip)
		a.audit.Denied(nil, r.RemoteAddr, agenttrace.AuditDashboardLogin, "POST /login", "login refused")
		a.renderLogin(w, r, http.StatusUnauthorized, next, errLoginRefused)
		return
	}
	id, expires, err := a.sessions.Start(r.Context(), tok, r.UserAgent())
	if err != nil {
		a.log.Error("dashboard: start session", "remote", ip, "err", err)
		a.renderError(w, r, http.StatusServiceUnavailable, "Could not log in", "Storage is unavailable; try again.")
		return
	}
	_ = a.audit.Record(r.Context(), audit.Actor(agenttrace.AuditEntry{Action: agenttrace.AuditDashboardLogin,
		Target: "POST /login", Remote: ip, Detail: truncate(r.UserAgent(), 200)}, tok))
	// The cookie carries the session id alone: the token never reaches the browser's
	// cookie jar, and logout or revocation ends the session on the server.
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName, Value: id, Path: "/",
		MaxAge: int(time.Until(expires) / time.Second), HttpOnly: true, Secure: a.overTLS(r),
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if auth.SameOrigin(r.Header.Get, r.Host) != nil { // forced logout, like login CSRF
		a.renderError(w, r, http.StatusForbidden, "Cross-site request refused", "Log out from the dashboard itself.")
		return
	}
	if c, err := r.Cookie(a.cookieName); err == nil {
		tok, err := a.sessions.End(r.Context(), c.Value)
		if err != nil {
			// The browser forgets the cookie anyway; the session expires or is swept.
			a.log.Error("dashboard: end session", "err", err)
		}
		if tok != nil {
			_ = a.audit.Record(r.Context(), audit.Actor(agenttrace.AuditEntry{Action: agenttrace.AuditDashboardOut,
				Target: "POST /logout", Remote: clientIP(r)}, tok))
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.overTLS(r), SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// clientIP is the peer address. X-Forwarded-For is deliberately ignored: anyone can set
// it, and trusting it would let a guesser pick a fresh bucket for every attempt. Behind
// a proxy every client shares the proxy's bucket, which errs on the safe side.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginLimiter is a token bucket per client IP that only failed logins drain: a person
// who mistypes a few times is not slowed down, a script guessing secrets gets one try
// every refill interval. (Secrets are 256 random bits; this keeps logs and the store
// quiet more than it protects the secrets.)
type loginLimiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration // one attempt comes back per interval
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds the limiter's memory under a spray of source addresses.
const maxBuckets = 10_000

func newLoginLimiter(burst int, every time.Duration) *loginLimiter {
	return &loginLimiter{burst: float64(burst), every: every, now: time.Now, buckets: map[string]*bucket{}}
}

// refill brings b up to date; the caller holds mu.
func (l *loginLimiter) refill(b *bucket, now time.Time) {
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
}

// allow reports whether ip may try now, and how long to wait when not.
func (l *loginLimiter) allow(ip string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[ip]
	if !ok {
		return 0, true
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return 0, true
	}
	return time.Duration((1 - b.tokens) * float64(l.every)), false
}

// fail takes one attempt from ip's bucket.
func (l *loginLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[ip]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[ip] = b
	}
	l.refill(b, now)
	b.tokens = max(0, b.tokens-1)
}

// prune forgets buckets that have refilled (they behave like a new one) and, if that
// is not enough, all of them: under such a spray per-address limits mean little anyway.
func (l *loginLimiter) prune(now time.Time) {
	for ip, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, ip)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
