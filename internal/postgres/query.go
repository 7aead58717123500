package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// Page sizes, as on every backend.
const (
	DefaultLimit      = sqlstore.DefaultLimit
	MaxLimit          = sqlstore.MaxLimit
	DefaultEventLimit = sqlstore.DefaultEventLimit
	MaxEventLimit     = sqlstore.MaxEventLimit
)

// newConds starts a WHERE clause with PostgreSQL's numbered placeholders.
func newConds() sqlstore.Where { return sqlstore.Where{Dollar: true} }

// ListSessions returns one page of session summaries. See agenttrace.Store.
func (s *Store) ListSessions(ctx context.Context, f agenttrace.SessionFilter) (agenttrace.SessionPage, error) {
	page := agenttrace.SessionPage{Sessions: []agenttrace.SessionSummary{}}
	plan, err := sqlstore.PlanSessions(f)
	if err != nil {
		return page, fmt.Errorf("list sessions: %w", err)
	}
	cutoff := s.reader.Cutoff() // one clock reading for the filter and the statuses shown
	c := newConds()
	sqlstore.SessionConds(&c, f, `"user"`, cutoff)
	sqlstore.Visible(ctx, &c, `"user"`)
	if q := strings.TrimSpace(f.Query); q != "" {
		c.Add(`EXISTS (SELECT 1 FROM prompts p WHERE p.session_id = sessions.id AND p.text ILIKE ? ESCAPE '\')`,
			"%"+sqlstore.EscapeLike(q)+"%")
	}
	if f.Cursor != "" {
		kind := sqlstore.IntKey
		if plan.Float {
			kind = sqlstore.FloatKey
		}
		if err := plan.After(&c, f.Cursor, kind); err != nil {
			return page, fmt.Errorf("list sessions: %w", err)
		}
	}
	q := fmt.Sprintf("SELECT %s::text AS sort_key, id, summary FROM sessions%s ORDER BY sessions.%s %s, id %s LIMIT %d",
		plan.Col, c.SQL(), plan.Col, plan.Dir, plan.Dir, plan.Limit+1)
	// float8 as text is exact (the shortest round-trip form) since PostgreSQL 12.
	rows, err := s.pool.Query(ctx, q, c.Args...)
	if err != nil {
		return page, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	page.Sessions, page.NextCursor, err = plan.SessionPage(rows, func(key any) (string, bool) {
		k, _ := key.(string)
		return k, plan.Float
	}, cutoff)
	if err != nil {
		return page, fmt.Errorf("list sessions: %w", err)
	}
	return page, nil
}

// newReader runs the listings sqlstore shares on this store's connections; embedded in
// Store, it provides Session, Events, Commits, PullRequests and Tokens.
func (s *Store) newReader() sqlstore.Reader {
	return sqlstore.Reader{Dollar: true, User: `"user"`, Keys: sqlstore.IntKey, IdleCutoff: s.idleCutoff, Query: func(ctx context.Context, q string, args []any,
		read func(sqlstore.Rows) error) error {
		rows, err := s.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return read(rows)
	}}
}

// DailyCost returns spend per UTC day in [from, to) per group key, days ascending.
// The analytics backend answers it when configured.
func (s *Store) DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]agenttrace.DailyCost, error) {
	if _, restricted := agenttrace.VisibleUsers(ctx); s.analytics != nil && !restricted {
		// A read narrowed to some users is answered here, from the source of truth: the
		// analytics backend's rollups are not kept per user.
		return s.analytics.DailyCost(ctx, from, to, groupBy)
	}
	col, err := sqlstore.GroupColumn(groupBy, `"user"`)
	if err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	// Whole days from the usage_daily rollup, the edges of the range from the facts.
	const sums = "cost_usd, input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens, " +
		"cache_creation_1h_tokens, cache_read_tokens, web_search_requests"
	union, args := sqlstore.SplitUnion(ctx, sqlstore.Union{From: from, To: to, TimeCol: "time_ms", UserCol: `"user"`,
		Day: func(t time.Time) any { return t.UnixMilli() / 86400000 }, Dollar: true,
		Rollup: "SELECT day, " + col + " AS k, " + sums + " FROM usage_daily",
		Facts:  "SELECT time_ms / 86400000 AS day, " + col + " AS k, " + sums + " FROM usage_facts"})
	q := `SELECT day, k, COALESCE(SUM(cost_usd), 0), SUM(input_tokens)::bigint, SUM(output_tokens)::bigint,
		SUM(cache_creation_tokens)::bigint, SUM(cache_creation_5m_tokens)::bigint, SUM(cache_creation_1h_tokens)::bigint,
		SUM(cache_read_tokens)::bigint, SUM(web_search_requests)::bigint FROM (` + union + `) u GROUP BY day, k ORDER BY day, k`
	return s.reader.QueryDailyCosts(ctx, q, args, true)
}

