package web

import (
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// DefaultCookieName is the cookie the dashboard keeps the token secret in; it is the name
// internal/api reads (api.CookieName), so the API accepts the dashboard's session as well.
const DefaultCookieName = "agent_trace_token"

// cookieMaxAge is how long a login lasts. Revoking the token ends it sooner: every
// request is checked against the store, the cookie only carries the secret.
const cookieMaxAge = 30 * 24 * time.Hour

// canRead mirrors api.Allows(scope, agenttrace.ScopeRead): the dashboard only reads, so read
// and admin tokens may log in and an ingest token (the one every hook holds) may not.
func canRead(scope string) bool {
	return scope == agenttrace.ScopeRead || scope == agenttrace.ScopeAdmin
}

// authenticate guards every page and the live stream. Static assets and the login form
// stay public: the assets are the same for everyone and carry no data. A refused page
// view is sent to the login form (when there is one) so a person sees a way in; the live
// stream, fragments and anything but GET get a plain 401, because a script cannot follow
// a redirect to a form.
func (a *app) authenticate(check func(*http.Request) error, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/static/") || p == "/favicon.ico" || (a.login && (p == "/login" || p == "/logout")) {
			next.ServeHTTP(w, r)
			return
		}
		if err := check(r); err != nil {
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
		next.ServeHTTP(w, r)
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

// sameOrigin is the CSRF defence for the two state-changing requests, login and logout.
// The session cookie is SameSite=Strict, so a cross-site form never carries it and
// cannot act as the user; what is left is login CSRF (another site logging the browser
// in with the attacker's token) and forced logout, and neither needs a cookie. Both are
// stopped by refusing any POST whose browser-set Sec-Fetch-Site, Origin or (when Origin is
// missing) Referer names another origin. Page script cannot forge those headers, so a
// hidden per-form token would add nothing for browsers. A request with none of them is
// refused too: every current browser sends Origin on a POST, and there is no non-browser
// use for this form.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default: // same-site (a sibling subdomain) and cross-site
		return false
	}
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" || src == "null" {
		return false
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	// Behind a reverse proxy that rewrites Host, the browser's origin is the proxy's
	// public name, which the proxy passes on as X-Forwarded-Host. Trusting it is safe
	// here: a cross-site page cannot add that header to a form post, and a script that
	// tries to is stopped by CORS, which this handler never grants.
	fwd, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Host"), ",")
	return fwd != "" && strings.EqualFold(u.Host, strings.TrimSpace(fwd))
}

// overTLS reports whether the browser reached us over HTTPS, directly or through a
// proxy that terminated TLS, so the cookie is marked Secure exactly when it can be.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
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
const errLoginRefused = "That token was not accepted. Use a live token with read or admin scope (agent-trace-server token create --scope read)."

func (a *app) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
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
	if err != nil || tok == nil || !canRead(tok.Scope) {
		if err != nil && !errors.Is(err, agenttrace.ErrNotFound) {
			// Logged so an operator can tell a store outage from a wrong token; never
			// the secret itself.
			a.log.Info("dashboard: login refused", "remote", ip, "err", err)
		}
		a.limiter.fail(ip)
		a.renderLogin(w, r, http.StatusUnauthorized, next, errLoginRefused)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName, Value: secret, Path: "/",
		MaxAge: int(cookieMaxAge / time.Second), HttpOnly: true, Secure: overTLS(r),
		SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		a.renderError(w, r, http.StatusForbidden, "Cross-site request refused", "Log out from the dashboard itself.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: overTLS(r), SameSite: http.SameSiteStrictMode,
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
