package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// timeRange is [from, to) in Unix milliseconds (usage facts) and nanoseconds (events),
// zero times unbounded.
func timeRange(from, to time.Time) (loMS, hiMS, loNS, hiNS int64) {
	loMS, hiMS, loNS, hiNS = math.MinInt64, math.MaxInt64, math.MinInt64, math.MaxInt64
	if !from.IsZero() {
		loMS, loNS = from.UnixMilli(), from.UnixNano()
	}
	if !to.IsZero() {
		hiMS, hiNS = to.UnixMilli(), to.UnixNano()
	}
	return
}

// CountDerived counts the events and usage facts with a time in [from, to) (zero times:
// unbounded): what ScanDerived reads.
func (s *Store) CountDerived(ctx context.Context, from, to time.Time) (events, usage int64, err error) {
	loMS, hiMS, loNS, hiNS := timeRange(from, to)
	err = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE time_ns >= $3 AND time_ns < $4),
		(SELECT count(*) FROM usage_facts WHERE time_ms >= $1 AND time_ms < $2)`, loMS, hiMS, loNS, hiNS).Scan(&events, &usage)
	if err != nil {
		return 0, 0, fmt.Errorf("count derived rows: %w", err)
	}
	return events, usage, nil
}

// ScanDerived hands fn, page rows at a time, the events and then the usage facts with a
// time in [from, to), as the analytics store keeps them. Usage records carry version 0,
// so any change shipped from the outbox, which has a larger version, wins over them.
func (s *Store) ScanDerived(ctx context.Context, from, to time.Time, page int,
	fn func(events []agenttrace.EventRecord, usage []agenttrace.UsageRecord) error) error {
	lo, hi, loNS, hiNS := timeRange(from, to)
	for after := ""; ; {
		rows, err := s.pool.Query(ctx, `SELECT id, session_id, kind, time_ns, usage_total, body FROM events
			WHERE time_ns >= $1 AND time_ns < $2 AND id > $3 ORDER BY id LIMIT $4`, loNS, hiNS, after, page)
		if err != nil {
			return fmt.Errorf("scan events: %w", err)
		}
		recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (agenttrace.EventRecord, error) {
			var id, sid, kind string
			var ns, total int64
			var body []byte
			if err := r.Scan(&id, &sid, &kind, &ns, &total, &body); err != nil {
				return agenttrace.EventRecord{}, err
			}
			return EventRecordOf(id, sid, kind, ns, total, body), nil
		})
		if err != nil {
			return fmt.Errorf("scan events: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		if err := fn(recs, nil); err != nil {
			return err
		}
		after = recs[len(recs)-1].ID
	}
	for after := ""; ; {
		rows, err := s.pool.Query(ctx, `SELECT `+usageCols+` FROM usage_facts
			WHERE time_ms >= $1 AND time_ms < $2 AND event_id > $3 ORDER BY event_id LIMIT $4`, lo, hi, after, page)
		if err != nil {
			return fmt.Errorf("scan usage facts: %w", err)
		}
		var recs []agenttrace.UsageRecord
		for rows.Next() {
			f, err := scanUsage(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("scan usage facts: %w", err)
			}
			recs = append(recs, agenttrace.UsageRecord{EventID: f.EventID, SessionID: f.SessionID, TimeMS: f.TimeMS,
				SessionStartedMS: f.SessionStartedMS, Model: f.Model, User: f.User, Repo: f.Repo, Usage: f.Usage, CostUSD: f.CostUSD})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scan usage facts: %w", err)
		}
		if len(recs) == 0 {
			return nil
		}
		if err := fn(nil, recs); err != nil {
			return err
		}
		after = recs[len(recs)-1].EventID
	}
}

// DailyCounts counts events and usage facts per UTC day in [from, to), days ascending.
func (s *Store) DailyCounts(ctx context.Context, from, to time.Time) ([]agenttrace.DayCounts, error) {
	lo, hi, loNS, hiNS := timeRange(from, to)
	rows, err := s.pool.Query(ctx, `SELECT day, sum(e)::bigint, sum(u)::bigint, sum(t)::bigint FROM (
		SELECT time_ns / 86400000000000 AS day, count(*) AS e, 0 AS u, 0 AS t FROM events
			WHERE time_ns >= $3 AND time_ns < $4 GROUP BY 1
		UNION ALL
		SELECT time_ms / 86400000, 0, count(*), sum(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens)
			FROM usage_facts WHERE time_ms >= $1 AND time_ms < $2 GROUP BY 1) x GROUP BY day ORDER BY day`, lo, hi, loNS, hiNS)
	if err != nil {
		return nil, fmt.Errorf("daily counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (agenttrace.DayCounts, error) {
		var day int64
		var c agenttrace.DayCounts
		err := r.Scan(&day, &c.Events, &c.UsageRows, &c.Tokens)
		c.Day = time.UnixMilli(day * 86400000).UTC().Format(time.DateOnly)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("daily counts: %w", err)
	}
	return out, nil
}

// SessionDays totals the sessions' usage facts per UTC day and group (the analytics
// rollup) and takes a usage version for them, newer than every change already in the
// outbox. Sessions without usage have no rows.
func (s *Store) SessionDays(ctx context.Context, sessions []string) ([]agenttrace.SessionDay, uint64, error) {
	var version int64
	if err := s.pool.QueryRow(ctx, `SELECT nextval('usage_version')`).Scan(&version); err != nil {
		return nil, 0, fmt.Errorf("session days: usage version: %w", err)
	}
	// The usage_daily rollup holds exactly these sums, kept by usage_facts' triggers.
	rows, err := s.pool.Query(ctx, `SELECT session_id, day, model, "user", repo, session_started_ms, priced, facts,
		input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
		cache_read_tokens, web_search_requests, cost_usd FROM usage_daily WHERE session_id = ANY($1)`, sessions)
	if err != nil {
		return nil, 0, fmt.Errorf("session days: %w", err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (agenttrace.SessionDay, error) {
		var d agenttrace.SessionDay
		u := &d.Usage
		err := r.Scan(&d.SessionID, &d.Day, &d.Model, &d.User, &d.Repo, &d.SessionStartedMS, &d.Priced, &d.Rows,
			&u.InputTokens, &u.OutputTokens, &u.CacheCreationInputTokens, &u.CacheCreation5mTokens,
			&u.CacheCreation1hTokens, &u.CacheReadInputTokens, &u.WebSearchRequests, &d.CostUSD)
		return d, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("session days: %w", err)
	}
	return days, uint64(version), nil
}

// UsageSessions lists the sessions with usage facts in [from, to), at most limit after
// the session after, ascending (rebuild pages through them).
func (s *Store) UsageSessions(ctx context.Context, from, to time.Time, after string, limit int) ([]string, error) {
	lo, hi, _, _ := timeRange(from, to)
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT session_id FROM usage_facts WHERE time_ms >= $1 AND time_ms < $2
		AND session_id > $3 ORDER BY session_id LIMIT $4`, lo, hi, after, limit)
	if err != nil {
		return nil, fmt.Errorf("usage sessions: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("usage sessions: %w", err)
	}
	return ids, nil
}
