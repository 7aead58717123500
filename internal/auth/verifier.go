package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// verifyTTL bounds how long a verified token or the "auth is on" answer is reused without
// asking the store again: a revoked token stops working within it.
const verifyTTL = 5 * time.Second

// TokenStore is what a Verifier reads: the store's token records.
type TokenStore interface {
	Tokens(ctx context.Context) ([]agenttrace.Token, error)
	TokenBySecretHash(ctx context.Context, hash string) (*agenttrace.Token, error)
}

// Verifier resolves secrets to tokens through the store, caching answers briefly so a
// busy hook does not cost a store read per request.
type Verifier struct {
	store  TokenStore
	forced bool

	mu       sync.Mutex
	on       bool
	onAt     time.Time
	verified map[string]cachedToken // by secret hash
	teams    map[string][]string    // team → its users, from the token records
	teamsAt  time.Time
}

type cachedToken struct {
	tok *agenttrace.Token
	at  time.Time
}

// NewVerifier returns a Verifier over store; forced turns auth on even before any token
// exists.
func NewVerifier(store TokenStore, forced bool) *Verifier {
	return &Verifier{store: store, forced: forced, verified: map[string]cachedToken{}}
}

// Enabled reports whether requests must carry a token: forced on, or any live token
// exists (creating the first token is how a user turns auth on).
func (v *Verifier) Enabled(ctx context.Context) (bool, error) {
	if v.forced {
		return true, nil
	}
	v.mu.Lock()
	if !v.onAt.IsZero() && time.Since(v.onAt) < verifyTTL {
		on := v.on
		v.mu.Unlock()
		return on, nil
	}
	v.mu.Unlock()
	toks, err := v.store.Tokens(ctx)
	if err != nil {
		v.mu.Lock()
		defer v.mu.Unlock()
		if !v.onAt.IsZero() {
			// Keep answering as before while the store is briefly unreachable, so the
			// requests themselves get the precise failure (a retryable 503 on ingest).
			return v.on, nil
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
	v.mu.Lock()
	v.on, v.onAt = on, time.Now()
	v.mu.Unlock()
	return on, nil
}

// Lookup resolves a secret to its live token, or ErrUnauthenticated. It works whether
// or not auth is on (the dashboard's login form uses it).
func (v *Verifier) Lookup(ctx context.Context, secret string) (*agenttrace.Token, error) {
	if !IsSecret(secret) {
		return nil, ErrUnauthenticated
	}
	hash := HashSecret(secret)
	v.mu.Lock()
	c, ok := v.verified[hash]
	v.mu.Unlock()
	if ok && time.Since(c.at) < verifyTTL {
		return c.tok, nil
	}
	tok, err := v.store.TokenBySecretHash(ctx, hash)
	if errors.Is(err, agenttrace.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	v.mu.Lock()
	if len(v.verified) > 1024 {
		clear(v.verified)
	}
	v.verified[hash] = cachedToken{tok: tok, at: time.Now()}
	v.mu.Unlock()
	return tok, nil
}

// Authenticate resolves secret to a token: Anonymous when auth is off, otherwise the
// live token or ErrUnauthenticated; any other error is a store failure.
func (v *Verifier) Authenticate(ctx context.Context, secret string) (*agenttrace.Token, error) {
	on, err := v.Enabled(ctx)
	if err != nil {
		return nil, err
	}
	if !on {
		return Anonymous, nil
	}
	if secret == "" {
		return nil, ErrUnauthenticated
	}
	return v.Lookup(ctx, secret)
}