// Summary totals sessions that started in [from, to): counts from the session projections
// in PostgreSQL; tokens and cost from the analytics backend when configured, else from
// the projections and usage facts.
func (s *Store) Summary(ctx context.Context, from, to time.Time) (agenttrace.Summary, error) {
	var sum agenttrace.Summary
	c := newConds()
	c.TimeRange("started_ms", from, to)
	sqlstore.Visible(ctx, &c, `"user"`)
	err := sqlstore.ScanSummaryTotals(s.pool.QueryRow(ctx, `SELECT count(*), COALESCE(SUM(prompt_count), 0), COALESCE(SUM(tool_call_count), 0),
		COALESCE(SUM(error_count), 0), COALESCE(SUM(commit_count), 0), COALESCE(SUM(pr_count), 0),
		COALESCE(SUM(lines_added), 0), COALESCE(SUM(lines_removed), 0), COALESCE(SUM(input_tokens), 0)::bigint,
		COALESCE(SUM(output_tokens), 0)::bigint, COALESCE(SUM(cache_creation_tokens), 0)::bigint,
		COALESCE(SUM(cache_creation_5m_tokens), 0)::bigint, COALESCE(SUM(cache_creation_1h_tokens), 0)::bigint,
		COALESCE(SUM(cache_read_tokens), 0)::bigint, COALESCE(SUM(web_search_requests), 0)::bigint
		FROM sessions`+c.SQL(), c.Args...), &sum)
	if err != nil {
		return sum, fmt.Errorf("summary: %w", err)
	}
	if _, restricted := agenttrace.VisibleUsers(ctx); s.analytics != nil && !restricted {
		// Tokens and cost from the one store, so they always describe the same responses.
		// A restricted reader is answered from PostgreSQL: the rollups are not per user.
		uc, err := s.analytics.UsageCost(ctx, from, to)
		if err != nil {
			return sum, fmt.Errorf("summary: %w", err)
		}
		sum.Usage, sum.CostUSD, sum.UnpricedModels = uc.Usage, uc.CostUSD, uc.UnpricedModels
	} else {
		// From the usage_daily rollup, which carries each session's start.
		uc := newConds()
		uc.TimeRange("session_started_ms", from, to)
		sqlstore.Visible(ctx, &uc, `"user"`)
		err = s.pool.QueryRow(ctx, `SELECT COALESCE(SUM(cost_usd), 0),
			COALESCE(array_agg(DISTINCT model ORDER BY model) FILTER (WHERE NOT priced), '{}')
			FROM usage_daily`+uc.SQL(), uc.Args...).Scan(&sum.CostUSD, &sum.UnpricedModels)
		if err != nil {
			return sum, fmt.Errorf("summary: cost: %w", err)
		}
		sum.CostUSD = sqlstore.Round9(sum.CostUSD)
		if len(sum.UnpricedModels) == 0 {
			sum.UnpricedModels = nil
		}
	}
	sqlstore.SetCostPerCommit(&sum)
	return sum, nil
}

// DeleteSession erases a session and every trace of it. With an outbox, its usage rows in
// the analytics store are hidden by tombstones and then erased for good when the shipper
// ships them (AnalyticsSink.EraseSessions).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	n, err := s.deleteSessions(ctx, `SELECT $1::text AS id`, id)
	if err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete session %s: %w", id, agenttrace.ErrNotFound)
	}
	return nil
}

