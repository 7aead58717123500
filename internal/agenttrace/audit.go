package agenttrace

import (
	"context"
	"time"
)

// Audit actions: what an AuditEntry records.
const (
	AuditTokenCreate    = "token.create"
	AuditTokenRevoke    = "token.revoke"
	AuditUserCreate     = "user.create"
	AuditUserDisable    = "user.disable"
	AuditSessionDelete  = "session.delete"
	AuditRetentionRun   = "retention.run"
	AuditRequestDenied  = "request.denied"
	AuditDashboardLogin = "dashboard.login"
	AuditDashboardOut   = "dashboard.logout"
)

// Audit outcomes.
const (
	AuditOK     = "ok"
	AuditDenied = "denied"
	AuditFailed = "failed"
)

// Actors that are no token: the server's own commands and its background jobs.
const (
	ActorCLI    = "cli"
	ActorSystem = "system"
)

// AuditEntry is one line of the append-only audit log: who (a token, ActorCLI or
// ActorSystem, or nobody for a request without credentials) did what to which target,
// how it went, and from where. Denied requests are aggregated: Count says how many
// requests of one actor and address, refused for one reason, one entry stands for.
type AuditEntry struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`                // token ID, "cli", "system", or "" for no credentials
	ActorName string    `json:"actor_name,omitempty"` // the token's name
	ActorUser string    `json:"actor_user,omitempty"` // the token's user; for "cli", the OS user
	Action    string    `json:"action"`
	Target    string    `json:"target,omitempty"` // token ID, user name, session ID, request
	Outcome   string    `json:"outcome"`          // ok, denied, failed
	Detail    string    `json:"detail,omitempty"`
	Remote    string    `json:"remote,omitempty"` // the peer address, when a request
	Count     int       `json:"count"`            // requests an aggregated entry stands for; 1 otherwise
}

// AuditFilter selects audit entries. Zero values mean "any".
type AuditFilter struct {
	Action   string
	From, To time.Time // Time within [From, To)
	Cursor   string    // opaque, from a previous page
	Limit    int       // 1..200; 0 is the default page size (50)
}

// AuditPage is one page of audit entries, newest first. NextCursor is empty on the last
// page.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor"`
}

// AuditLog is the append-only audit log. Entries are never changed; only PruneAudit
// removes them, by age.
type AuditLog interface {
	// AppendAudit appends entries in one write (their ID fields are ignored: the store
	// numbers entries in the order appended). An entry without an
	// action, outcome or time is ErrInvalid and nothing is appended.
	AppendAudit(ctx context.Context, entries ...AuditEntry) error
	// Audit returns one page of entries matching f, newest (last appended) first. A limit
	// outside 1..200 or a cursor the store did not make is ErrInvalid.
	Audit(ctx context.Context, f AuditFilter) (AuditPage, error)
	// PruneAudit erases the entries older than before and returns how many it erased.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}
