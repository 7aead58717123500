// Package auth holds the rules every edge of the server shares about who may do what:
// the token secret format (generate, hash, recognise), the scopes and the one rule for
// what a scope allows, verifying secrets against the store, and the same-origin rules
// that keep a web page from acting through a browser. internal/api and internal/web
// only apply them to requests, so the API and the dashboard cannot drift apart.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// CookieName is the cookie the dashboard keeps its session id in after login (see
// Sessions); the API accepts it too (for reads), so one login serves both. It is not the
// name the cookie had when it held the token secret, so such an old cookie is simply
// not sent back as a session.
const CookieName = "agent_trace_session"

// SecretPrefix starts every token secret, so secrets are recognisable in logs and by
// secret scanners.
const SecretPrefix = "at_"

// Authentication failures. The edges map them to 401 and 403.
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

// IsSecret reports whether s has the shape of a token secret. Anything else cannot be
// one, so it is refused without asking the store.
func IsSecret(s string) bool { return strings.HasPrefix(s, SecretPrefix) }

// NewTokenID returns a token record ID.
func NewTokenID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token id: %w", err)
	}
	return "tok_" + hex.EncodeToString(b), nil
}

// Credential extracts a token secret from an Authorization header value ("Bearer …",
// any case) or, without one, the cookie.
func Credential(authorization, cookie string) string {
	const bearer = "bearer "
	if len(authorization) > len(bearer) && strings.EqualFold(authorization[:len(bearer)], bearer) {
		return strings.TrimSpace(authorization[len(bearer):])
	}
	return cookie
}

// Scopes lists every scope a token can have, least powerful first. ScopeRead is kept
// for tokens made before read scopes had a reach: it reads everything, like read:all.
var Scopes = []string{agenttrace.ScopeIngest, agenttrace.ScopeReadOwn, agenttrace.ScopeReadTeam,
	agenttrace.ScopeReadAll, agenttrace.ScopeRead, agenttrace.ScopeAdmin}

// ValidScope reports whether scope is one of Scopes.
func ValidScope(scope string) bool {
	for _, s := range Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// IsReadScope reports whether scope is one of the read scopes (whatever its reach).
func IsReadScope(scope string) bool {
	switch scope {
	case agenttrace.ScopeRead, agenttrace.ScopeReadOwn, agenttrace.ScopeReadTeam, agenttrace.ScopeReadAll:
		return true
	}
	return false
}

// Allows reports whether a token of scope have may do what needs scope need. Admin can
// do everything; read and ingest are separate, so a hook's ingest token cannot read
// anyone's sessions (nor log in to the dashboard) and a read token cannot forge events.
// Every read scope allows what needs ScopeRead: how far it reaches is applied to the
// reads themselves (see Verifier.Restrict), not to which operations it may call.
func Allows(have, need string) bool {
	if have == need || have == agenttrace.ScopeAdmin {
		return true
	}
	return need == agenttrace.ScopeRead && IsReadScope(have)
}

// TokenCreator is the store method Issue needs (agenttrace.Store fits).
type TokenCreator interface {
	CreateToken(ctx context.Context, t agenttrace.Token, secretHash string) error
}

// Issue creates a token named name with scope, for user and team (both may be empty
// for an unbound token, as tokens were before they had users), and returns it with its
// secret, which exists nowhere else afterwards: the store keeps only its hash.
func Issue(ctx context.Context, store TokenCreator, name, scope, user, team string) (agenttrace.Token, string, error) {
	if err := checkIssue(name, scope, user, team); err != nil {
		return agenttrace.Token{}, "", err
	}
	secret, err := NewSecret()
	if err != nil {
		return agenttrace.Token{}, "", err
	}
	id, err := NewTokenID()
	if err != nil {
		return agenttrace.Token{}, "", err
	}
	t := agenttrace.Token{ID: id, Name: name, Scope: scope, User: user, Team: team, CreatedAt: time.Now().UTC()}
	if err := store.CreateToken(ctx, t, HashSecret(secret)); err != nil {
		return agenttrace.Token{}, "", fmt.Errorf("create token: %w", err)
	}
	return t, secret, nil
}

// checkIssue refuses a token the rules make useless or ambiguous, with a message that
// says what to pass instead.
func checkIssue(name, scope, user, team string) error {
	switch {
	case !ValidScope(scope):
		return fmt.Errorf("issue token: scope must be one of %s, not %q", strings.Join(Scopes, ", "), scope)
	case name == "":
		return errors.New("issue token: a name is required")
	case scope == agenttrace.ScopeReadOwn && user == "":
		return errors.New("issue token: read:own needs --user")
	case scope == agenttrace.ScopeReadTeam && team == "":
		return errors.New("issue token: read:team needs --team (and --user)")
	case team != "" && user == "":
		return errors.New("issue token: --team needs --user")
	}
	return nil
}
