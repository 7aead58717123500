package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// Page sizes.
const (
	DefaultLimit      = sqlstore.DefaultLimit
	MaxLimit          = sqlstore.MaxLimit
	DefaultEventLimit = sqlstore.DefaultEventLimit
	MaxEventLimit     = sqlstore.MaxEventLimit
)

// ListSessions returns one page of session summaries. See agenttrace.Store.
func (s *Store) ListSessions(ctx context.Context, f agenttrace.SessionFilter) (agenttrace.SessionPage, error) {
	page := agenttrace.SessionPage{Sessions: []agenttrace.SessionSummary{}}
	plan, err := sqlstore.PlanSessions(f)
	if err != nil {
		return page, fmt.Errorf("list sessions: %w", err)
	}
	cutoff := s.reader.Cutoff() // one clock reading for the filter and the statuses shown
	var w sqlstore.Where
	sqlstore.SessionConds(&w, f, "user", cutoff)
	sqlstore.Visible(ctx, &w, "user")
	if q := strings.TrimSpace(f.Query); q != "" {
		rare, err := s.rareText(ctx, q)
		if err != nil {
			return page, fmt.Errorf("list sessions: %w", err)
		}
		if rare {
			// Few prompts match: take them from the trigram index.
			w.Add(`id IN (SELECT p.session_id FROM prompts p WHERE p.id IN
				(SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ?))`, ftsPhrase(q))
		} else {
			// Many match (or q is too short for trigrams): walking sessions in order and
			// checking each one's prompts finds a page of matches sooner.
			w.Add(`EXISTS (SELECT 1 FROM prompts p WHERE p.session_id = sessions.id AND p.text LIKE ? ESCAPE '\')`,
				"%"+sqlstore.EscapeLike(q)+"%")
		}
	}
	if f.Cursor != "" {
		if err := plan.After(&w, f.Cursor, sqlstore.AnyKey); err != nil {
			return page, fmt.Errorf("list sessions: %w", err)
		}
	}
	// The page's ids first, from an index where one covers the filter, and only then its
	// rows: a row carries its summary and detail, and a sort the index does not hold
	// would otherwise read every row of the range.
	order := fmt.Sprintf("ORDER BY %s %s, id %s", plan.Col, plan.Dir, plan.Dir)
	q := fmt.Sprintf("SELECT %s, id, summary FROM sessions WHERE id IN (SELECT id FROM sessions%s %s LIMIT %d) %s",
		plan.Col, w.SQL(), order, plan.Limit+1, order)
	rows, err := s.read.QueryContext(ctx, q, w.Args...)
	if err != nil {
		return page, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	page.Sessions, page.NextCursor, err = plan.SessionPage(rows, sqlstore.KeyString, cutoff)
	if err != nil {
		return page, fmt.Errorf("list sessions: %w", err)
	}
	return page, nil
}

// defaultRareText is how many matching prompts still count as few.
const defaultRareText = 2000

// rareText reports whether few prompts contain q, by counting index matches up to a
// limit. Queries under three characters cannot use the trigram index.
func (s *Store) rareText(ctx context.Context, q string) (bool, error) {
	if utf8.RuneCountInString(q) < 3 {
		return false, nil
	}
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ? LIMIT ?)`,
		ftsPhrase(q), s.rareTextLimit+1).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("text search: %w", err)
	}
	return n <= s.rareTextLimit, nil
}

// ftsPhrase quotes q as one FTS5 phrase: with the trigram tokenizer it matches exactly
// the texts that contain q, case-insensitively.
func ftsPhrase(q string) string { return `"` + strings.ReplaceAll(q, `"`, `""`) + `"` }

// newReader runs the listings sqlstore shares on this store's connections; embedded in
// Store, it provides Session, Events, Commits, PullRequests and Tokens.
func (s *Store) newReader() sqlstore.Reader {
	return sqlstore.Reader{User: "user", Keys: sqlstore.AnyKey, IdleCutoff: s.idleCutoff, Query: func(ctx context.Context, q string, args []any,
		read func(sqlstore.Rows) error) error {
		rows, err := s.read.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return read(rows)
	}}
}

// DailyCost returns spend per UTC day in [from, to) per group key, days ascending. The
// whole days come from the usage_daily rollup, a row per session-day; only a partial
// first or last day is summed from the facts.
func (s *Store) DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]agenttrace.DailyCost, error) {
	col, err := sqlstore.GroupColumn(groupBy, "user")
	if err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	const sums = "cost_usd, input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens, " +
		"cache_creation_1h_tokens, cache_read_tokens, web_search_requests"
	union, args := sqlstore.SplitUnion(ctx, sqlstore.Union{From: from, To: to, TimeCol: "time_ms", UserCol: "user",
		Day:    func(t time.Time) any { return t.Format(time.DateOnly) },
		Rollup: "SELECT day, " + col + " AS k, " + sums + " FROM usage_daily", Facts: "SELECT day, " + col + " AS k, " + sums + " FROM usage_facts"})
	q := `SELECT day, k, COALESCE(SUM(cost_usd), 0), SUM(input_tokens), SUM(output_tokens),
		SUM(cache_creation_tokens), SUM(cache_creation_5m_tokens), SUM(cache_creation_1h_tokens),
		SUM(cache_read_tokens), SUM(web_search_requests) FROM (` + union +
		`) GROUP BY day, k ORDER BY day, k`
	return s.reader.QueryDailyCosts(ctx, q, args, false)
}

