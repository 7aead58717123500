package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// CookieName is the cookie the dashboard keeps a token secret in after login; the API
// accepts it as well as an Authorization: Bearer header.
const CookieName = "agent_trace_token"

// SecretPrefix starts every token secret, so secrets are recognisable in logs and by
// secret scanners.
const SecretPrefix = "at_"

const securityScheme = "bearer"

// Authentication failures. The edge maps them to 401 and 403 problems.
var (
	ErrUnauthenticated = errors.New("authentication required: send a token as Authorization: Bearer at_…")
	ErrForbidden       = errors.New("the token's scope does not allow this")
)

// Anonymous is the identity of requests when auth is off: the local single-user install,
// where whoever can reach the loopback port may do everything.
var Anonymous = &agenttrace.Token{ID: "anonymous", Name: "anonymous", Scope: agenttrace.ScopeAdmin}

// NewSecret returns a fresh token secret: SecretPrefix and 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret is what the store keeps instead of a secret: hex SHA-256.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewTokenID returns a token record ID.
func NewTokenID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token id: %w", err)
	}
	return "tok_" + hex.EncodeToString(b), nil
}

// Allows reports whether a token of scope have may do what needs scope need. Admin can
// do everything; read and ingest are separate, so a hook's ingest token cannot read
// anyone's sessions and a read token cannot forge events.
func Allows(have, need string) bool {
	return have == need || have == agenttrace.ScopeAdmin
}

// authTTL bounds how long a verified token or the "auth is on" answer is reused without
// asking the store again: a revoked token stops working within it.
const authTTL = 5 * time.Second

type authenticator struct {
	store  agenttrace.Store
	forced bool

	mu       sync.Mutex
	on       bool
	onAt     time.Time
	verified map[string]cachedToken // by secret hash
}

type cachedToken struct {
	tok *agenttrace.Token
	at  time.Time
}

func newAuthenticator(store agenttrace.Store, forced bool) *authenticator {
	return &authenticator{store: store, forced: forced, verified: map[string]cachedToken{}}
}

// enabled reports whether requests must carry a token: forced on, or any live token
// exists (creating the first token is how a user turns auth on).
func (au *authenticator) enabled(ctx context.Context) (bool, error) {
	if au.forced {
		return true, nil
	}
	au.mu.Lock()
	if !au.onAt.IsZero() && time.Since(au.onAt) < authTTL {
		on := au.on
		au.mu.Unlock()
		return on, nil
	}
	au.mu.Unlock()
	toks, err := au.store.Tokens(ctx)
	if err != nil {
		au.mu.Lock()
		defer au.mu.Unlock()
		if !au.onAt.IsZero() {
			// Keep answering as before while the store is briefly unreachable, so the
			// requests themselves get the precise failure (a retryable 503 on ingest).
			return au.on, nil
		}
		return false, fmt.Errorf("list tokens: %w", err)
	}
	on := false
	for _, t := range toks {
		if t.RevokedAt == nil {
			on = true
			break
		}
	}
	au.mu.Lock()
	au.on, au.onAt = on, time.Now()
	au.mu.Unlock()
	return on, nil
}

// lookup resolves a secret to its live token, or ErrUnauthenticated.
func (au *authenticator) lookup(ctx context.Context, secret string) (*agenttrace.Token, error) {
	if !strings.HasPrefix(secret, SecretPrefix) {
		return nil, ErrUnauthenticated
	}
	hash := HashSecret(secret)
	au.mu.Lock()
	c, ok := au.verified[hash]
	au.mu.Unlock()
	if ok && time.Since(c.at) < authTTL {
		return c.tok, nil
	}
	tok, err := au.store.TokenBySecretHash(ctx, hash)
	if errors.Is(err, agenttrace.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	au.mu.Lock()
	if len(au.verified) > 1024 {
		clear(au.verified)
	}
	au.verified[hash] = cachedToken{tok: tok, at: time.Now()}
	au.mu.Unlock()
	return tok, nil
}

// credential extracts a token secret from an Authorization header value or a cookie.
func credential(authorization, cookie string) string {
	const bearer = "bearer "
	if len(authorization) > len(bearer) && strings.EqualFold(authorization[:len(bearer)], bearer) {
		return strings.TrimSpace(authorization[len(bearer):])
	}
	return cookie
}

func (au *authenticator) authenticate(ctx context.Context, secret string) (*agenttrace.Token, error) {
	on, err := au.enabled(ctx)
	if err != nil {
		return nil, err
	}
	if !on {
		return Anonymous, nil
	}
	if secret == "" {
		return nil, ErrUnauthenticated
	}
	return au.lookup(ctx, secret)
}

// Authenticate resolves the credentials of r (Authorization: Bearer, or the CookieName
// cookie) to a token. With auth off it returns Anonymous. Errors: ErrUnauthenticated for
// missing, unknown or revoked credentials; anything else is a store failure.
func (a *API) Authenticate(r *http.Request) (*agenttrace.Token, error) {
	cookie := ""
	if c, err := r.Cookie(CookieName); err == nil {
		cookie = c.Value
	}
	return a.auth.authenticate(r.Context(), credential(r.Header.Get("Authorization"), cookie))
}

// Authorize authenticates r and checks that its token allows scope: ErrUnauthenticated,
// ErrForbidden, or a store failure.
func (a *API) Authorize(r *http.Request, scope string) (*agenttrace.Token, error) {
	tok, err := a.Authenticate(r)
	if err != nil {
		return nil, err
	}
	if !Allows(tok.Scope, scope) {
		return tok, ErrForbidden
	}
	return tok, nil
}

// VerifySecret checks a secret the dashboard's login form received, returning its token
// (ErrUnauthenticated when it is not a live token). It works whether or not auth is on.
func (a *API) VerifySecret(ctx context.Context, secret string) (*agenttrace.Token, error) {
	return a.auth.lookup(ctx, secret)
}

// AuthEnabled reports whether requests must carry a token right now.
func (a *API) AuthEnabled(ctx context.Context) (bool, error) { return a.auth.enabled(ctx) }

// authProblem turns an authentication failure into its problem: 401 with a challenge,
// 403, or 503 when the store could not answer.
func (a *API) authProblem(err error) huma.StatusError {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return huma.Error401Unauthorized(err.Error())
	case errors.Is(err, ErrForbidden):
		return huma.Error403Forbidden(err.Error())
	}
	a.metrics.storeErrors.WithLabelValues("auth").Inc()
	a.log.Error("authenticate", "err", err)
	return huma.Error503ServiceUnavailable("storage is unavailable; retry later")
}

