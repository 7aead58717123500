package otlp_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/otlp"
)

// identityTokens are the tokens of TestUserBoundTokens, by secret.
var identityTokens = map[string]*agenttrace.Token{
	"bob":     {Scope: agenttrace.ScopeIngest, User: "bob"},
	"relay":   {Scope: agenttrace.ScopeAdmin, User: "bob"},
	"unbound": {Scope: agenttrace.ScopeIngest},
}

func identityAuth(_ context.Context, authorization, _ string) (*agenttrace.Token, error) {
	for secret, tok := range identityTokens {
		if authorization == "Bearer "+secret {
			return tok, nil
		}
	}
	return nil, fmt.Errorf("check token: %w", auth.ErrUnauthenticated)
}

// userLogs is one Claude Code log record of session, naming user (user.email) unless empty.
func userLogs(tb testing.TB, session, user string, at time.Time) []byte {
	tb.Helper()
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	lr.Body().SetStr("claude_code.hook_registered")
	lr.Attributes().PutStr("event.name", "hook_registered")
	lr.Attributes().PutStr("session.id", session)
	if user != "" {
		lr.Attributes().PutStr("user.email", user)
	}
	pb, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	return pb
}

// The OTLP receiver applies the collector's ingest rule (auth.BindEvents): a user-bound
// token stamps its user on records that name none, and a record naming another user or
// going into another user's session refuses the request with 403 / PermissionDenied,
// storing nothing; an admin token relays any user and an unbound one keeps the records'
// users, as before tokens had users.
func TestUserBoundTokens(t *testing.T) {
	s := mustServer(t, otlp.Options{Authorize: identityAuth})
	t0 := time.Now().Add(-time.Hour)
	// alice's session exists, sent by an unbound token in alice's name.
	if resp, out := postHTTP(t, s.URL, "logs", userLogs(t, "s-alice", "alice", t0), "application/x-protobuf", "", "unbound"); resp.StatusCode != http.StatusOK {
		t.Fatalf("seeding alice's session: HTTP %d %s", resp.StatusCode, out)
	}
	tests := []struct {
		name, token, session, user string
		refused                    bool
		wantOwner                  string // the session's user afterwards ("" for not stored)
	}{
		{"bob's own records get his user", "bob", "s-bob", "", false, "bob"},
		{"a record naming alice is refused", "bob", "s-new", "alice", true, ""},
		{"bob's records into alice's session are refused", "bob", "s-alice", "", true, "alice"},
		{"an admin token relays alice's records", "relay", "s-alice", "alice", false, "alice"},
		{"an unbound token keeps the record's user", "unbound", "s-carol", "carol", false, "carol"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for j, transport := range []string{"http", "grpc"} {
				before := s.kinds(t)["otel_event"]
				pb := userLogs(t, tt.session, tt.user, t0.Add(time.Duration(2*i+j+1)*time.Second))
				var refused bool
				if transport == "http" {
					resp, out := postHTTP(t, s.URL, "logs", pb, "application/x-protobuf", "", tt.token)
					refused = resp.StatusCode == http.StatusForbidden
					if !refused && resp.StatusCode != http.StatusOK {
						t.Fatalf("HTTP %d %s", resp.StatusCode, out)
					}
				} else {
					_, err := exportGRPC(context.Background(), mustGRPC(t, s.Addr), "logs", pb, false, tt.token)
					refused = status.Code(err) == codes.PermissionDenied
					if !refused && err != nil {
						t.Fatalf("gRPC: %v", err)
					}
				}
				if refused != tt.refused {
					t.Errorf("%s: refused %v, want %v", transport, refused, tt.refused)
				}
				if got, want := s.kinds(t)["otel_event"]-before, map[bool]int{true: 0, false: 1}[tt.refused]; got != want {
					t.Errorf("%s: stored %d events, want %d", transport, got, want)
				}
			}
			users, err := s.Store.SessionUsers(context.Background(), []string{tt.session})
			if err != nil {
				t.Fatal(err)
			}
			if got := users[tt.session]; got != tt.wantOwner {
				t.Errorf("session %s belongs to %q, want %q", tt.session, got, tt.wantOwner)
			}
		})
	}
}
