package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/sqlite"
)

const (
	readSecret   = "at_read-secret-for-tests"
	adminSecret  = "at_admin-secret-for-tests"
	ingestSecret = "at_ingest-secret-for-tests"
	revokedSec   = "at_revoked-secret-for-tests"
)

// storeAuth does what internal/api's authenticator does with the same store methods: the
// secret's SHA-256 is looked up, revoked tokens are refused.
type storeAuth struct{ st *sqlite.Store }

func (sa storeAuth) verify(ctx context.Context, secret string) (*agenttrace.Token, error) {
	tok, err := sa.st.TokenBySecretHash(ctx, auth.HashSecret(secret))
	if errors.Is(err, agenttrace.ErrNotFound) {
		return nil, auth.ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if tok.RevokedAt != nil {
		return nil, auth.ErrUnauthenticated
	}
	return tok, nil
}

// authenticate is api.ReadContext for the cookie: the session's token, checked like
// api.Authorize(r, read), then the token's reach on the context.
func (sa storeAuth) authenticate(r *http.Request) (context.Context, error) {
	c, err := r.Cookie(auth.CookieName)
	if err != nil {
		return nil, auth.ErrUnauthenticated
	}
	tok, err := auth.NewSessions(sa.st).Resolve(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	if !auth.Allows(tok.Scope, agenttrace.ScopeRead) {
		return nil, errors.New("forbidden")
	}
	return auth.NewVerifier(sa.st, true).Scope(r.Context(), tok)
}

// mustAuthStore is the fixture store with a read, an admin, an ingest and a revoked token.
func mustAuthStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	_, st := mustDashboard(tb)
	ctx := context.Background()
	for i, tc := range []struct{ secret, scope string }{
		{readSecret, agenttrace.ScopeRead}, {adminSecret, agenttrace.ScopeAdmin},
		{ingestSecret, agenttrace.ScopeIngest}, {revokedSec, agenttrace.ScopeRead},
	} {
		tok := agenttrace.Token{ID: "tok_" + string(rune('a'+i)), Name: tc.scope, Scope: tc.scope, CreatedAt: time.Now().UTC()}
		if err := st.CreateToken(ctx, tok, auth.HashSecret(tc.secret)); err != nil {
			tb.Fatalf("create token: %v", err)
		}
		if tc.secret == revokedSec {
			if err := st.RevokeToken(ctx, tok.ID); err != nil {
				tb.Fatalf("revoke token: %v", err)
			}
		}
	}
	return st
}

func mustAuthHandler(tb testing.TB, st *sqlite.Store, mod func(*Options)) http.Handler {
	tb.Helper()
	sa := storeAuth{st}
	opts := Options{Store: st, Authenticate: sa.authenticate, VerifySecret: sa.verify, Sessions: auth.NewSessions(st)}
	if mod != nil {
		mod(&opts)
	}
	h, err := New(opts)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return h
}

// postLogin submits the login form from the dashboard's own origin unless hdr says
// otherwise.
func postLogin(h http.Handler, form url.Values, hdr map[string]string) *http.Response {
	req := httptest.NewRequest(http.MethodPost, "http://dash.example:3100/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://dash.example:3100")
	req.RemoteAddr = "192.0.2.7:50000"
	for k, v := range hdr {
		if k == "RemoteAddr" {
			req.RemoteAddr = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == auth.CookieName {
			return c
		}
	}
	return nil
}

func TestAuthRedirectsPagesToLogin(t *testing.T) {
	h := mustAuthHandler(t, mustAuthStore(t), nil)
	tests := []struct {
		path     string
		status   int
		location string
	}{
		{"/", http.StatusSeeOther, "/login?next=%2F"},
		{"/sessions/" + commitID + "?x=1", http.StatusSeeOther, "/login?next=%2Fsessions%2F" + commitID + "%3Fx%3D1"},
		{"/costs", http.StatusSeeOther, "/login?next=%2Fcosts"},
		// Scripts cannot follow a redirect to a form: the stream and fragments get 401.
		{"/live", http.StatusUnauthorized, ""},
		{"/sessions/" + commitID + "?fragment=body", http.StatusUnauthorized, ""},
		{"/login", http.StatusOK, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.status || rec.Header().Get("Location") != tt.location {
			t.Errorf("GET %s: %d Location %q, want %d %q", tt.path, rec.Code, rec.Header().Get("Location"), tt.status, tt.location)
		}
		if strings.Contains(rec.Body.String(), commitID) && tt.status != http.StatusSeeOther {
			t.Errorf("GET %s without a token shows session data", tt.path)
		}
	}
	as, _ := loadAssets()
	u, _ := as.url("app.css")
	if res, _ := mustGet(t, h, u); res.StatusCode != http.StatusOK {
		t.Errorf("static asset without a token: status %d, want 200", res.StatusCode)
	}
}

func TestLoginForm(t *testing.T) {
	h := mustAuthHandler(t, mustAuthStore(t), nil)
	res, doc := mustGet(t, h, "/login?next=%2Fcosts")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	form := first(t, doc, "form")
	if got := attr(form, "method"); got != "post" {
		t.Errorf("form method %q", got)
	}
	if got := attr(form, "action"); got != "/login" {
		t.Errorf("form action %q", got)
	}
	secret := first(t, doc, "input#secret")
	for k, want := range map[string]string{"type": "password", "autocomplete": "off", "name": "secret"} {
		if got := attr(secret, k); got != want {
			t.Errorf("secret input %s=%q, want %q", k, got, want)
		}
	}
	var next *html.Node
	for _, in := range query(doc, "input") {
		if attr(in, "name") == "next" {
			next = in
		}
	}
	if next == nil || attr(next, "value") != "/costs" {
		t.Errorf("hidden next input missing or wrong: %v", next)
	}
	if len(query(doc, "form.logout")) != 0 {
		t.Error("the login page offers a log-out button")
	}
}

func TestLoginSetsCookie(t *testing.T) {
	st := mustAuthStore(t)
	h := mustAuthHandler(t, st, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	tests := []struct {
		name   string
		secret string
		hdr    map[string]string
		secure bool
	}{
		{"read token", readSecret, nil, false},
		{"admin token", adminSecret, nil, false},
		{"behind a trusted TLS proxy", readSecret, map[string]string{"X-Forwarded-Proto": "https", "RemoteAddr": "10.1.2.3:4000"}, true},
		{"proxy header from an untrusted peer", readSecret, map[string]string{"X-Forwarded-Proto": "https"}, false},
		{"pasted with spaces", " " + readSecret + "\n", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := postLogin(h, url.Values{"secret": {tt.secret}, "next": {"/sessions/" + commitID}}, tt.hdr)
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d, want 303", res.StatusCode)
			}
			if got := res.Header.Get("Location"); got != "/sessions/"+commitID {
				t.Errorf("Location %q", got)
			}
			c := sessionCookie(res)
			if c == nil {
				t.Fatal("no session cookie set")
			}
			if !auth.IsSessionID(c.Value) || strings.Contains(c.Value, strings.TrimSpace(tt.secret)) || !c.HttpOnly ||
				c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tt.secure ||
				c.MaxAge < 30*24*3600-5 || c.MaxAge > 30*24*3600 {
				t.Errorf("cookie %+v: want a session id (not the secret), HttpOnly, SameSite=Strict, Path=/, Secure=%v, Max-Age 30 days", c, tt.secure)
			}
			// The cookie opens the page it was sent to.
			req := httptest.NewRequest(http.MethodGet, "/sessions/"+commitID, nil)
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `class="logout"`) {
				t.Errorf("with the cookie: status %d, log-out button shown %v", rec.Code, strings.Contains(rec.Body.String(), `class="logout"`))
			}
		})
	}
	// A TLS connection marks it Secure too.
	req := httptest.NewRequest(http.MethodPost, "https://dash.example/login", strings.NewReader(url.Values{"secret": {readSecret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://dash.example")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if c := sessionCookie(rec.Result()); c == nil || !c.Secure {
		t.Errorf("over TLS: cookie %+v, want Secure", c)
	}
}

func TestLoginRefused(t *testing.T) {
	h := mustAuthHandler(t, mustAuthStore(t), nil)
	for _, secret := range []string{"at_wrong", ingestSecret, revokedSec, ""} {
		res := postLogin(h, url.Values{"secret": {secret}}, map[string]string{"X-Forwarded-For": secret + "1.2.3.4"})
		doc, _ := html.Parse(res.Body)
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("secret %q: status %d, want 401", secret, res.StatusCode)
			continue
		}
		if c := sessionCookie(res); c != nil {
			t.Errorf("secret %q: cookie set", secret)
		}
		// One message for every reason, and the form to try again.
		if got := text(first(t, doc, ".login-error")); got != errLoginRefused {
			t.Errorf("secret %q: message %q", secret, got)
		}
		first(t, doc, "input#secret")
	}
}

func TestLoginCrossOriginRefused(t *testing.T) {
	h := mustAuthHandler(t, mustAuthStore(t), nil)
	tests := []struct {
		name string
		hdr  map[string]string
		ok   bool
	}{
		{"same origin", nil, true},
		{"referer only", map[string]string{"Origin": "", "Referer": "http://dash.example:3100/login?next=%2F"}, true},
		{"other origin", map[string]string{"Origin": "https://evil.example"}, false},
		{"other port", map[string]string{"Origin": "http://dash.example:8080"}, false},
		{"null origin", map[string]string{"Origin": "null"}, false},
		{"other referer", map[string]string{"Origin": "", "Referer": "https://evil.example/dash.example:3100"}, false},
		{"no origin, no referer", map[string]string{"Origin": ""}, false},
		{"cross-site fetch metadata", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site fetch metadata", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"same-origin fetch metadata", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"behind a proxy", map[string]string{"Origin": "https://trace.example.com", "X-Forwarded-Host": "trace.example.com"}, true},
		{"behind a proxy, other origin", map[string]string{"Origin": "https://evil.example", "X-Forwarded-Host": "trace.example.com"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := postLogin(h, url.Values{"secret": {readSecret}}, tt.hdr)
			if got := res.StatusCode == http.StatusSeeOther && sessionCookie(res) != nil; got != tt.ok {
				t.Errorf("logged in = %v (status %d), want %v", got, res.StatusCode, tt.ok)
			}
			if !tt.ok && res.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", res.StatusCode)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	h := mustAuthHandler(t, mustAuthStore(t), nil)
	session := mustLogin(t, h, readSecret)
	post := func(origin string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "http://dash.example/logout", nil)
		req.Header.Set("Origin", origin)
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: session})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	if res := post("https://evil.example"); res.StatusCode != http.StatusForbidden || sessionCookie(res) != nil {
		t.Errorf("cross-origin logout: status %d, cookie %v; want 403 and no cookie", res.StatusCode, sessionCookie(res))
	}
	res := post("http://dash.example")
	c := sessionCookie(res)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("logout: status %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	if c == nil || c.MaxAge >= 0 || c.Value != "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("logout cookie %+v: want it cleared (Max-Age<0, empty)", c)
	}
	// The session ended on the server: replaying the old cookie opens nothing.
	if got := pageWith(h, session); got != http.StatusSeeOther {
		t.Errorf("replayed cookie after logout: status %d, want 303 to the login form", got)
	}
}

// mustLogin logs in with secret and returns the session id of the cookie.
func mustLogin(tb testing.TB, h http.Handler, secret string) string {
	tb.Helper()
	c := sessionCookie(postLogin(h, url.Values{"secret": {secret}}, nil))
	if c == nil {
		tb.Fatalf("login with %s set no cookie", secret)
	}
	return c.Value
}

// pageWith is the status of GET / with the session cookie id.
func pageWith(h http.Handler, id string) int {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: id})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// Revoking a token, or disabling its user, ends its dashboard sessions at the next
// request: no cache stands between a session and its token. The cookie cannot be made
// from the token either.
func TestSessionEndsWithToken(t *testing.T) {
	st := mustAuthStore(t)
	h := mustAuthHandler(t, st, nil)
	session := mustLogin(t, h, readSecret)
	if got := pageWith(h, session); got != http.StatusOK {
		t.Fatalf("with the session: status %d, want 200", got)
	}
	if got := pageWith(h, readSecret); got != http.StatusSeeOther {
		t.Errorf("the token itself as the cookie: status %d, want 303 to the login form", got)
	}
	if err := st.RevokeToken(context.Background(), "tok_a"); err != nil {
		t.Fatal(err)
	}
	if got := pageWith(h, session); got != http.StatusSeeOther {
		t.Errorf("after revoking the token: status %d, want 303 to the login form", got)
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/sessions/abc?fragment=x#prompt-1", "/sessions/abc?fragment=x#prompt-1"},
		{"/costs", "/costs"},
		{"", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/%0a/evil", "/%0a/evil"}, // encoded: stays a path on this site
		{"/x\r\nLocation: https://evil.example", "/"},
		{"/login", "/"},
		{"/logout", "/"},
		{"http:/evil.example", "/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Through the handler: an open-redirect attempt lands on the dashboard's home.
	h := mustAuthHandler(t, mustAuthStore(t), nil)
	for _, next := range []string{"//evil.example", "https://evil.example", "/\\evil.example"} {
		res := postLogin(h, url.Values{"secret": {readSecret}, "next": {next}}, nil)
		if got := res.Header.Get("Location"); got != "/" {
			t.Errorf("next=%q: Location %q, want /", next, got)
		}
		_, doc := mustGet(t, h, "/login?next="+url.QueryEscape(next))
		for _, in := range query(doc, "input") {
			if attr(in, "name") == "next" && attr(in, "value") != "/" {
				t.Errorf("next=%q: form carries %q", next, attr(in, "value"))
			}
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	st := mustAuthStore(t)
	h := mustAuthHandler(t, st, nil)
	// Failures from one address drain its bucket; the right token is then refused too
	// until it refills, while another address is unaffected.
	for i := range loginBurst {
		if res := postLogin(h, url.Values{"secret": {"at_guess"}}, nil); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i+1, res.StatusCode)
		}
	}
	res := postLogin(h, url.Values{"secret": {readSecret}}, nil)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("after %d failures: status %d Retry-After %q, want 429 with Retry-After", loginBurst, res.StatusCode, res.Header.Get("Retry-After"))
	}
	req := httptest.NewRequest(http.MethodPost, "http://dash.example:3100/login", strings.NewReader(url.Values{"secret": {readSecret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://dash.example:3100")
	req.RemoteAddr = "198.51.100.9:1234"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Errorf("another address: status %d, want 303", rec.Code)
	}
}

func TestLoginLimiterRefills(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := newLoginLimiter(2, 10*time.Second)
	l.now = func() time.Time { return now }
	l.fail("a")
	l.fail("a")
	if _, ok := l.allow("a"); ok {
		t.Fatal("allowed after the burst")
	}
	now = now.Add(5 * time.Second)
	if wait, ok := l.allow("a"); ok || wait != 5*time.Second {
		t.Errorf("half refilled: ok %v wait %v, want refused for 5s", ok, wait)
	}
	now = now.Add(5 * time.Second)
	if _, ok := l.allow("a"); !ok {
		t.Error("refused after a refill interval")
	}
	l.fail("a")
	if _, ok := l.allow("a"); ok {
		t.Error("allowed with an empty bucket")
	}
	if _, ok := l.allow("b"); !ok {
		t.Error("another address refused")
	}
}

// Without VerifySecret there is no form to send anyone to: refused pages get 401.
func TestAuthWithoutLogin(t *testing.T) {
	st := mustAuthStore(t)
	h := mustAuthHandler(t, st, func(o *Options) { o.VerifySecret = nil })
	for _, p := range []string{"/", "/login"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s: status %d, want 401", p, rec.Code)
		}
	}
}

// With auth off (every request admitted, as api.Authenticate does before the first
// token exists) and no session cookie there is nothing to log out of.
func TestLogoutButtonOnlyWithCookie(t *testing.T) {
	st := mustAuthStore(t)
	h := mustAuthHandler(t, st, func(o *Options) {
		o.Authenticate = func(r *http.Request) (context.Context, error) { return r.Context(), nil }
	})
	if _, doc := mustGet(t, h, "/"); len(query(doc, "form.logout")) != 0 {
		t.Error("log-out button shown without a session cookie")
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: "ats_any"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	doc, err := html.Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(query(doc, "form.logout")) != 1 {
		t.Error("no log-out button with a session cookie")
	}
}

// Logins, logouts and refused logins go to the audit log, with the token as the actor.
func TestLoginsAreAudited(t *testing.T) {
	st := mustAuthStore(t)
	rec := audit.New(st, nil)
	h := mustAuthHandler(t, st, func(o *Options) { o.Audit = rec })
	session := mustLogin(t, h, readSecret)
	postLogin(h, url.Values{"secret": {"at_wrong"}}, nil)
	postLogin(h, url.Values{"secret": {ingestSecret}}, nil)
	req := httptest.NewRequest(http.MethodPost, "http://dash.example/logout", nil)
	req.Header.Set("Origin", "http://dash.example")
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: session})
	h.ServeHTTP(httptest.NewRecorder(), req)
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	page, err := st.Audit(context.Background(), agenttrace.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Entries {
		got = append(got, e.Action+"/"+e.Outcome+"/"+e.Actor+"/"+e.Remote+"/"+strconv.Itoa(e.Count))
	}
	want := []string{"dashboard.login/denied//192.0.2.7/2", "dashboard.logout/ok/tok_a/192.0.2.1/1", "dashboard.login/ok/tok_a/192.0.2.7/1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit = %v, want %v", got, want)
	}
}
