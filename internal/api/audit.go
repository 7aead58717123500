package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

type auditInput struct {
	Cursor string    `query:"cursor" doc:"Opaque cursor from a previous page's next_cursor."`
	Limit  int       `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Action string    `query:"action" enum:"token.create,token.revoke,user.create,user.disable,session.delete,retention.run,request.denied,dashboard.login,dashboard.logout" doc:"Only entries of this action."`
	From   time.Time `query:"from" doc:"Only entries at or after this time (RFC 3339)." example:"2026-11-01T00:00:00Z"`
	To     time.Time `query:"to" doc:"Only entries before this time (RFC 3339)."`
}

type auditOutput struct{ Body agenttrace.AuditPage }

var exAudit = agenttrace.AuditPage{Entries: []agenttrace.AuditEntry{
	{ID: 42, Time: time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC), Actor: "tok_3f1c2a9e8b7d4c6e", ActorName: "lead-dash",
		ActorUser: "bob", Action: agenttrace.AuditRequestDenied, Target: "GET /v1/audit", Outcome: agenttrace.AuditDenied,
		Detail: "the token's scope does not allow this", Remote: "192.0.2.7", Count: 3},
	{ID: 41, Time: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), Actor: agenttrace.ActorCLI,
		Action: agenttrace.AuditTokenRevoke, Target: "tok_9a8b7c6d5e4f3a2b", Outcome: agenttrace.AuditOK, Count: 1},
}, NextCursor: "15"}

func (a *API) registerAudit(api huma.API) {
	huma.Register(api, scoped(withExample(huma.Operation{
		OperationID: "list-audit",
		Method:      http.MethodGet,
		Path:        "/v1/audit",
		Summary:     "Read the audit log",
		Description: "The append-only audit log, newest first: token creation and revocation, user creation and " +
			"disabling, session deletions, retention runs, dashboard logins and logouts, and refused requests " +
			"(401 and 403 at the API, the collector, the OTLP receiver and the dashboard). Refused requests are " +
			"written once a minute, one entry per actor, address, request and reason, with `count` saying how many it " +
			"stands for. Actors are token IDs, `cli` (agent-trace-server's commands), `system` (background jobs), " +
			"or empty for a request without valid credentials. Needs the admin scope; a refused read is itself audited.",
		Tags:   []string{"Audit"},
		Errors: []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, exAudit), agenttrace.ScopeAdmin), a.listAudit)
}

func (a *API) listAudit(ctx context.Context, in *auditInput) (*auditOutput, error) {
	page, err := a.store.Audit(ctx, agenttrace.AuditFilter{Action: in.Action, From: in.From, To: in.To,
		Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, a.storeError(ctx, "list audit", err)
	}
	return &auditOutput{Body: page}, nil
}
