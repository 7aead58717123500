package agenttrace

import (
	"context"
	"time"
)

// DashboardSession is one dashboard login: the browser's cookie carries a random session
// id, never the token, so logging out or revoking the token ends it on the server. The
// store keeps only the id's hash.
type DashboardSession struct {
	TokenID    string    `json:"token_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent,omitempty"`
}

// DashboardSessions keeps dashboard logins, by the hash of their id.
type DashboardSessions interface {
	// CreateDashboardSession stores s under idHash. An empty hash or token ID is
	// ErrInvalid; a hash already stored is an error (ids are 32 random bytes).
	CreateDashboardSession(ctx context.Context, idHash string, s DashboardSession) error
	// DashboardSession returns the session stored under idHash with its token, read in
	// one query so a revoked token (or a disabled user, whose tokens are revoked) ends
	// the session at once: ErrNotFound when there is no such session, it expired at now,
	// or its token is revoked.
	DashboardSession(ctx context.Context, idHash string, now time.Time) (DashboardSession, Token, error)
	// TouchDashboardSession records that the session was used at at; an unknown hash is
	// no error (the session may have just ended).
	TouchDashboardSession(ctx context.Context, idHash string, at time.Time) error
	// DeleteDashboardSession ends a session (logout); ErrNotFound when there is none.
	DeleteDashboardSession(ctx context.Context, idHash string) error
	// DeleteExpiredDashboardSessions erases the sessions expired at now and those whose
	// token is revoked or gone, and returns how many it erased.
	DeleteExpiredDashboardSessions(ctx context.Context, now time.Time) (int, error)
}
