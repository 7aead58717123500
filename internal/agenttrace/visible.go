package agenttrace

import (
	"context"
	"slices"
)

type visibleKey struct{}

// visible is the restriction a context carries; on is false once lifted.
type visible struct {
	users []string
	on    bool
}

// WithVisibleUsers returns ctx restricted to the sessions of users: every read made with
// it (Reader, Analytics, Owners) sees only sessions whose user is one of them, and their
// commits, pull requests, events and costs. An empty users restricts to nothing at all.
// The edges set it once per request from the token's read scope, so no handler has its
// own copy of the rule; a context without it reads everything.
func WithVisibleUsers(ctx context.Context, users []string) context.Context {
	return context.WithValue(ctx, visibleKey{}, visible{users: slices.Clone(users), on: true})
}

// WithoutVisibleUsers lifts the restriction from ctx, for reads about the store rather
// than for the requester (who owns a session the requester is writing to).
func WithoutVisibleUsers(ctx context.Context) context.Context {
	if _, restricted := VisibleUsers(ctx); !restricted {
		return ctx
	}
	return context.WithValue(ctx, visibleKey{}, visible{})
}

// VisibleUsers returns the users ctx is restricted to, and whether it is restricted.
func VisibleUsers(ctx context.Context) (users []string, restricted bool) {
	v, _ := ctx.Value(visibleKey{}).(visible)
	return v.users, v.on
}

// CanSee reports whether a read made with ctx may see a session of user.
func CanSee(ctx context.Context, user string) bool {
	u, ok := VisibleUsers(ctx)
	return !ok || slices.Contains(u, user)
}