// Summary totals sessions that started in [from, to).
func (s *Store) Summary(ctx context.Context, from, to time.Time) (agenttrace.Summary, error) {
	var sum agenttrace.Summary
	var w sqlstore.Where
	w.TimeRange("started_ms", from, to)
	sqlstore.Visible(ctx, &w, "user")
	where, args := strings.TrimPrefix(w.SQL(), " "), w.Args
	err := sqlstore.ScanSummaryTotals(s.read.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(prompt_count), 0), COALESCE(SUM(tool_call_count), 0),
		COALESCE(SUM(error_count), 0), COALESCE(SUM(commit_count), 0), COALESCE(SUM(pr_count), 0),
		COALESCE(SUM(lines_added), 0), COALESCE(SUM(lines_removed), 0), COALESCE(SUM(input_tokens), 0),
		COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_creation_tokens), 0), COALESCE(SUM(cache_creation_5m_tokens), 0),
		COALESCE(SUM(cache_creation_1h_tokens), 0), COALESCE(SUM(cache_read_tokens), 0),
		COALESCE(SUM(web_search_requests), 0)
		FROM sessions `+where, args...), &sum)
	if err != nil {
		return sum, fmt.Errorf("summary: %w", err)
	}
	// Cost from the daily usage rollup of those sessions, per model in one pass: the
	// priced part, and the models that could not be priced.
	rows, err := s.read.QueryContext(ctx, `SELECT model, COALESCE(SUM(cost_usd), 0), SUM(unpriced) FROM usage_daily
		WHERE session_id IN (SELECT id FROM sessions `+where+`) GROUP BY model ORDER BY model`, args...)
	if err != nil {
		return sum, fmt.Errorf("summary: cost: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var model string
		var cost float64
		var unpriced int64
		if err := rows.Scan(&model, &cost, &unpriced); err != nil {
			return sum, fmt.Errorf("summary: cost: %w", err)
		}
		sum.CostUSD += cost
		if unpriced > 0 {
			sum.UnpricedModels = append(sum.UnpricedModels, model)
		}
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("summary: cost: %w", err)
	}
	sum.CostUSD = sqlstore.Round9(sum.CostUSD)
	sqlstore.SetCostPerCommit(&sum)
	return sum, nil
}

// DeleteSession erases a session and every trace of it.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, `DELETE FROM events WHERE session_id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete session %s: events: %w", id, err)
	}
	nEvents, _ := r.RowsAffected()
	r, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	nSessions, _ := r.RowsAffected()
	if nEvents == 0 && nSessions == 0 {
		return fmt.Errorf("delete session %s: %w", id, agenttrace.ErrNotFound)
	}
	if err := deleteProjection(ctx, tx, sqlstore.SessionWrite{ID: id, Full: true}); err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	// Raised, not deleted: a generation that started again at 1 could meet an old one.
	if _, err := tx.ExecContext(ctx, `UPDATE session_gen SET gen = gen + 1 WHERE session_id = ?`, id); err != nil {
		return fmt.Errorf("delete session %s: generation: %w", id, err)
	}
	s.projectors.Drop(id)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete session %s: commit: %w", id, err)
	}
	s.wrote()
	return nil
}

// DeleteBefore erases every session whose last event is older than t.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("delete before %s: %w", t, err)
	}
	defer tx.Rollback()
	const old = `SELECT id FROM sessions WHERE last_event_ms < ?`
	ms := t.UnixMilli()
	for _, q := range []string{
		`DELETE FROM events WHERE session_id IN (` + old + `)`,
		`DELETE FROM session_facets WHERE session_id IN (` + old + `)`,
		`DELETE FROM prompts WHERE session_id IN (` + old + `)`,
		`DELETE FROM tool_calls WHERE session_id IN (` + old + `)`,
		`DELETE FROM commits WHERE session_id IN (` + old + `)`,
		`DELETE FROM pull_requests WHERE session_id IN (` + old + `)`,
		`DELETE FROM usage_facts WHERE session_id IN (` + old + `)`,
	} {
		if _, err := tx.ExecContext(ctx, q, ms); err != nil {
			return 0, fmt.Errorf("delete before %s: %w", t, err)
		}
	}
	r, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE last_event_ms < ?`, ms)
	if err != nil {
		return 0, fmt.Errorf("delete before %s: sessions: %w", t, err)
	}
	n, _ := r.RowsAffected()
	if _, err := tx.ExecContext(ctx, `UPDATE session_gen SET gen = gen + 1`); err != nil {
		return 0, fmt.Errorf("delete before %s: generations: %w", t, err)
	}
	s.projectors.Clear()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete before %s: commit: %w", t, err)
	}
	s.wrote()
	return int(n), nil
}

// idleCutoff is when an active session's last event must be for it to read as idle.
func (s *Store) idleCutoff() time.Time { return s.now().Add(-s.idleAfter) }

// newAccess runs the access-control tables sqlstore shares (dashboard sessions) on this
// store's connections: writes on the one writer, reads on the readers.
func (s *Store) newAccess() sqlstore.Access {
	return sqlstore.NewAccess(false, func(ctx context.Context, q string, args ...any) (int64, error) {
		r, err := s.write.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return r.RowsAffected()
	}, s.reader.Query)
}
