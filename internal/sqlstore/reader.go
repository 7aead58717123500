package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// Reader runs the listings whose SQL is the same on every SQL store but for the
// dialect's placeholders and quoting.
type Reader struct {
	Dollar bool    // numbered placeholders ($1, …), as PostgreSQL wants
	User   string  // the user column as the dialect quotes it
	Keys   KeyKind // how strictly integer cursor keys are read back
	// Query runs a read query, hands its rows to read and closes them.
	Query func(ctx context.Context, q string, args []any, read func(Rows) error) error
	// IdleCutoff is when an active session's last event must be for it to read as idle;
	// nil: never.
	IdleCutoff func() time.Time
}

// Cutoff is r.IdleCutoff(), or zero without one.
func (r Reader) Cutoff() time.Time {
	if r.IdleCutoff == nil {
		return time.Time{}
	}
	return r.IdleCutoff()
}

// Commits lists commits across sessions, newest first. See agenttrace.Store.
func (r Reader) Commits(ctx context.Context, f agenttrace.CommitFilter) (agenttrace.CommitPage, error) {
	page := agenttrace.CommitPage{Commits: []agenttrace.Commit{}}
	err := r.listGit(ctx, f, "commits", "committed_ms", "sha", func(body []byte) error {
		var c agenttrace.Commit
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

// PullRequests lists pull requests across sessions, newest first. See agenttrace.Store.
func (r Reader) PullRequests(ctx context.Context, f agenttrace.CommitFilter) (agenttrace.PullRequestPage, error) {
	page := agenttrace.PullRequestPage{PullRequests: []agenttrace.PullRequest{}}
	err := r.listGit(ctx, f, "pull_requests", "seen_ms", "pr_key", func(body []byte) error {
		var p agenttrace.PullRequest
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

func (r Reader) listGit(ctx context.Context, f agenttrace.CommitFilter, table, timeCol, keyCol string,
	add func([]byte) error, next *string) error {
	w := Where{Dollar: r.Dollar}
	limit, err := GitConds(&w, f, timeCol, keyCol, r.User, r.Keys)
	if err != nil {
		return err
	}
	Visible(ctx, &w, r.User)
	q := fmt.Sprintf("SELECT %s, %s, session_id, body FROM %s%s ORDER BY %s DESC, %s DESC, session_id DESC LIMIT %d",
		timeCol, keyCol, table, w.SQL(), timeCol, keyCol, limit+1)
	return r.Query(ctx, q, w.Args, func(rows Rows) error {
		var err error
		*next, err = GitPage(rows, limit, add)
		return err
	})
}

// Session returns the full projection of one session, or agenttrace.ErrNotFound. See
// agenttrace.Store. The sessions row holds all but the prompts, which have rows of their
// own (sqlstore.PromptRow).
func (r Reader) Session(ctx context.Context, id string) (*agenttrace.Session, error) {
	var body []byte
	w := Where{Dollar: r.Dollar}
	w.Add("id = ?", id)
	Visible(ctx, &w, r.User)
	err := r.Query(ctx, `SELECT detail FROM sessions`+w.SQL(), w.Args, func(rows Rows) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return agenttrace.ErrNotFound
		}
		return rows.Scan(&body)
	})
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	var sess agenttrace.Session
	if err := json.Unmarshal(body, &sess); err != nil {
		return nil, fmt.Errorf("session %s: decode: %w", id, err)
	}
	if err := r.prompts(ctx, &sess); err != nil {
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	if err := r.sessionGit(ctx, &sess); err != nil {
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	agenttrace.MarkIdle(&sess.SessionSummary, r.Cutoff())
	return &sess, nil
}

// prompts reads a session's prompt rows into it, in order. A database projected before
// prompts had rows of their own keeps the prompts in the sessions row until it is
// projected again (at start-up, as the projection version changed).
func (r Reader) prompts(ctx context.Context, sess *agenttrace.Session) error {
	var out []agenttrace.Prompt
	legacy := false
	err := r.Query(ctx, r.sql(`SELECT detail FROM prompts WHERE session_id = ? ORDER BY idx`), []any{sess.ID}, func(rows Rows) error {
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&body); err != nil {
				return err
			}
			if body == nil {
				legacy = true
				continue
			}
			js, err := DecompressBlob(body)
			if err != nil {
				return fmt.Errorf("read prompt: %w", err)
			}
			var p agenttrace.Prompt
			if err := json.Unmarshal(js, &p); err != nil {
				return fmt.Errorf("decode prompt: %w", err)
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("read prompts: %w", err)
	}
	if !legacy {
		sess.Prompts = append([]agenttrace.Prompt{}, out...)
	}
	return nil
}

// sessionGit reads a session's commits and pull requests from their rows, in the order
// the projection lists them. A sessions row written before they had rows of their own
// holds them itself (until re-projected at start-up) and is left as it is.
func (r Reader) sessionGit(ctx context.Context, sess *agenttrace.Session) error {
	if sess.Commits != nil || sess.PullRequests != nil {
		return nil
	}
	sess.Commits, sess.PullRequests = []agenttrace.Commit{}, []agenttrace.PullRequest{}
	err := r.Query(ctx, r.sql(`SELECT body FROM commits WHERE session_id = ?`), []any{sess.ID}, func(rows Rows) error {
		return scanJSON(rows, func() any {
			sess.Commits = append(sess.Commits, agenttrace.Commit{})
			return &sess.Commits[len(sess.Commits)-1]
		})
	})
	if err != nil {
		return fmt.Errorf("read commits: %w", err)
	}
	err = r.Query(ctx, r.sql(`SELECT body FROM pull_requests WHERE session_id = ?`), []any{sess.ID}, func(rows Rows) error {
		return scanJSON(rows, func() any {
			sess.PullRequests = append(sess.PullRequests, agenttrace.PullRequest{})
			return &sess.PullRequests[len(sess.PullRequests)-1]
		})
	})
	if err != nil {
		return fmt.Errorf("read pull requests: %w", err)
	}
	projection.SortCommits(sess.Commits)
	projection.SortPullRequests(sess.PullRequests)
	return nil
}

// scanJSON decodes each row's one column into the value next returns.
func scanJSON(rows Rows, next func() any) error {
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return err
		}
		if err := json.Unmarshal(body, next()); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
	}
	return rows.Err()
}

// Events returns one page of a session's stored events, oldest first, or
// agenttrace.ErrNotFound for a session that has no projection. See agenttrace.Store.
func (r Reader) Events(ctx context.Context, sessionID, cur string, limit int) (agenttrace.EventPage, error) {
	page := agenttrace.EventPage{Events: []event.Event{}}
	var err error
	if page.Events, page.NextCursor, err = r.events(ctx, sessionID, cur, limit); err != nil {
		return page, fmt.Errorf("events of %s: %w", sessionID, err)
	}
	return page, nil
}

func (r Reader) events(ctx context.Context, sessionID, cur string, limit int) ([]event.Event, string, error) {
	limit, err := PageLimit(limit, DefaultEventLimit, MaxEventLimit)
	if err != nil {
		return []event.Event{}, "", err
	}
	// A session the context may not see is not found, exactly like a missing one.
	sw := Where{Dollar: r.Dollar}
	sw.Add("id = ?", sessionID)
	Visible(ctx, &sw, r.User)
	err = r.Query(ctx, `SELECT 1 FROM sessions`+sw.SQL(), sw.Args, func(rows Rows) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return agenttrace.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return []event.Event{}, "", err
	}
	w := Where{Dollar: r.Dollar}
	w.Add("session_id = ?", sessionID)
	if cur != "" {
		c, err := DecodeCursor(cur, 1)
		if err != nil {
			return []event.Event{}, "", err
		}
		k, err := c.KeyValue(r.Keys)
		if err != nil {
			return []event.Event{}, "", err
		}
		w.Add("(time_ns, id) > (?, ?)", k, c.IDs[0])
	}
	events, next := []event.Event{}, ""
	err = r.Query(ctx, fmt.Sprintf(`SELECT time_ns, id, body FROM events%s ORDER BY time_ns, id LIMIT %d`,
		w.SQL(), limit+1), w.Args, func(rows Rows) error {
		var err error
		events, next, err = EventPage(rows, limit)
		return err
	})
	return events, next, err
}

// sql numbers the placeholders of a query with one "?" per argument, for the dialect.
func (r Reader) sql(q string) string {
	if !r.Dollar {
		return q
	}
	var w Where
	w.Dollar = true
	w.Add(q, make([]any, strings.Count(q, "?"))...)
	return w.conds[0]
}

// SessionUsers returns the user of each stored session of ids. See agenttrace.Owners.
func (r Reader) SessionUsers(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for len(ids) > 0 {
		// Batches keep the statement under every dialect's parameter limit.
		n := min(len(ids), 500)
		w := Where{Dollar: r.Dollar}
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		w.Add("id IN ("+strings.TrimSuffix(strings.Repeat("?, ", n), ", ")+")", args...)
		Visible(ctx, &w, r.User)
		err := r.Query(ctx, `SELECT id, `+r.User+` FROM sessions`+w.SQL(), w.Args, func(rows Rows) error {
			for rows.Next() {
				var id, user string
				if err := rows.Scan(&id, &user); err != nil {
					return err
				}
				out[id] = user
			}
			return rows.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("session users: %w", err)
		}
		ids = ids[n:]
	}
	return out, nil
}

// Tokens lists every token, revoked ones included, oldest first. See agenttrace.Store.
func (r Reader) Tokens(ctx context.Context) ([]agenttrace.Token, error) {
	out := []agenttrace.Token{}
	err := r.Query(ctx, `SELECT `+TokenCols+` FROM tokens ORDER BY created_ms, id`, nil, func(rows Rows) error {
		for rows.Next() {
			t, err := ScanToken(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// DailyCosts reads rows of (day, group key, cost, input, output, cache creation, 5m and
// 1h cache creation, cache read tokens, web searches). The day is a UTC day number
// (days since 1970-01-01) when dayNumbers, else already its YYYY-MM-DD text. Costs are
// rounded with Round9.
func DailyCosts(rows Rows, dayNumbers bool) ([]agenttrace.DailyCost, error) {
	out := []agenttrace.DailyCost{}
	for rows.Next() {
		var d agenttrace.DailyCost
		var day int64
		var dayDest any = &d.Day
		if dayNumbers {
			dayDest = &day
		}
		u := &d.Usage
		if err := rows.Scan(dayDest, &d.Key, &d.CostUSD, &u.InputTokens, &u.OutputTokens, &u.CacheCreationInputTokens,
			&u.CacheCreation5mTokens, &u.CacheCreation1hTokens, &u.CacheReadInputTokens, &u.WebSearchRequests); err != nil {
			return nil, err
		}
		if dayNumbers {
			d.Day = time.UnixMilli(day * dayMS).UTC().Format("2006-01-02")
		}
		d.CostUSD = Round9(d.CostUSD)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

const dayMS = 86400000

// Refresh re-projects every stored session with reprojectAll when the projection rules
// or the prices (pricesVersion) differ from the ProjectionStamp the meta table records,
// then records the new stamp with exec. It returns how many sessions it rebuilt.
func Refresh(ctx context.Context, r Reader, pricesVersion string, reprojectAll func(context.Context) (int, error),
	exec func(ctx context.Context, q string, args ...any) error) (int, error) {
	want := ProjectionStamp(pricesVersion)
	var have string
	err := r.Query(ctx, `SELECT value FROM meta WHERE key = 'projection'`, nil, func(rows Rows) error {
		if rows.Next() {
			return rows.Scan(&have)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("refresh: %w", err)
	}
	if have == want {
		return 0, nil
	}
	n, err := reprojectAll(ctx)
	if err != nil {
		return n, fmt.Errorf("refresh: %w", err)
	}
	if err := exec(ctx, r.sql(`INSERT INTO meta (key, value) VALUES ('projection', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`), want); err != nil {
		return n, fmt.Errorf("refresh: record version: %w", err)
	}
	return n, nil
}

// QueryDailyCosts runs a daily cost query and reads its rows with DailyCosts.
func (r Reader) QueryDailyCosts(ctx context.Context, q string, args []any, dayNumbers bool) ([]agenttrace.DailyCost, error) {
	var out []agenttrace.DailyCost
	err := r.Query(ctx, q, args, func(rows Rows) error {
		var err error
		out, err = DailyCosts(rows, dayNumbers)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	return out, nil
}

// ScanSummaryTotals reads the session totals of a summary: count, prompts, tool calls,
// tool errors, commits, pull requests, lines added and removed, then the usage columns
// (input, output, cache creation, 5m and 1h cache creation, cache read, web searches).
func ScanSummaryTotals(sc interface{ Scan(...any) error }, sum *agenttrace.Summary) error {
	u := &sum.Usage
	return sc.Scan(&sum.Sessions, &sum.Prompts, &sum.ToolCalls, &sum.ToolErrors, &sum.Commits, &sum.PullRequests,
		&sum.LinesAdded, &sum.LinesRemoved, &u.InputTokens, &u.OutputTokens, &u.CacheCreationInputTokens,
		&u.CacheCreation5mTokens, &u.CacheCreation1hTokens, &u.CacheReadInputTokens, &u.WebSearchRequests)
}

// SetCostPerCommit fills a summary's cost per commit once its cost and commits are known.
func SetCostPerCommit(sum *agenttrace.Summary) {
	if sum.Commits > 0 {
		c := Round9(sum.CostUSD / float64(sum.Commits))
		sum.CostPerCommitUSD = &c
	}
}