// DeleteBefore erases every session whose last event is older than t.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := s.deleteSessions(ctx, `SELECT id FROM sessions WHERE last_event_ms < $1`, t.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// deleteSessions erases the sessions the query selects (with or without a projection:
// events of a session that never projected are erased too) and returns how many
// sessions or event sets it erased.
func (s *Store) deleteSessions(ctx context.Context, selectIDs string, arg any) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, selectIDs, arg)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	// The same locks as Ingest, so a concurrent ingest of a session either finishes
	// before it is erased or starts after.
	if _, err := tx.Exec(ctx, lockSessionsSQL, sessionLocks(ids)); err != nil {
		return 0, fmt.Errorf("lock sessions: %w", err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id = ANY($1)`, ids)
	if err != nil {
		return 0, fmt.Errorf("sessions: %w", err)
	}
	nSessions := int(tag.RowsAffected())
	tag, err = tx.Exec(ctx, `DELETE FROM events WHERE session_id = ANY($1)`, ids)
	if err != nil {
		return 0, fmt.Errorf("events: %w", err)
	}
	// Every replica's cached projection of these sessions is now out of date.
	if _, err := tx.Exec(ctx, `UPDATE session_gen SET gen = gen + 1 WHERE session_id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("session generations: %w", err)
	}
	for _, id := range ids {
		s.projectors.Drop(id)
	}
	if nSessions == 0 && tag.RowsAffected() == 0 {
		return 0, nil
	}
	for _, table := range []string{"session_facets", "prompts", "tool_calls", "commits", "pull_requests"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE session_id = ANY($1)`, ids); err != nil {
			return 0, fmt.Errorf("%s: %w", table, err)
		}
	}
	tombs, err := s.deleteUsage(ctx, tx, ids)
	if err != nil {
		return 0, err
	}
	if s.outbox {
		// The tombstones hide the usage in the analytics store as soon as they are
		// shipped; the erase after them removes the rows for good.
		if err := writeOutbox(ctx, tx, nil, tombs, ids); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	if nSessions == 0 {
		nSessions = 1 // events without a projection (DeleteSession only)
	}
	return nSessions, nil
}

// deleteUsage deletes the sessions' usage facts and, when an outbox is kept,
// returns the tombstones that hide them there.
func (s *Store) deleteUsage(ctx context.Context, tx pgx.Tx, ids []string) ([]agenttrace.UsageChange, error) {
	rows, err := tx.Query(ctx, `DELETE FROM usage_facts WHERE session_id = ANY($1) RETURNING `+usageCols, ids)
	if err != nil {
		return nil, fmt.Errorf("usage facts: %w", err)
	}
	var tombs []agenttrace.UsageChange
	if s.outbox {
		for rows.Next() {
			k, err := scanUsage(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("usage facts: %w", err)
			}
			tombs = append(tombs, agenttrace.UsageChange{Old: sqlstore.UsageRecordOf(k)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage facts: %w", err)
	}
	if len(tombs) > 0 {
		var version int64
		if err := tx.QueryRow(ctx, `SELECT nextval('usage_version')`).Scan(&version); err != nil {
			return nil, fmt.Errorf("usage version: %w", err)
		}
		for i := range tombs {
			tombs[i].Version = uint64(version)
		}
	}
	return tombs, nil
}

// idleCutoff is when an active session's last event must be for it to read as idle.
func (s *Store) idleCutoff() time.Time { return s.now().Add(-s.idleAfter) }

// newAccess runs the access-control tables sqlstore shares (dashboard sessions) on the
// pool.
func (s *Store) newAccess() sqlstore.Access {
	return sqlstore.NewAccess(true, func(ctx context.Context, q string, args ...any) (int64, error) {
		tag, err := s.pool.Exec(ctx, q, args...)
		return tag.RowsAffected(), err
	}, s.reader.Query)
}
