package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/server"
	"github.com/agent-trace/agent-trace/server/internal/sqlstore"
)

// Page sizes.
const (
	DefaultLimit      = sqlstore.DefaultLimit
	MaxLimit          = sqlstore.MaxLimit
	DefaultEventLimit = sqlstore.DefaultEventLimit
	MaxEventLimit     = sqlstore.MaxEventLimit
)

// ListSessions returns one page of session summaries. See server.Store.
func (s *Store) ListSessions(ctx context.Context, f server.SessionFilter) (server.SessionPage, error) {
	page := server.SessionPage{Sessions: []server.SessionSummary{}}
	limit, err := sqlstore.PageLimit(f.Limit, DefaultLimit, MaxLimit)
	if err != nil {
		return page, fmt.Errorf("list sessions: %w", err)
	}
	var col string
	switch f.Sort {
	case "", "started_at":
		col = "started_ms"
	case "cost":
		col = "cost_key"
	case "duration":
		col = "duration_ms"
	default:
		return page, fmt.Errorf("list sessions: %w: unknown sort %q", server.ErrInvalid, f.Sort)
	}
	switch f.Status {
	case "", server.StatusActive, server.StatusEnded:
	default:
		return page, fmt.Errorf("list sessions: %w: unknown status %q", server.ErrInvalid, f.Status)
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if !f.From.IsZero() {
		add("started_ms >= ?", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("started_ms < ?", f.To.UnixMilli())
	}
	if f.User != "" {
		add("user = ?", f.User)
	}
	if f.Repo != "" {
		add("repo = ?", f.Repo)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Branch != "" {
		add("EXISTS (SELECT 1 FROM session_facets sf WHERE sf.facet = 'branch' AND sf.value = ? AND sf.session_id = sessions.id)", f.Branch)
	}
	if f.Model != "" {
		add("EXISTS (SELECT 1 FROM session_facets sf WHERE sf.facet = 'model' AND sf.value = ? AND sf.session_id = sessions.id)", f.Model)
	}
	if f.HasCommits != nil {
		if *f.HasCommits {
			add("commit_count > 0")
		} else {
			add("commit_count = 0")
		}
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		rare, err := s.rareText(ctx, q)
		if err != nil {
			return page, fmt.Errorf("list sessions: %w", err)
		}
		if rare {
			// Few prompts match: take them from the trigram index.
			add(`id IN (SELECT p.session_id FROM prompts p WHERE p.id IN
				(SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ?))`, ftsPhrase(q))
		} else {
			// Many match (or q is too short for trigrams): walking sessions in order and
			// checking each one's prompts finds a page of matches sooner.
			add(`EXISTS (SELECT 1 FROM prompts p WHERE p.session_id = sessions.id AND p.text LIKE ? ESCAPE '\')`,
				"%"+sqlstore.EscapeLike(q)+"%")
		}
	}
	sortName := f.Sort
	if sortName == "" {
		sortName = "started_at"
	}
	cmp, dir := ">", "ASC"
	if f.Desc {
		cmp, dir = "<", "DESC"
	}
	if f.Cursor != "" {
		c, err := sqlstore.DecodeCursor(f.Cursor, 1)
		if err != nil {
			return page, fmt.Errorf("list sessions: %w", err)
		}
		if c.Sort != sortName || c.Desc != f.Desc {
			return page, fmt.Errorf("list sessions: %w: cursor is for another sort order", server.ErrInvalid)
		}
		k, err := c.KeyValue(sqlstore.AnyKey)
		if err != nil {
			return page, fmt.Errorf("list sessions: %w", err)
		}
		add(fmt.Sprintf("(%s, id) %s (?, ?)", col, cmp), k, c.IDs[0])
	}
	q := fmt.Sprintf("SELECT %s, id, summary FROM sessions", col)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT %d", col, dir, dir, limit+1)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return page, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var lastKey any
	var lastID string
	for rows.Next() {
		var key any
		var id string
		var body []byte
		if err := rows.Scan(&key, &id, &body); err != nil {
			return page, fmt.Errorf("list sessions: %w", err)
		}
		if len(page.Sessions) == limit {
			ks, isFloat := sqlstore.KeyString(lastKey)
			page.NextCursor = sqlstore.Cursor{Sort: sortName, Desc: f.Desc, Key: ks, Float: isFloat, IDs: []string{lastID}}.Encode()
			break
		}
		var sum server.SessionSummary
		if err := json.Unmarshal(body, &sum); err != nil {
			return page, fmt.Errorf("list sessions: decode %s: %w", id, err)
		}
		page.Sessions = append(page.Sessions, sum)
		lastKey, lastID = key, id
	}
	if err := rows.Err(); err != nil {
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

// Session returns the full projection of one session, or server.ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*server.Session, error) {
	var body []byte
	err := s.read.QueryRowContext(ctx, `SELECT detail FROM sessions WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session %s: %w", id, server.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	var sess server.Session
	if err := json.Unmarshal(body, &sess); err != nil {
		return nil, fmt.Errorf("session %s: decode: %w", id, err)
	}
	return &sess, nil
}

// Events returns one page of a session's stored events, oldest first.
func (s *Store) Events(ctx context.Context, sessionID, cur string, limit int) (server.EventPage, error) {
	page := server.EventPage{Events: []event.Event{}}
	limit, err := sqlstore.PageLimit(limit, DefaultEventLimit, MaxEventLimit)
	if err != nil {
		return page, fmt.Errorf("events of %s: %w", sessionID, err)
	}
	if err := s.sessionExists(ctx, sessionID); err != nil {
		return page, fmt.Errorf("events of %s: %w", sessionID, err)
	}
	q := `SELECT time_ns, id, body FROM events WHERE session_id = ?`
	args := []any{sessionID}
	if cur != "" {
		c, err := sqlstore.DecodeCursor(cur, 1)
		if err != nil {
			return page, fmt.Errorf("events of %s: %w", sessionID, err)
		}
		k, err := c.KeyValue(sqlstore.AnyKey)
		if err != nil {
			return page, fmt.Errorf("events of %s: %w", sessionID, err)
		}
		q += ` AND (time_ns, id) > (?, ?)`
		args = append(args, k, c.IDs[0])
	}
	q += fmt.Sprintf(` ORDER BY time_ns, id LIMIT %d`, limit+1)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return page, fmt.Errorf("events of %s: %w", sessionID, err)
	}
	defer rows.Close()
	var lastNS int64
	var lastID string
	for rows.Next() {
		var ns int64
		var id string
		var body []byte
		if err := rows.Scan(&ns, &id, &body); err != nil {
			return page, fmt.Errorf("events of %s: %w", sessionID, err)
		}
		if len(page.Events) == limit {
			page.NextCursor = sqlstore.Cursor{Key: strconv.FormatInt(lastNS, 10), IDs: []string{lastID}}.Encode()
			break
		}
		var e event.Event
		if err := json.Unmarshal(body, &e); err != nil {
			return page, fmt.Errorf("events of %s: decode %s: %w", sessionID, id, err)
		}
		page.Events = append(page.Events, e)
		lastNS, lastID = ns, id
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("events of %s: %w", sessionID, err)
	}
	return page, nil
}

func (s *Store) sessionExists(ctx context.Context, id string) error {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return server.ErrNotFound
	}
	return err
}

// gitQuery builds the shared part of the commit and pull request listings.
func gitQuery(f server.CommitFilter, timeCol, keyCol string) (where []string, args []any, limit int, err error) {
	limit, err = sqlstore.PageLimit(f.Limit, DefaultLimit, MaxLimit)
	if err != nil {
		return nil, nil, 0, err
	}
	if !f.From.IsZero() {
		where = append(where, timeCol+" >= ?")
		args = append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		where = append(where, timeCol+" < ?")
		args = append(args, f.To.UnixMilli())
	}
	if f.Repo != "" {
		where = append(where, "repo = ?")
		args = append(args, f.Repo)
	}
	if f.User != "" {
		where = append(where, "user = ?")
		args = append(args, f.User)
	}
	if f.SessionID != "" {
		where = append(where, "session_id = ?")
		args = append(args, f.SessionID)
	}
	if f.Cursor != "" {
		c, err := sqlstore.DecodeCursor(f.Cursor, 2)
		if err != nil {
			return nil, nil, 0, err
		}
		k, err := c.KeyValue(sqlstore.AnyKey)
		if err != nil {
			return nil, nil, 0, err
		}
		where = append(where, fmt.Sprintf("(%s, %s, session_id) < (?, ?, ?)", timeCol, keyCol))
		args = append(args, k, c.IDs[0], c.IDs[1])
	}
	return where, args, limit, nil
}

// Commits lists commits across sessions, newest first.
func (s *Store) Commits(ctx context.Context, f server.CommitFilter) (server.CommitPage, error) {
	page := server.CommitPage{Commits: []server.Commit{}}
	err := s.listGit(ctx, f, "commits", "committed_ms", "sha", func(body []byte) error {
		var c server.Commit
		if err := json.Unmarshal(body, &c); err != nil {
			return err
		}
		page.Commits = append(page.Commits, c)
		return nil
	}, &page.NextCursor)
	if err != nil {
		return page, fmt.Errorf("list commits: %w", err)
	}
	return page, nil
}

// PullRequests lists pull requests across sessions, newest first.
func (s *Store) PullRequests(ctx context.Context, f server.CommitFilter) (server.PullRequestPage, error) {
	page := server.PullRequestPage{PullRequests: []server.PullRequest{}}
	err := s.listGit(ctx, f, "pull_requests", "seen_ms", "pr_key", func(body []byte) error {
		var p server.PullRequest
		if err := json.Unmarshal(body, &p); err != nil {
			return err
		}
		page.PullRequests = append(page.PullRequests, p)
		return nil
	}, &page.NextCursor)
	if err != nil {
		return page, fmt.Errorf("list pull requests: %w", err)
	}
	return page, nil
}

func (s *Store) listGit(ctx context.Context, f server.CommitFilter, table, timeCol, keyCol string,
	add func([]byte) error, next *string) error {
	where, args, limit, err := gitQuery(f, timeCol, keyCol)
	if err != nil {
		return err
	}
	q := fmt.Sprintf("SELECT %s, %s, session_id, body FROM %s", timeCol, keyCol, table)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s DESC, %s DESC, session_id DESC LIMIT %d", timeCol, keyCol, limit+1)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	var last sqlstore.Cursor
	for rows.Next() {
		var ms int64
		var key, sid string
		var body []byte
		if err := rows.Scan(&ms, &key, &sid, &body); err != nil {
			return err
		}
		if n == limit {
			*next = last.Encode()
			break
		}
		if err := add(body); err != nil {
			return err
		}
		n++
		last = sqlstore.Cursor{Key: strconv.FormatInt(ms, 10), IDs: []string{key, sid}}
	}
	return rows.Err()
}

// DailyCost returns spend per UTC day in [from, to) per group key, days ascending.
func (s *Store) DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]server.DailyCost, error) {
	var col string
	switch groupBy {
	case server.GroupBySession:
		col = "session_id"
	case server.GroupByModel:
		col = "model"
	case server.GroupByUser:
		col = "user"
	case server.GroupByRepo:
		col = "repo"
	default:
		return nil, fmt.Errorf("daily cost: %w: unknown group_by %q", server.ErrInvalid, groupBy)
	}
	where, args := timeRange("time_ms", from, to)
	q := fmt.Sprintf(`SELECT day, %s, COALESCE(SUM(cost_usd), 0), SUM(input_tokens), SUM(output_tokens),
		SUM(cache_creation_tokens), SUM(cache_creation_5m_tokens), SUM(cache_creation_1h_tokens),
		SUM(cache_read_tokens), SUM(web_search_requests) FROM usage_facts %s GROUP BY day, %s ORDER BY day, %s`,
		col, where, col, col)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	defer rows.Close()
	out := []server.DailyCost{}
	for rows.Next() {
		var d server.DailyCost
		u := &d.Usage
		if err := rows.Scan(&d.Day, &d.Key, &d.CostUSD, &u.InputTokens, &u.OutputTokens, &u.CacheCreationInputTokens,
			&u.CacheCreation5mTokens, &u.CacheCreation1hTokens, &u.CacheReadInputTokens, &u.WebSearchRequests); err != nil {
			return nil, fmt.Errorf("daily cost: %w", err)
		}
		d.CostUSD = sqlstore.Round9(d.CostUSD)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	return out, nil
}

func timeRange(col string, from, to time.Time) (string, []any) {
	var where []string
	var args []any
	if !from.IsZero() {
		where = append(where, col+" >= ?")
		args = append(args, from.UnixMilli())
	}
	if !to.IsZero() {
		where = append(where, col+" < ?")
		args = append(args, to.UnixMilli())
	}
	if len(where) == 0 {
		return "", nil
	}
	return "WHERE " + strings.Join(where, " AND "), args
}

// Summary totals sessions that started in [from, to).
func (s *Store) Summary(ctx context.Context, from, to time.Time) (server.Summary, error) {
	var sum server.Summary
	where, args := timeRange("started_ms", from, to)
	u := &sum.Usage
	err := s.read.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(prompt_count), 0), COALESCE(SUM(tool_call_count), 0),
		COALESCE(SUM(error_count), 0), COALESCE(SUM(commit_count), 0), COALESCE(SUM(pr_count), 0),
		COALESCE(SUM(lines_added), 0), COALESCE(SUM(lines_removed), 0), COALESCE(SUM(input_tokens), 0),
		COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_creation_tokens), 0), COALESCE(SUM(cache_creation_5m_tokens), 0),
		COALESCE(SUM(cache_creation_1h_tokens), 0), COALESCE(SUM(cache_read_tokens), 0),
		COALESCE(SUM(web_search_requests), 0)
		FROM sessions `+where, args...).Scan(&sum.Sessions, &sum.Prompts, &sum.ToolCalls, &sum.ToolErrors,
		&sum.Commits, &sum.PullRequests, &sum.LinesAdded, &sum.LinesRemoved, &u.InputTokens, &u.OutputTokens,
		&u.CacheCreationInputTokens, &u.CacheCreation5mTokens, &u.CacheCreation1hTokens, &u.CacheReadInputTokens,
		&u.WebSearchRequests)
	if err != nil {
		return sum, fmt.Errorf("summary: %w", err)
	}
	// Cost from the usage rows of those sessions: the priced part, plus which models
	// could not be priced.
	inner := "SELECT id FROM sessions " + where
	err = s.read.QueryRowContext(ctx, `SELECT COALESCE(SUM(cost_usd), 0) FROM usage_facts WHERE session_id IN (`+inner+`)`,
		args...).Scan(&sum.CostUSD)
	if err != nil {
		return sum, fmt.Errorf("summary: cost: %w", err)
	}
	sum.CostUSD = sqlstore.Round9(sum.CostUSD)
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT model FROM usage_facts WHERE cost_usd IS NULL AND session_id IN (`+
		inner+`) ORDER BY model`, args...)
	if err != nil {
		return sum, fmt.Errorf("summary: unpriced models: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return sum, fmt.Errorf("summary: unpriced models: %w", err)
		}
		sum.UnpricedModels = append(sum.UnpricedModels, m)
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("summary: unpriced models: %w", err)
	}
	if sum.Commits > 0 {
		c := sqlstore.Round9(sum.CostUSD / float64(sum.Commits))
		sum.CostPerCommitUSD = &c
	}
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
		return fmt.Errorf("delete session %s: %w", id, server.ErrNotFound)
	}
	if err := deleteProjection(ctx, tx, id); err != nil {
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM prompts WHERE session_id = ?`, id); err != nil {
		return fmt.Errorf("delete session %s: prompts: %w", id, err)
	}
	s.cache.drop(id)
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
	s.cache.clear()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete before %s: commit: %w", t, err)
	}
	s.wrote()
	return int(n), nil
}
