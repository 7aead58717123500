package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// auditCols are the audit_log columns an entry is written to and read from, in order.
const auditCols = `time_ms, actor, actor_name, actor_user, action, target, outcome, detail, remote, count`

// maxAuditRows is how many entries one INSERT writes at most.
const maxAuditRows = 500

// AppendAudit appends entries in one statement. See agenttrace.AuditLog.
func (a Access) AppendAudit(ctx context.Context, entries ...agenttrace.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if len(entries) > maxAuditRows { // stay well below SQLite's 32766 bound parameters
		if err := a.AppendAudit(ctx, entries[:maxAuditRows]...); err != nil {
			return err
		}
		return a.AppendAudit(ctx, entries[maxAuditRows:]...)
	}
	rows := make([]string, 0, len(entries))
	args := make([]any, 0, 10*len(entries))
	for _, e := range entries {
		if e.Action == "" || e.Outcome == "" || e.Time.IsZero() {
			return fmt.Errorf("append audit: %w: action, outcome and time are required", agenttrace.ErrInvalid)
		}
		rows = append(rows, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, e.Time.UnixMilli(), e.Actor, e.ActorName, e.ActorUser, e.Action, e.Target,
			e.Outcome, e.Detail, e.Remote, max(e.Count, 1))
	}
	q := `INSERT INTO audit_log (` + auditCols + `) VALUES ` + strings.Join(rows, ", ")
	if _, err := a.exec(ctx, a.sql(q), args...); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// Audit returns one page of entries, newest first. See agenttrace.AuditLog.
func (a Access) Audit(ctx context.Context, f agenttrace.AuditFilter) (agenttrace.AuditPage, error) {
	page := agenttrace.AuditPage{Entries: []agenttrace.AuditEntry{}}
	limit := f.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 200 {
		return page, fmt.Errorf("audit: %w: limit %d outside 1..200", agenttrace.ErrInvalid, f.Limit)
	}
	var conds []string
	var args []any
	if f.Cursor != "" {
		id, err := strconv.ParseInt(f.Cursor, 36, 64)
		if err != nil || id <= 0 {
			return page, fmt.Errorf("audit: %w: bad cursor", agenttrace.ErrInvalid)
		}
		conds, args = append(conds, "id < ?"), append(args, id)
	}
	if f.Action != "" {
		conds, args = append(conds, "action = ?"), append(args, f.Action)
	}
	if !f.From.IsZero() {
		conds, args = append(conds, "time_ms >= ?"), append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		conds, args = append(conds, "time_ms < ?"), append(args, f.To.UnixMilli())
	}
	q := `SELECT id, ` + auditCols + ` FROM audit_log`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit+1)
	err := a.query(ctx, a.sql(q), args, func(rows Rows) error {
		for rows.Next() {
			var e agenttrace.AuditEntry
			var ms int64
			if err := rows.Scan(&e.ID, &ms, &e.Actor, &e.ActorName, &e.ActorUser, &e.Action, &e.Target,
				&e.Outcome, &e.Detail, &e.Remote, &e.Count); err != nil {
				return err
			}
			e.Time = time.UnixMilli(ms).UTC()
			page.Entries = append(page.Entries, e)
		}
		return rows.Err()
	})
	if err != nil {
		return page, fmt.Errorf("audit: %w", err)
	}
	if len(page.Entries) > limit {
		page.Entries = page.Entries[:limit]
		page.NextCursor = strconv.FormatInt(page.Entries[limit-1].ID, 36)
	}
	return page, nil
}

// PruneAudit erases entries older than before. See agenttrace.AuditLog.
func (a Access) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	n, err := a.exec(ctx, a.sql(`DELETE FROM audit_log WHERE time_ms < ?`), before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("prune audit: %w", err)
	}
	return int(n), nil
}
