package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Access implements the access-control tables both adapters share (dashboard sessions and
// the audit log) once, over the two functions each adapter supplies.
// Adapters embed it; its fields are unexported so they do not clash with Reader's.
type Access struct {
	dollar bool
	exec   func(ctx context.Context, q string, args ...any) (int64, error)
	query  func(ctx context.Context, q string, args []any, read func(Rows) error) error
}

// NewAccess returns an Access over exec, which runs a write and returns how many rows it
// changed, and query, which runs a read and hands its rows to read; dollar asks for
// numbered placeholders ($1, …), as PostgreSQL wants.
func NewAccess(dollar bool, exec func(ctx context.Context, q string, args ...any) (int64, error),
	query func(ctx context.Context, q string, args []any, read func(Rows) error) error) Access {
	return Access{dollar: dollar, exec: exec, query: query}
}

func (a Access) sql(q string) string {
	if a.dollar {
		return Dollars(q)
	}
	return q
}

// CreateDashboardSession stores a dashboard session. See agenttrace.DashboardSessions.
func (a Access) CreateDashboardSession(ctx context.Context, idHash string, s agenttrace.DashboardSession) error {
	if idHash == "" || s.TokenID == "" {
		return fmt.Errorf("create dashboard session: %w: id hash and token id are required", agenttrace.ErrInvalid)
	}
	_, err := a.exec(ctx, a.sql(`INSERT INTO dashboard_sessions (id_hash, token_id, created_ms, last_seen_ms, expires_ms, user_agent)
		VALUES (?, ?, ?, ?, ?, ?)`), idHash, s.TokenID, s.CreatedAt.UnixMilli(), s.LastSeenAt.UnixMilli(),
		s.ExpiresAt.UnixMilli(), s.UserAgent)
	if err != nil {
		return fmt.Errorf("create dashboard session: %w", err)
	}
	return nil
}

// DashboardSession returns a live session and its live token. See agenttrace.DashboardSessions.
func (a Access) DashboardSession(ctx context.Context, idHash string, now time.Time) (agenttrace.DashboardSession, agenttrace.Token, error) {
	var s agenttrace.DashboardSession
	var t agenttrace.Token
	found := false
	q := a.sql(`SELECT s.created_ms, s.last_seen_ms, s.expires_ms, s.user_agent,
			t.id, t.name, t.scope, t.created_ms, t.last_used_ms, t.revoked_ms, t.user_name, t.team
		FROM dashboard_sessions s JOIN tokens t ON t.id = s.token_id
		WHERE s.id_hash = ? AND s.expires_ms > ? AND t.revoked_ms IS NULL`)
	err := a.query(ctx, q, []any{idHash, now.UnixMilli()}, func(rows Rows) error {
		if !rows.Next() {
			return rows.Err()
		}
		found = true
		var created, seen, expires int64
		var err error
		t, err = ScanToken(prefixScanner{rows, []any{&created, &seen, &expires, &s.UserAgent}})
		s.CreatedAt, s.LastSeenAt = time.UnixMilli(created).UTC(), time.UnixMilli(seen).UTC()
		s.ExpiresAt, s.TokenID = time.UnixMilli(expires).UTC(), t.ID
		return err
	})
	if err != nil {
		return s, t, fmt.Errorf("dashboard session: %w", err)
	}
	if !found {
		return s, t, fmt.Errorf("dashboard session: %w", agenttrace.ErrNotFound)
	}
	return s, t, nil
}

// prefixScanner scans dest before the columns its caller asks for, so ScanToken can read
// the token columns that follow a session's.
type prefixScanner struct {
	sc   interface{ Scan(...any) error }
	dest []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.sc.Scan(append(p.dest, dest...)...) }

// TouchDashboardSession records a session's last use. See agenttrace.DashboardSessions.
func (a Access) TouchDashboardSession(ctx context.Context, idHash string, at time.Time) error {
	if _, err := a.exec(ctx, a.sql(`UPDATE dashboard_sessions SET last_seen_ms = ? WHERE id_hash = ?`), at.UnixMilli(), idHash); err != nil {
		return fmt.Errorf("touch dashboard session: %w", err)
	}
	return nil
}

// DeleteDashboardSession ends a session. See agenttrace.DashboardSessions.
func (a Access) DeleteDashboardSession(ctx context.Context, idHash string) error {
	n, err := a.exec(ctx, a.sql(`DELETE FROM dashboard_sessions WHERE id_hash = ?`), idHash)
	if err != nil {
		return fmt.Errorf("delete dashboard session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("delete dashboard session: %w", agenttrace.ErrNotFound)
	}
	return nil
}

// DeleteExpiredDashboardSessions sweeps ended sessions. See agenttrace.DashboardSessions.
func (a Access) DeleteExpiredDashboardSessions(ctx context.Context, now time.Time) (int, error) {
	n, err := a.exec(ctx, a.sql(`DELETE FROM dashboard_sessions WHERE expires_ms <= ?
		OR NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = dashboard_sessions.token_id AND t.revoked_ms IS NULL)`), now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("sweep dashboard sessions: %w", err)
	}
	return int(n), nil
}
