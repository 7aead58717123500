package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// SessionPrefix starts every dashboard session id. It is not SecretPrefix, so a session
// id is never mistaken for a token secret (IsSecret refuses it) and cannot be replayed as
// a bearer token.
const SessionPrefix = "ats_"

// SessionTTL is how long a dashboard login lasts at most; logout, revoking the token or
// disabling its user end it sooner.
const SessionTTL = 30 * 24 * time.Hour

// touchEvery spaces out the last-seen writes of a busy session: one per minute at most,
// not one per page and fragment.
const touchEvery = time.Minute

// maxUserAgent bounds the user agent kept with a session: it is for telling logins
// apart, not evidence.
const maxUserAgent = 256

// IsSessionID reports whether s has the shape of a dashboard session id.
func IsSessionID(s string) bool { return strings.HasPrefix(s, SessionPrefix) }

// Sessions starts, resolves and ends dashboard logins. The browser's cookie carries only
// the session id; the store keeps its hash (HashSecret), so a copy of the database opens
// no one's dashboard. Every request reads the session together with its token, uncached:
// logout, revoking the token or disabling its user ends the login at the next request.
type Sessions struct {
	store agenttrace.DashboardSessions
	now   func() time.Time
}

// NewSessions returns Sessions over store.
func NewSessions(store agenttrace.DashboardSessions) *Sessions {
	return &Sessions{store: store, now: time.Now}
}

// Start creates a session for tok and returns its id (the cookie's value) and when it
// expires. The caller has checked that tok may log in.
func (s *Sessions) Start(ctx context.Context, tok *agenttrace.Token, userAgent string) (string, time.Time, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, fmt.Errorf("start dashboard session: %w", err)
	}
	id := SessionPrefix + base64.RawURLEncoding.EncodeToString(b)
	if len(userAgent) > maxUserAgent {
		userAgent = userAgent[:maxUserAgent]
	}
	now := s.now().UTC()
	ds := agenttrace.DashboardSession{TokenID: tok.ID, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(SessionTTL), UserAgent: userAgent}
	if err := s.store.CreateDashboardSession(ctx, HashSecret(id), ds); err != nil {
		return "", time.Time{}, fmt.Errorf("start dashboard session: %w", err)
	}
	return id, ds.ExpiresAt, nil
}

// Resolve returns the live token of session id: ErrUnauthenticated when id is not a
// session id, or the session is unknown, ended, expired or its token revoked; any other
// error is a store failure.
func (s *Sessions) Resolve(ctx context.Context, id string) (*agenttrace.Token, error) {
	if !IsSessionID(id) {
		return nil, ErrUnauthenticated
	}
	hash := HashSecret(id)
	now := s.now()
	ds, tok, err := s.store.DashboardSession(ctx, hash, now)
	if errors.Is(err, agenttrace.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("resolve dashboard session: %w", err)
	}
	if now.Sub(ds.LastSeenAt) >= touchEvery {
		// Best effort: a failed touch must not refuse a valid session.
		_ = s.store.TouchDashboardSession(ctx, hash, now)
	}
	return &tok, nil
}

// End deletes session id and returns the token it belonged to (nil when the session was
// already over); an unknown or malformed id is no error (the login is over either way).
func (s *Sessions) End(ctx context.Context, id string) (*agenttrace.Token, error) {
	if !IsSessionID(id) {
		return nil, nil
	}
	hash := HashSecret(id)
	var tok *agenttrace.Token
	if _, t, err := s.store.DashboardSession(ctx, hash, s.now()); err == nil {
		tok = &t // for the audit: who logged out
	}
	err := s.store.DeleteDashboardSession(ctx, hash)
	if err != nil && !errors.Is(err, agenttrace.ErrNotFound) {
		return tok, fmt.Errorf("end dashboard session: %w", err)
	}
	return tok, nil
}