// retryAfter is sent with every 503: the sender should back off and try again.
const retryAfter = "1"

func writeProblemHeaders(status int, set func(k, v string)) {
	switch status {
	case http.StatusUnauthorized:
		set("WWW-Authenticate", `Bearer realm="agent-trace"`)
	case http.StatusServiceUnavailable:
		set("Retry-After", retryAfter)
	}
}

// authMiddleware enforces each operation's scope (Metadata["scope"]); operations
// without one (health checks) are open.
func (a *API) authMiddleware(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		safe := ctx.Method() == http.MethodGet || ctx.Method() == http.MethodHead
		if !safe {
			if err := sameOrigin(ctx.Header("Origin"), ctx.Header("Sec-Fetch-Site"), ctx.Host()); err != nil {
				_ = huma.WriteErr(api, ctx, http.StatusForbidden, err.Error())
				return
			}
		}
		need, _ := ctx.Operation().Metadata[scopeKey].(string)
		if need == "" {
			next(ctx)
			return
		}
		cookie := ""
		// Browsers attach the dashboard's cookie to requests any page makes to this port
		// (SameSite does not separate ports), so on the API the cookie authenticates
		// reads only; writes need an Authorization header, which a page cannot forge.
		if c, err := huma.ReadCookie(ctx, CookieName); err == nil && safe {
			cookie = c.Value
		}
		tok, err := a.auth.authenticate(ctx.Context(), credential(ctx.Header("Authorization"), cookie))
		if err == nil && !Allows(tok.Scope, need) {
			err = ErrForbidden
		}
		if err != nil {
			p := a.authProblem(err)
			writeProblemHeaders(p.GetStatus(), ctx.SetHeader)
			_ = huma.WriteErr(api, ctx, p.GetStatus(), p.Error())
			return
		}
		next(ctx)
	}
}

// requireScope guards a plain net/http handler the same way.
func (a *API) requireScope(scope string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := a.Authorize(r, scope)
		if err != nil {
			p := a.authProblem(err)
			writeProblemHeaders(p.GetStatus(), w.Header().Set)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(p.GetStatus())
			fmt.Fprintf(w, `{"title":%q,"status":%d,"detail":%q}`, http.StatusText(p.GetStatus()), p.GetStatus(), p.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}

const scopeKey = "scope"

// ErrCrossSite refuses a state-changing request a browser sent on behalf of another
// site or port.
var ErrCrossSite = errors.New("cross-site request refused: state-changing requests must come from this origin or from a non-browser client")

// sameOrigin admits a state-changing request only if no browser says it came from
// elsewhere: hooks, curl and scripts send neither Origin nor Sec-Fetch-Site; a page on
// another site, or on another port of this host (same-site), is refused even when auth
// is off, so a web page cannot write events into a local server.
func sameOrigin(origin, fetchSite, host string) error {
	switch fetchSite {
	case "", "same-origin", "none":
	default:
		return ErrCrossSite
	}
	if origin == "" {
		return nil
	}
	if origin == "null" {
		return ErrCrossSite
	}
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Host, host) {
		return ErrCrossSite
	}
	return nil
}

// scoped returns op marked as needing scope, in the OpenAPI document too.
func scoped(op huma.Operation, scope string) huma.Operation {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[scopeKey] = scope
	op.Security = []map[string][]string{{securityScheme: {scope}}}
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	return op
}
