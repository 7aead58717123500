package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

type fakeOwners map[string]string

func (f fakeOwners) SessionUsers(_ context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		if u, ok := f[id]; ok {
			out[id] = u
		}
	}
	return out, nil
}

func TestBindEvents(t *testing.T) {
	bobIngest := &agenttrace.Token{Scope: agenttrace.ScopeIngest, User: "bob"}
	bobAdmin := &agenttrace.Token{Scope: agenttrace.ScopeAdmin, User: "bob"}
	unbound := &agenttrace.Token{Scope: agenttrace.ScopeIngest}
	owners := fakeOwners{"s-alice": "alice", "s-bob": "bob"}
	tests := []struct {
		name      string
		tok       *agenttrace.Token
		events    []event.Event
		wantErr   *UserMismatch // nil: accepted
		wantUsers []string      // the events' users afterwards, when accepted
	}{
		{"stamps empty user", bobIngest, []event.Event{{SessionID: "s-new"}, {SessionID: "s-bob", User: "bob"}}, nil, []string{"bob", "bob"}},
		{"other user refused", bobIngest, []event.Event{{SessionID: "s-new"}, {SessionID: "s-new", User: "alice"}},
			&UserMismatch{Index: 1, TokenUser: "bob", EventUser: "alice", SessionID: "s-new"}, nil},
		{"other user's session refused", bobIngest, []event.Event{{SessionID: "s-bob"}, {SessionID: "s-alice"}},
			&UserMismatch{Index: 1, TokenUser: "bob", EventUser: "bob", SessionID: "s-alice", SessionUser: "alice"}, nil},
		{"admin relays", bobAdmin, []event.Event{{SessionID: "s-alice", User: "alice"}, {SessionID: "s-x"}}, nil, []string{"alice", "bob"}},
		{"unbound keeps users", unbound, []event.Event{{SessionID: "s-alice", User: "alice"}, {SessionID: "s-x"}}, nil, []string{"alice", ""}},
		{"anonymous keeps users", Anonymous, []event.Event{{SessionID: "s-alice", User: "alice"}}, nil, []string{"alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := BindEvents(context.Background(), tt.tok, tt.events, owners)
			if tt.wantErr != nil {
				var got *UserMismatch
				if !errors.As(err, &got) || *got != *tt.wantErr || !errors.Is(err, ErrForbidden) {
					t.Fatalf("BindEvents = %v, want %+v (an ErrForbidden)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("BindEvents = %v, want nil", err)
			}
			var got []string
			for _, e := range tt.events {
				got = append(got, e.User)
			}
			if !slices.Equal(got, tt.wantUsers) {
				t.Errorf("users = %q, want %q", got, tt.wantUsers)
			}
		})
	}
}

type teamStore struct{ toks []agenttrace.Token }

func (s teamStore) Tokens(context.Context) ([]agenttrace.Token, error) { return s.toks, nil }
func (s teamStore) TokenBySecretHash(context.Context, string) (*agenttrace.Token, error) {
	return nil, agenttrace.ErrNotFound
}

func TestRestrict(t *testing.T) {
	v := NewVerifier(teamStore{toks: []agenttrace.Token{
		{User: "alice", Team: "red"}, {User: "bob", Team: "red"}, {User: "carol", Team: "blue"}, {User: "dave"},
	}}, true)
	tests := []struct {
		name       string
		tok        *agenttrace.Token
		restricted bool
		want       []string
	}{
		{"read:own", &agenttrace.Token{Scope: agenttrace.ScopeReadOwn, User: "alice"}, true, []string{"alice"}},
		{"read:team", &agenttrace.Token{Scope: agenttrace.ScopeReadTeam, User: "bob", Team: "red"}, true, []string{"alice", "bob"}},
		{"read:team of a new member", &agenttrace.Token{Scope: agenttrace.ScopeReadTeam, User: "erin", Team: "blue"}, true, []string{"carol", "erin"}},
		{"read:all", &agenttrace.Token{Scope: agenttrace.ScopeReadAll, User: "alice"}, false, nil},
		{"read (old tokens)", &agenttrace.Token{Scope: agenttrace.ScopeRead, User: "alice"}, false, nil},
		{"admin", &agenttrace.Token{Scope: agenttrace.ScopeAdmin, User: "alice"}, false, nil},
		{"unbound", &agenttrace.Token{Scope: agenttrace.ScopeRead}, false, nil},
		{"anonymous", Anonymous, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := v.Scope(context.Background(), tt.tok)
			if err != nil {
				t.Fatal(err)
			}
			got, restricted := agenttrace.VisibleUsers(ctx)
			slices.Sort(got)
			if restricted != tt.restricted || !slices.Equal(got, tt.want) {
				t.Errorf("visible users = %q (restricted %v), want %q (%v)", got, restricted, tt.want, tt.restricted)
			}
			if TokenFrom(ctx) != tt.tok {
				t.Errorf("TokenFrom = %p, want the token", TokenFrom(ctx))
			}
		})
	}
}

type fakeUsers struct{ users []agenttrace.User }

func (f *fakeUsers) Users(context.Context) ([]agenttrace.User, error) { return f.users, nil }
func (f *fakeUsers) CreateUser(_ context.Context, u agenttrace.User) error {
	f.users = append(f.users, u)
	return nil
}
func (f *fakeUsers) DisableUser(context.Context, string) (int, error) { return 0, nil }

func TestEnsureUser(t *testing.T) {
	disabled := time.Now()
	tests := []struct {
		name, user, team string
		wantTeam         string
		wantErr          bool
		wantCreated      bool
	}{
		{"unbound token", "", "", "", false, false},
		{"new user is recorded", "dave", "b", "b", false, true},
		{"new user without a team", "erin", "", "", false, true},
		{"known user takes its team", "alice", "", "a", false, false},
		{"known user, same team", "alice", "a", "a", false, false},
		{"known user, another team", "alice", "b", "", true, false},
		{"disabled user", "mallory", "", "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeUsers{users: []agenttrace.User{{Name: "alice", Team: "a"}, {Name: "mallory", DisabledAt: &disabled}}}
			team, err := EnsureUser(context.Background(), st, tt.user, tt.team)
			if (err != nil) != tt.wantErr || team != tt.wantTeam {
				t.Fatalf("EnsureUser(%q, %q) = %q, %v; want %q (error %v)", tt.user, tt.team, team, err, tt.wantTeam, tt.wantErr)
			}
			if got := len(st.users) == 3; got != tt.wantCreated {
				t.Errorf("user recorded = %v, want %v", got, tt.wantCreated)
			}
		})
	}
}

type teamUserStore struct {
	teamStore
	users []agenttrace.User
}

func (s teamUserStore) Users(context.Context) ([]agenttrace.User, error) { return s.users, nil }

// A user recorded in a team (user create --team) is a member before having any token.
func TestRestrictTeamFromUsers(t *testing.T) {
	v := NewVerifier(teamUserStore{
		teamStore: teamStore{toks: []agenttrace.Token{{User: "alice", Team: "red"}}},
		users:     []agenttrace.User{{Name: "alice", Team: "red"}, {Name: "frank", Team: "red"}, {Name: "carol", Team: "blue"}},
	}, true)
	ctx, err := v.Scope(context.Background(), &agenttrace.Token{Scope: agenttrace.ScopeReadTeam, User: "alice", Team: "red"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := agenttrace.VisibleUsers(ctx)
	slices.Sort(got)
	if want := []string{"alice", "frank"}; !slices.Equal(got, want) {
		t.Errorf("visible users = %q, want %q", got, want)
	}
}
