package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/auth"
)

const securityScheme = "bearer"

// Authenticate resolves the credentials of r (Authorization: Bearer, or the auth.CookieName
// cookie's dashboard session) to a token. With auth off it returns auth.Anonymous. Errors:
// auth.ErrUnauthenticated for missing, unknown or revoked credentials; anything else is a
// store failure.
func (a *API) Authenticate(r *http.Request) (*agenttrace.Token, error) {
	cookie := ""
	if c, err := r.Cookie(auth.CookieName); err == nil {
		cookie = c.Value
	}
	return a.credentials(r.Context(), r.Header.Get("Authorization"), cookie)
}

// credentials resolves an Authorization header, or without one a dashboard session id,
// to a token (auth.Anonymous with auth off). The header wins: a program's token is what
// it meant, whatever cookie a browser added. The cookie holds a session id, never a
// secret, so it goes to the sessions and a secret in it is refused.
func (a *API) credentials(ctx context.Context, authorization, session string) (*agenttrace.Token, error) {
	if authorization != "" || session == "" {
		return a.auth.Authenticate(ctx, auth.Credential(authorization, ""))
	}
	on, err := a.auth.Enabled(ctx)
	if err != nil {
		return nil, err
	}
	if !on {
		return auth.Anonymous, nil
	}
	return a.logins.Resolve(ctx, session)
}

// Sessions starts and ends dashboard logins on this API's store, whose cookie the API
// accepts for reads (web.Options.Sessions).
func (a *API) Sessions() *auth.Sessions { return a.logins }

// Authorize authenticates r and checks that its token allows scope (auth.Allows):
// auth.ErrUnauthenticated, auth.ErrForbidden, or a store failure.
func (a *API) Authorize(r *http.Request, scope string) (*agenttrace.Token, error) {
	tok, err := a.Authenticate(r)
	if err != nil {
		return nil, err
	}
	if !auth.Allows(tok.Scope, scope) {
		return tok, auth.ErrForbidden
	}
	return tok, nil
}

// ReadContext authenticates r for reading (auth.Allows read) and returns the context its
// reads must run with: carrying the token and narrowed to what the token may read. The
// dashboard runs every page's reads with it, as the API's own operations do.
func (a *API) ReadContext(r *http.Request) (context.Context, error) {
	tok, err := a.Authorize(r, agenttrace.ScopeRead)
	if err != nil {
		a.denied(tok, r.RemoteAddr, "dashboard "+r.URL.Path, err)
		return nil, err
	}
	return a.auth.Scope(r.Context(), tok)
}

// denied counts a request refused with err (401 or 403; store failures are not
// denials) in the audit log: what is the request ("GET /v1/audit"), tok its token when
// it had a valid one.
func (a *API) denied(tok *agenttrace.Token, remote, what string, err error) {
	reason := ""
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		reason = "no valid credentials"
	case errors.Is(err, auth.ErrForbidden):
		reason = "the token's scope does not allow this"
		var mm *auth.UserMismatch
		if errors.As(err, &mm) {
			reason = "events of another user"
		}
	default:
		return
	}
	a.audit.Denied(tok, remote, agenttrace.AuditRequestDenied, what, reason)
}

// VerifySecret checks a secret the dashboard's login form received, returning its token
// (auth.ErrUnauthenticated when it is not a live token). It works whether or not auth is on.
func (a *API) VerifySecret(ctx context.Context, secret string) (*agenttrace.Token, error) {
	return a.auth.Lookup(ctx, secret)
}

// AuthEnabled reports whether requests must carry a token right now.
func (a *API) AuthEnabled(ctx context.Context) (bool, error) { return a.auth.Enabled(ctx) }

// authProblem turns an authentication failure into its problem: 401 with a challenge,
// 403, or 503 when the store could not answer.
func (a *API) authProblem(err error) huma.StatusError {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return huma.Error401Unauthorized(err.Error())
	case errors.Is(err, auth.ErrForbidden):
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
			// Even with auth off: a web page must not write events into a local server.
			if err := auth.NotCrossSite(ctx.Header, ctx.Host()); err != nil {
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
		if c, err := huma.ReadCookie(ctx, auth.CookieName); err == nil && safe {
			cookie = c.Value
		}
		tok, err := a.credentials(ctx.Context(), ctx.Header("Authorization"), cookie)
		if err == nil && !auth.Allows(tok.Scope, need) {
			err = auth.ErrForbidden
		}
		var scoped context.Context
		if err == nil {
			// The token's reach travels with the request: every store read the handler
			// makes applies it (see agenttrace.WithVisibleUsers).
			scoped, err = a.auth.Scope(ctx.Context(), tok)
		}
		if err != nil {
			a.denied(tok, ctx.RemoteAddr(), ctx.Method()+" "+ctx.Operation().Path, err)
			p := a.authProblem(err)
			writeProblemHeaders(p.GetStatus(), ctx.SetHeader)
			_ = huma.WriteErr(api, ctx, p.GetStatus(), p.Error())
			return
		}
		if audit.Remote(scoped) == "" {
			scoped = audit.WithRemote(scoped, ctx.RemoteAddr()) // for what the handler audits
		}
		next(huma.WithContext(ctx, scoped))
	}
}

