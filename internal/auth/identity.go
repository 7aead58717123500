package auth

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// UserMismatch is why a batch is refused for a user-bound token: event Index names a user
// other than the token's, or belongs to a session stored under another user. It is an
// ErrForbidden (403); nothing of the batch is stored.
type UserMismatch struct {
	Index       int    // the event's index in the batch
	TokenUser   string // the token's user
	EventUser   string // the user the event names (after stamping)
	SessionID   string
	SessionUser string // set when the session is stored under another user
}

func (e *UserMismatch) Error() string {
	if e.SessionUser != "" {
		return fmt.Sprintf("event %d: session %s belongs to user %q; a token of user %q cannot add to it",
			e.Index, e.SessionID, e.SessionUser, e.TokenUser)
	}
	return fmt.Sprintf("event %d names user %q; a token of user %q may only send its own events",
		e.Index, e.EventUser, e.TokenUser)
}

// Is makes a UserMismatch an ErrForbidden, so every edge maps it to 403.
func (e *UserMismatch) Is(target error) bool { return target == ErrForbidden }

// BindEvents applies the ingest rule of user-bound tokens to a batch before it is stored,
// the one place every receiver (the hook collector, the OTLP receiver) calls:
//
//   - an unbound token (no user: tokens made before users, and Anonymous on a loopback
//     install without tokens) keeps each event's own user;
//   - a bound token stamps its user on every event without one; an event naming another
//     user is refused, unless the token is admin, which may relay any user's events;
//   - a bound token (admin aside) cannot add events to a session stored under another user.
//
// The ownership check runs before the ingest transaction, not in it: two first batches of
// one new session from two users racing each other can both pass. It closes the attack
// in the issue (writing into someone's existing session) at the cost of one indexed read.
func BindEvents(ctx context.Context, tok *agenttrace.Token, events []event.Event, owners agenttrace.Owners) error {
	if tok == nil || tok.User == "" {
		return nil
	}
	relay := tok.Scope == agenttrace.ScopeAdmin
	var ids []string
	first := map[string]int{} // session → index of its first event, for the problem
	for i := range events {
		e := &events[i]
		if e.User == "" {
			e.User = tok.User
		} else if e.User != tok.User && !relay {
			return &UserMismatch{Index: i, TokenUser: tok.User, EventUser: e.User, SessionID: e.SessionID}
		}
		if _, ok := first[e.SessionID]; !ok {
			first[e.SessionID] = i
			ids = append(ids, e.SessionID)
		}
	}
	if relay || owners == nil {
		return nil
	}
	// Ownership is a fact about the store, whatever the caller may read.
	stored, err := owners.SessionUsers(agenttrace.WithoutVisibleUsers(ctx), ids)
	if err != nil {
		return fmt.Errorf("check session owners: %w", err)
	}
	for _, id := range ids {
		if u, ok := stored[id]; ok && u != tok.User {
			return &UserMismatch{Index: first[id], TokenUser: tok.User, EventUser: tok.User, SessionID: id, SessionUser: u}
		}
	}
	return nil
}

// Restrict returns ctx narrowed to what tok may read: read:own its user's sessions,
// read:team those of every user of its team (teamUsers), anything else (read, read:all,
// admin, an unbound token, Anonymous) everything. Team membership is read from the users
// and token records, cached for verifyTTL like the tokens themselves.
func (v *Verifier) Restrict(ctx context.Context, tok *agenttrace.Token) (context.Context, error) {
	if tok == nil || tok.User == "" {
		return ctx, nil
	}
	switch tok.Scope {
	case agenttrace.ScopeReadOwn:
		return agenttrace.WithVisibleUsers(ctx, []string{tok.User}), nil
	case agenttrace.ScopeReadTeam:
		users, err := v.teamUsers(ctx, tok.Team)
		if err != nil {
			return ctx, err
		}
		if !slices.Contains(users, tok.User) {
			users = append(users, tok.User)
		}
		return agenttrace.WithVisibleUsers(ctx, users), nil
	}
	return ctx, nil
}

// teamUsers lists the users of team (Teams), cached for verifyTTL.
func (v *Verifier) teamUsers(ctx context.Context, team string) ([]string, error) {
	v.mu.Lock()
	if !v.teamsAt.IsZero() && time.Since(v.teamsAt) < verifyTTL {
		users := v.teams[team]
		v.mu.Unlock()
		return users, nil
	}
	v.mu.Unlock()
	teams, err := Teams(ctx, v.store)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.teams, v.teamsAt = teams, time.Now()
	v.mu.Unlock()
	return teams[team], nil
}

// Teams maps each team to its users: those the users table puts in it (when store keeps
// users) and those of its tokens, revoked ones included: a user who left the team's
// tokens behind still wrote its past sessions. It is the one rule of who is in a team,
// for read:team scopes and for team budgets alike.
func Teams(ctx context.Context, store interface {
	Tokens(ctx context.Context) ([]agenttrace.Token, error)
}) (map[string][]string, error) {
	teams := map[string][]string{}
	add := func(team, user string) {
		if team != "" && user != "" && !slices.Contains(teams[team], user) {
			teams[team] = append(teams[team], user)
		}
	}
	if us, ok := store.(interface {
		Users(context.Context) ([]agenttrace.User, error)
	}); ok {
		users, err := us.Users(ctx)
		if err != nil {
			return nil, fmt.Errorf("list team members: %w", err)
		}
		for _, u := range users {
			add(u.Team, u.Name)
		}
	}
	toks, err := store.Tokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("list team members: %w", err)
	}
	for _, t := range toks {
		add(t.Team, t.User)
	}
	return teams, nil
}

type tokenKey struct{}

// WithToken returns ctx carrying the token a request authenticated with, for handlers
// that apply a rule of the token's identity (ingest's BindEvents).
func WithToken(ctx context.Context, tok *agenttrace.Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, tok)
}

// TokenFrom returns the token WithToken put on ctx, or nil.
func TokenFrom(ctx context.Context) *agenttrace.Token {
	tok, _ := ctx.Value(tokenKey{}).(*agenttrace.Token)
	return tok
}

// Scope returns ctx carrying tok and narrowed to what tok may read (Restrict): what
// every edge does once a request is authenticated.
func (v *Verifier) Scope(ctx context.Context, tok *agenttrace.Token) (context.Context, error) {
	return v.Restrict(WithToken(ctx, tok), tok)
}

// EnsureUser makes sure a token about to be issued for user (and team) may be: a new
// user is recorded with team, a known one must not be disabled, and the token takes the
// user's team (team, when given, must be it: one user, one team, so read:team means the
// same people whichever token asks). It returns the team the token gets. An empty user
// (an unbound token) needs nothing.
func EnsureUser(ctx context.Context, store agenttrace.UserStore, user, team string) (string, error) {
	if user == "" {
		return team, nil
	}
	users, err := store.Users(ctx)
	if err != nil {
		return "", fmt.Errorf("check user %s: %w", user, err)
	}
	i := slices.IndexFunc(users, func(u agenttrace.User) bool { return u.Name == user })
	if i < 0 {
		if err := store.CreateUser(ctx, agenttrace.User{Name: user, Team: team}); err != nil {
			return "", fmt.Errorf("record user %s: %w", user, err)
		}
		return team, nil
	}
	u := users[i]
	switch {
	case u.DisabledAt != nil:
		return "", fmt.Errorf("user %s is disabled: its tokens were revoked and it gets no new ones", user)
	case team != "" && team != u.Team:
		return "", fmt.Errorf("user %s is in team %q, not %q: leave --team out to use the user's team", user, u.Team, team)
	}
	return u.Team, nil
}
