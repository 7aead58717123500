package agenttrace

import (
	"context"
	"slices"
)

type visibleKey struct{}

// WithVisibleUsers returns ctx restricted to the sessions of users: every read made with
// it (Reader, Analytics, Owners) sees only sessions whose user is one of them, and their
// commits, pull requests, events and costs. An empty users restricts to nothing at all.
// The edges set it once per request from the token's read scope, so no handler has its
// own copy of the rule; a context without it reads everything.
func WithVisibleUsers(ctx context.Context, users []string) context.Context {
	return context.WithValue(ctx, visibleKey{}, slices.Clone(users))
}

// VisibleUsers returns the users ctx is restricted to, and whether it is restricted.
func VisibleUsers(ctx context.Context) (users []string, restricted bool) {
	u, ok := ctx.Value(visibleKey{}).([]string)
	return u, ok
}

// CanSee reports whether a read made with ctx may see a session of user.
func CanSee(ctx context.Context, user string) bool {
	u, ok := VisibleUsers(ctx)
	return !ok || slices.Contains(u, user)
}