// unwrap is humago.Unwrap for a streaming operation's body, with the operation's
// context on the request: Unwrap returns the request as it arrived, without the context
// the auth middleware narrowed to what the token may read, and a stream or an export
// read with that would show every user's sessions.
func unwrap(hctx huma.Context) (*http.Request, http.ResponseWriter) {
	r, w := humago.Unwrap(hctx)
	return r.WithContext(hctx.Context()), w
}

// requireScope guards a plain net/http handler the same way.
func (a *API) requireScope(scope string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := a.Authorize(r, scope)
		var ctx context.Context
		if err == nil {
			ctx, err = a.auth.Scope(r.Context(), tok)
		}
		if err != nil {
			a.denied(tok, r.RemoteAddr, r.Method+" "+r.URL.Path, err)
			writeProblem(w, a.authProblem(err))
			return
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Mount serves h at pattern on the API port (the MCP server at /mcp), guarded like a
// write: never for a page of another site, even with auth off, and, with auth on, only
// for an Authorization header holding a token that allows scope. The dashboard's cookie
// does not count: these endpoints are for programs, which send the header.
func (a *API) Mount(pattern, scope string, h http.Handler) {
	a.apiMux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth.NotCrossSite(r.Header.Get, r.Host); err != nil {
			writeProblem(w, huma.Error403Forbidden(err.Error()))
			return
		}
		tok, err := a.authorizeHeader(r.Context(), r.Header.Get("Authorization"), scope)
		ctx := r.Context()
		if err == nil {
			ctx, err = a.auth.Scope(ctx, tok) // the token's read reach, for every store read h makes
		}
		if err != nil {
			a.denied(tok, r.RemoteAddr, r.Method+" "+pattern, err)
			writeProblem(w, a.authProblem(err))
			return
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
}

// writeProblem writes p as an RFC 9457 problem from a plain net/http handler.
func writeProblem(w http.ResponseWriter, p huma.StatusError) {
	writeProblemHeaders(p.GetStatus(), w.Header().Set)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.GetStatus())
	fmt.Fprintf(w, `{"title":%q,"status":%d,"detail":%q}`, http.StatusText(p.GetStatus()), p.GetStatus(), p.Error())
}

const scopeKey = "scope"

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

// AuthorizeHeader checks an Authorization header value alone for scope: the OTLP
// receiver's requests carry no cookie, and gRPC sends the header as metadata. It returns
// the token, whose user the receiver binds the records to (auth.BindEvents). Errors as
// Authorize.
// A refusal is counted in the audit log, from the address audit.WithRemote put on ctx.
func (a *API) AuthorizeHeader(ctx context.Context, authorization, scope string) (*agenttrace.Token, error) {
	tok, err := a.authorizeHeader(ctx, authorization, scope)
	if err != nil {
		a.denied(tok, audit.Remote(ctx), "otlp "+scope, err)
		return nil, err
	}
	return tok, nil
}

// DeniedOTLP counts an OTLP request refused after authorization (records of another
// user) in the audit log; otlp.Options.Denied fits.
func (a *API) DeniedOTLP(ctx context.Context, tok *agenttrace.Token, err error) {
	a.denied(tok, audit.Remote(ctx), "otlp "+agenttrace.ScopeIngest, err)
}

// authorizeHeader is AuthorizeHeader without the audit, returning the token it refused
// for its scope too.
func (a *API) authorizeHeader(ctx context.Context, authorization, scope string) (*agenttrace.Token, error) {
	tok, err := a.auth.Authenticate(ctx, auth.Credential(authorization, ""))
	if err != nil {
		return nil, err
	}
	if !auth.Allows(tok.Scope, scope) {
		return tok, auth.ErrForbidden
	}
	return tok, nil
}
