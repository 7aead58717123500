package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

func TestAllows(t *testing.T) {
	const ingest, read, admin = agenttrace.ScopeIngest, agenttrace.ScopeRead, agenttrace.ScopeAdmin
	tests := []struct {
		have, need string
		want       bool
	}{
		{ingest, ingest, true}, {ingest, read, false}, {ingest, admin, false},
		{read, ingest, false}, {read, read, true}, {read, admin, false},
		{admin, ingest, true}, {admin, read, true}, {admin, admin, true},
		{"revoked", read, false}, {"", read, false},
		{agenttrace.ScopeReadOwn, read, true}, {agenttrace.ScopeReadTeam, read, true}, {agenttrace.ScopeReadAll, read, true},
		{agenttrace.ScopeReadOwn, ingest, false}, {agenttrace.ScopeReadAll, admin, false}, {ingest, agenttrace.ScopeReadAll, false},
	}
	for _, tt := range tests {
		if got := Allows(tt.have, tt.need); got != tt.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestValidScope(t *testing.T) {
	tests := []struct {
		scope string
		want  bool
	}{
		{agenttrace.ScopeIngest, true}, {agenttrace.ScopeRead, true}, {agenttrace.ScopeAdmin, true},
		{agenttrace.ScopeReadOwn, true}, {agenttrace.ScopeReadTeam, true}, {agenttrace.ScopeReadAll, true},
		{"read:other", false}, {"", false}, {"Admin", false}, {"write", false},
	}
	for _, tt := range tests {
		if got := ValidScope(tt.scope); got != tt.want {
			t.Errorf("ValidScope(%q) = %v, want %v", tt.scope, got, tt.want)
		}
	}
}

func TestSecrets(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if !strings.HasPrefix(a, SecretPrefix) || !IsSecret(a) || a == b || len(a) != len(SecretPrefix)+43 {
		t.Errorf("NewSecret = %q, %q: want two distinct at_ secrets of 32 random bytes", a, b)
	}
	// The hash is what every store already holds: hex SHA-256 of the whole secret.
	if got, want := HashSecret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("HashSecret(abc) = %q, want %q", got, want)
	}
	if again := HashSecret(a); HashSecret(a) == HashSecret(b) || HashSecret(a) != again {
		t.Error("HashSecret is not a function of the secret")
	}
	id, err := NewTokenID()
	if err != nil || !strings.HasPrefix(id, "tok_") || len(id) != len("tok_")+16 {
		t.Errorf("NewTokenID = %q, %v", id, err)
	}
	for _, tt := range []struct {
		s    string
		want bool
	}{{"at_abc", true}, {"", false}, {"abc", false}, {"AT_abc", false}} {
		if got := IsSecret(tt.s); got != tt.want {
			t.Errorf("IsSecret(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestCredential(t *testing.T) {
	tests := []struct {
		authorization, cookie, want string
	}{
		{"Bearer at_x", "", "at_x"},
		{"bearer  at_x ", "at_c", "at_x"},
		{"BEARER at_x", "", "at_x"},
		{"Bearer ", "at_c", "at_c"}, // no secret after the scheme: fall back to the cookie
		{"Basic dXNlcjpwYXNz", "at_c", "at_c"},
		{"", "at_c", "at_c"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := Credential(tt.authorization, tt.cookie); got != tt.want {
			t.Errorf("Credential(%q, %q) = %q, want %q", tt.authorization, tt.cookie, got, tt.want)
		}
	}
}

// headers builds a header reader from "Name: value" pairs.
func headers(kv ...string) func(string) string {
	h := http.Header{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, ": ")
		h.Set(k, v)
	}
	return h.Get
}

// The cases of api's TestCrossSiteWritesAreRefused and web's TestLoginCrossOriginRefused,
// against both rules: they agree on every request that names a source, and differ only
// on one that names none.
func TestOriginRules(t *testing.T) {
	tests := []struct {
		name     string
		host     string
		hdr      []string
		notCross bool // NotCrossSite admits it (API writes)
		same     bool // SameOrigin admits it (dashboard forms)
	}{
		// From the API's cases (Host: example.com).
		{"another site", "example.com", []string{"Origin: https://evil.example"}, false, false},
		{"another port of this host", "example.com", []string{"Origin: http://example.com:3100"}, false, false},
		{"opaque origin", "example.com", []string{"Origin: null"}, false, false},
		{"fetch metadata cross-site", "example.com", []string{"Sec-Fetch-Site: cross-site"}, false, false},
		{"fetch metadata same-site", "example.com", []string{"Sec-Fetch-Site: same-site"}, false, false},
		{"same origin", "example.com", []string{"Origin: http://example.com", "Sec-Fetch-Site: same-origin"}, true, true},
		{"no browser headers", "example.com", nil, true, false},
		// From the dashboard's cases (Host: dash.example:3100).
		{"dashboard same origin", "dash.example:3100", []string{"Origin: http://dash.example:3100"}, true, true},
		{"referer only", "dash.example:3100", []string{"Referer: http://dash.example:3100/login?next=%2F"}, true, true},
		{"other origin", "dash.example:3100", []string{"Origin: https://evil.example"}, false, false},
		{"other port", "dash.example:3100", []string{"Origin: http://dash.example:8080"}, false, false},
		{"null origin", "dash.example:3100", []string{"Origin: null"}, false, false},
		{"other referer", "dash.example:3100", []string{"Referer: https://evil.example/dash.example:3100"}, false, false},
		{"cross-site fetch metadata", "dash.example:3100", []string{"Origin: http://dash.example:3100", "Sec-Fetch-Site: cross-site"}, false, false},
		{"same-site fetch metadata", "dash.example:3100", []string{"Origin: http://dash.example:3100", "Sec-Fetch-Site: same-site"}, false, false},
		{"same-origin fetch metadata", "dash.example:3100", []string{"Origin: http://dash.example:3100", "Sec-Fetch-Site: same-origin"}, true, true},
		{"fetch metadata none", "dash.example:3100", []string{"Origin: http://dash.example:3100", "Sec-Fetch-Site: none"}, true, true},
		{"same-origin fetch metadata, no source", "dash.example:3100", []string{"Sec-Fetch-Site: same-origin"}, true, false},
		{"behind a proxy", "127.0.0.1:3100", []string{"Origin: https://trace.example.com", "X-Forwarded-Host: trace.example.com"}, true, true},
		{"behind two proxies", "127.0.0.1:3100", []string{"Origin: https://trace.example.com", "X-Forwarded-Host: trace.example.com, inner.lan"}, true, true},
		{"behind a proxy, other origin", "127.0.0.1:3100", []string{"Origin: https://evil.example", "X-Forwarded-Host: trace.example.com"}, false, false},
		// Only http(s) origins with a host can be this server.
		{"other scheme", "example.com", []string{"Origin: ftp://example.com"}, false, false},
		{"no host", "example.com", []string{"Origin: example.com"}, false, false},
		{"unparsable", "example.com", []string{"Origin: http://exa mple.com"}, false, false},
		{"host case", "Example.COM", []string{"Origin: http://example.com"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := headers(tt.hdr...)
			if got := NotCrossSite(h, tt.host) == nil; got != tt.notCross {
				t.Errorf("NotCrossSite admits = %v, want %v", got, tt.notCross)
			}
			err := SameOrigin(h, tt.host)
			if got := err == nil; got != tt.same {
				t.Errorf("SameOrigin admits = %v, want %v", got, tt.same)
			}
			if err != nil && !errors.Is(err, ErrCrossSite) {
				t.Errorf("SameOrigin error = %v, want ErrCrossSite", err)
			}
		})
	}
}

// fakeTokens is a TokenStore over a map of secret hash → token.
type fakeTokens struct {
	byHash map[string]agenttrace.Token
	err    error
	calls  int
}

func (f *fakeTokens) Tokens(context.Context) ([]agenttrace.Token, error) {
	f.calls++
	var out []agenttrace.Token
	for _, t := range f.byHash {
		out = append(out, t)
	}
	return out, f.err
}

func (f *fakeTokens) TokenBySecretHash(_ context.Context, hash string) (*agenttrace.Token, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	t, ok := f.byHash[hash]
	if !ok || t.RevokedAt != nil {
		return nil, agenttrace.ErrNotFound
	}
	return &t, nil
}

func TestVerifier(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	st := &fakeTokens{byHash: map[string]agenttrace.Token{}}
	v := NewVerifier(st, false)

	// With no token, auth is off and everyone is Anonymous (admin).
	if tok, err := v.Authenticate(ctx, ""); err != nil || tok != Anonymous {
		t.Fatalf("no tokens: Authenticate = %v, %v; want Anonymous", tok, err)
	}
	// A revoked token does not turn auth on.
	st.byHash[HashSecret("at_revoked")] = agenttrace.Token{ID: "r", Scope: agenttrace.ScopeRead, RevokedAt: &now}
	if on, err := NewVerifier(st, false).Enabled(ctx); err != nil || on {
		t.Errorf("only a revoked token: Enabled = %v, %v; want false", on, err)
	}
	st.byHash[HashSecret("at_read")] = agenttrace.Token{ID: "t1", Scope: agenttrace.ScopeRead}
	v = NewVerifier(st, false)
	tests := []struct {
		secret string
		wantID string
		err    error
	}{
		{"at_read", "t1", nil},
		{"", "", ErrUnauthenticated},
		{"at_unknown", "", ErrUnauthenticated},
		{"at_revoked", "", ErrUnauthenticated},
		{"read", "", ErrUnauthenticated}, // not a secret: refused without a store read
	}
	for _, tt := range tests {
		tok, err := v.Authenticate(ctx, tt.secret)
		if !errors.Is(err, tt.err) || (tt.err == nil && tok.ID != tt.wantID) {
			t.Errorf("Authenticate(%q) = %v, %v; want %q, %v", tt.secret, tok, err, tt.wantID, tt.err)
		}
	}

	// Answers are cached: a store outage right after is not seen within the TTL.
	calls := st.calls
	st.err = errors.New("store down")
	if tok, err := v.Authenticate(ctx, "at_read"); err != nil || tok.ID != "t1" || st.calls != calls {
		t.Errorf("cached Authenticate = %v, %v (%d store calls); want t1 from the cache", tok, err, st.calls-calls)
	}
	// An uncached secret during the outage is a store failure, not a refusal.
	if _, err := v.Lookup(ctx, "at_other"); err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Lookup during an outage = %v, want a store error", err)
	}
	// A fresh verifier cannot tell whether auth is on: that is an error too.
	if _, err := NewVerifier(st, false).Enabled(ctx); err == nil {
		t.Error("Enabled with the store down and nothing cached = nil error")
	}
	// Forced on needs no store to answer.
	if on, err := NewVerifier(st, true).Enabled(ctx); err != nil || !on {
		t.Errorf("forced: Enabled = %v, %v", on, err)
	}
}

type fakeCreator struct {
	tok  agenttrace.Token
	hash string
	err  error
}

func (f *fakeCreator) CreateToken(_ context.Context, t agenttrace.Token, hash string) error {
	f.tok, f.hash = t, hash
	return f.err
}

func TestIssue(t *testing.T) {
	ctx := context.Background()
	st := &fakeCreator{}
	tok, secret, err := Issue(ctx, st, "laptop", agenttrace.ScopeIngest, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !IsSecret(secret) || st.hash != HashSecret(secret) {
		t.Errorf("stored hash %q for secret %q, want its HashSecret", st.hash, secret)
	}
	if tok != st.tok || tok.Name != "laptop" || tok.Scope != agenttrace.ScopeIngest || !strings.HasPrefix(tok.ID, "tok_") || tok.CreatedAt.IsZero() {
		t.Errorf("Issue = %+v, stored %+v", tok, st.tok)
	}

	tests := []struct {
		name, scope, user, team string
		storeErr                error
	}{
		{"laptop", "write", "", "", nil},
		{"", agenttrace.ScopeRead, "", "", nil},
		{"laptop", agenttrace.ScopeRead, "", "", errors.New("disk full")},
		{"mine", agenttrace.ScopeReadOwn, "", "", nil},
		{"team", agenttrace.ScopeReadTeam, "bob", "", nil},
		{"teamless", agenttrace.ScopeIngest, "", "red", nil},
	}
	for _, tt := range tests {
		st := &fakeCreator{err: tt.storeErr}
		if _, secret, err := Issue(ctx, st, tt.name, tt.scope, tt.user, tt.team); err == nil || secret != "" {
			t.Errorf("Issue(%q, %q) with store error %v = %q, %v; want an error and no secret", tt.name, tt.scope, tt.storeErr, secret, err)
		}
		if tt.storeErr != nil {
			if _, _, err := Issue(ctx, st, tt.name, tt.scope, tt.user, tt.team); !errors.Is(err, tt.storeErr) {
				t.Errorf("store failure not wrapped: %v", err)
			}
		}
	}
}
