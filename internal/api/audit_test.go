package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/api"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// mustToken stores a token of scope with id and returns its secret.
func mustToken(tb testing.TB, e *env, id, scope, user string) string {
	tb.Helper()
	secret, err := auth.NewSecret()
	if err != nil {
		tb.Fatal(err)
	}
	tok := agenttrace.Token{ID: id, Name: id + "-name", Scope: scope, User: user, CreatedAt: time.Now()}
	if err := e.store.CreateToken(context.Background(), tok, auth.HashSecret(secret)); err != nil {
		tb.Fatal(err)
	}
	return secret
}

// auditPage reads GET /v1/audit with the admin secret.
func auditPage(tb testing.TB, e *env, admin, query string) agenttrace.AuditPage {
	tb.Helper()
	if err := e.api.Audit().Flush(context.Background()); err != nil {
		tb.Fatal(err)
	}
	resp := e.http.Get("/v1/audit"+query, "Authorization: Bearer "+admin)
	if resp.Code != http.StatusOK {
		tb.Fatalf("GET /v1/audit%s: %d %s", query, resp.Code, resp.Body)
	}
	return decode[agenttrace.AuditPage](tb, resp.Body.Bytes())
}

// Only admins read the audit log; a read token's attempt is refused and itself audited,
// with its token as the actor. A flood of refused requests is one entry with a count.
func TestAuditNeedsAdminAndRecordsDenials(t *testing.T) {
	e := mustEnv(t, api.Options{Auth: true})
	admin := mustToken(t, e, "tok_admin", agenttrace.ScopeAdmin, "")
	read := mustToken(t, e, "tok_read", agenttrace.ScopeRead, "ann")
	if got := e.http.Get("/v1/audit", "Authorization: Bearer "+read).Code; got != http.StatusForbidden {
		t.Fatalf("read token: %d, want 403", got)
	}
	for range 50 {
		if got := e.http.Get("/v1/sessions", "Authorization: Bearer at_wrong").Code; got != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d, want 401", got)
		}
	}
	page := auditPage(t, e, admin, "?action=request.denied")
	byActor := map[string]agenttrace.AuditEntry{}
	for _, en := range page.Entries {
		byActor[en.Actor] = en
	}
	if en := byActor["tok_read"]; en.Target != "GET /v1/audit" || en.ActorUser != "ann" || en.ActorName != "tok_read-name" ||
		en.Outcome != agenttrace.AuditDenied || en.Count != 1 {
		t.Errorf("the read token's refusal: %+v", en)
	}
	if en := byActor[""]; en.Target != "GET /v1/sessions" || en.Count != 50 {
		t.Errorf("50 refused requests without valid credentials: %+v, want one entry counting 50", en)
	}
	if len(page.Entries) != 2 {
		t.Errorf("%d denial entries, want 2: %+v", len(page.Entries), page.Entries)
	}
}

// Deleting a session is audited with the deleting token; the log pages newest first
// and filters by action and time.
func TestAuditRecordsSessionDeletes(t *testing.T) {
	e := mustEnv(t, api.Options{Auth: true})
	admin := mustToken(t, e, "tok_admin", agenttrace.ScopeAdmin, "root")
	f := fixture(t, "commit")
	mustIngest(t, e, f.Events, "Authorization: Bearer "+admin)
	if got := e.http.Delete("/v1/sessions/"+f.SessionID, "Authorization: Bearer "+admin).Code; got != http.StatusNoContent {
		t.Fatalf("delete: %d", got)
	}
	if got := e.http.Delete("/v1/sessions/"+f.SessionID, "Authorization: Bearer "+admin).Code; got != http.StatusNotFound {
		t.Fatalf("delete again: %d", got)
	}
	page := auditPage(t, e, admin, "?action=session.delete&limit=1")
	if len(page.Entries) != 1 || page.NextCursor == "" {
		t.Fatalf("first page: %+v", page)
	}
	if en := page.Entries[0]; en.Outcome != agenttrace.AuditFailed || en.Target != f.SessionID {
		t.Errorf("newest: %+v, want the failed second delete", en)
	}
	page = auditPage(t, e, admin, "?action=session.delete&limit=1&cursor="+page.NextCursor)
	if len(page.Entries) != 1 || page.NextCursor != "" {
		t.Fatalf("second page: %+v", page)
	}
	if en := page.Entries[0]; en.Outcome != agenttrace.AuditOK || en.Actor != "tok_admin" || en.ActorUser != "root" || en.Target != f.SessionID {
		t.Errorf("delete entry: %+v", en)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if page := auditPage(t, e, admin, "?from="+future); len(page.Entries) != 0 {
		t.Errorf("entries from the future: %+v", page.Entries)
	}
	if got := e.http.Get("/v1/audit?cursor=@@", "Authorization: Bearer "+admin).Code; got != http.StatusUnprocessableEntity && got != http.StatusBadRequest {
		t.Errorf("bad cursor: %d, want 4xx", got)
	}
}
