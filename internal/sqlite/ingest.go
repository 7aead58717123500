package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// Ingest stores events and re-projects every session they touch, in one transaction, by
// the rules every SQL store shares (sqlstore.Ingest). See agenttrace.Ingester. The
// store has one writer connection, so no lock beyond the transaction's is needed;
// concurrent ingests share one transaction (sqlstore.Coalescer).
func (s *Store) Ingest(ctx context.Context, events []event.Event) (agenttrace.IngestResult, error) {
	return s.ingests.Ingest(ctx, ingestDialect{s}, events)
}

// ingestDialect is SQLite's side of sqlstore.Ingest.
type ingestDialect struct{ s *Store }

var (
	_ sqlstore.IngestDialect = ingestDialect{}
	_ sqlstore.BodyEncoder   = ingestDialect{}
)

// EncodeBody stores an event's JSON as an S2 block against the events dictionary
// (sqlstore.CompressBlob), about 40 % of its size. Every read of events.body
// decompresses (sqlstore.DecompressBlob), and rows written before, plain JSON, read as
// they are.
func (ingestDialect) EncodeBody(json []byte) []byte { return sqlstore.CompressBlob(json) }

// ingestTx is one ingest transaction. Its statements are prepared once per transaction
// (stmtTx), as a batch runs each of them for every event.
type ingestTx struct {
	s   *Store
	tx  *sql.Tx
	stx *stmtTx
	// folded holds every re-projected session's projector, for the cache once committed.
	folded map[string]sqlstore.Folded
}

// BeginIngest begins a transaction on the one writer connection: SQLite serialises
// writers itself, so the sessions need no locks of their own.
func (d ingestDialect) BeginIngest(ctx context.Context, _ []string) (sqlstore.IngestTx, error) {
	tx, err := d.s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &ingestTx{s: d.s, tx: tx, stx: newStmtTx(tx, d.s.stmts)}, nil
}

func (t *ingestTx) Insert(ctx context.Context, rows []sqlstore.EventRow) ([]string, error) {
	var inserted []string
	for _, r := range rows {
		res, err := t.stx.ExecContext(ctx, `INSERT INTO events (id, session_id, kind, time_ns, usage_total, body)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, id) DO NOTHING`,
			r.ID, r.SessionID, r.Kind, r.Time.UnixNano(), r.UsageTotal, r.Body)
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", r.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			inserted = append(inserted, r.ID)
		}
	}
	return inserted, nil
}

func (t *ingestTx) Stored(ctx context.Context, rows []sqlstore.EventRow) (map[string][]byte, error) {
	out := make(map[string][]byte, len(rows))
	for _, r := range rows {
		var body []byte
		err := t.stx.QueryRowContext(ctx, `SELECT body FROM events WHERE session_id = ? AND id = ?`, r.SessionID, r.ID).Scan(&body)
		if err == nil {
			body, err = sqlstore.DecompressBlob(body)
		}
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", r.ID, err)
		}
		out[r.ID] = body
	}
	return out, nil
}

func (t *ingestTx) Replace(ctx context.Context, rows []sqlstore.EventRow) error {
	for _, r := range rows {
		if _, err := t.stx.ExecContext(ctx, `UPDATE events SET time_ns = ?, usage_total = ?, body = ?
			WHERE session_id = ? AND id = ?`, r.Time.UnixNano(), r.UsageTotal, r.Body, r.SessionID, r.ID); err != nil {
			return fmt.Errorf("event %s: %w", r.ID, err)
		}
	}
	return nil
}

// Reproject folds this call's events into each session's projection: the cached
// projector when it has seen every stored event of the session, else one folded from
// the database. The events written are copied first: the cache must never alias the
// caller's memory. A rebuild of stored sessions (written nil, ReprojectAll) reads the
// database and leaves the cache alone, so that rebuilding every session does not evict
// the live ones.
func (t *ingestTx) Reproject(ctx context.Context, sessions []string, written map[string]sqlstore.EventRow) error {
	if written == nil {
		for _, id := range sessions {
			// A cached projection of the session is out of date from now on.
			if _, err := raiseGen(ctx, t.stx, id); err != nil {
				return fmt.Errorf("session %s: %w", id, err)
			}
			evs, err := sessionEvents(ctx, t.stx, id, nil)
			if err != nil {
				return fmt.Errorf("session %s: %w", id, err)
			}
			if err := t.s.reproject(ctx, t.stx, id, evs); err != nil {
				return fmt.Errorf("session %s: %w", id, err)
			}
		}
		return nil
	}
	fresh, bySession := sqlstore.Written(written)
	t.folded = make(map[string]sqlstore.Folded, len(sessions))
	for _, id := range sessions {
		if err := t.fold(ctx, id, bySession[id], fresh); err != nil {
			return fmt.Errorf("project session %s: %w", id, err)
		}
	}
	return nil
}

// fold adds a session's written events to its projector and writes what they changed.
func (t *ingestTx) fold(ctx context.Context, id string, events []*event.Event, fresh map[string]*event.Event) error {
	cached, err := t.s.current(ctx, t.stx, id)
	if err != nil {
		return err
	}
	f, err := sqlstore.Fold(cached, events, t.s.pricer, func() ([]event.Event, error) {
		return sessionEvents(ctx, t.stx, id, fresh)
	})
	if err != nil {
		return err
	}
	w, err := sqlstore.NewSessionWrite(id, f.P.Delta(), &f)
	if err != nil {
		return err
	}
	if err := writeProjection(ctx, t.stx, w); err != nil {
		return err
	}
	t.folded[id] = f
	return nil
}

// Commit commits, then caches the sessions' projectors and wakes the checkpointer.
func (t *ingestTx) Commit(context.Context) error {
	t.stx.Close()
	if err := t.tx.Commit(); err != nil {
		return err
	}
	for id, f := range t.folded {
		t.s.projectors.Put(id, f)
	}
	t.s.wrote()
	t.s.stmts.warm(context.Background())
	return nil
}

func (t *ingestTx) Rollback(context.Context) {
	t.stx.Close()
	t.tx.Rollback()
}

// sessionEvents reads every stored event of a session; those in known (stored by the
// running transaction) are taken as they are instead of being decoded again.
func sessionEvents(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, id string, known map[string]*event.Event) ([]event.Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, body FROM events WHERE session_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var eid string
		var body sql.RawBytes
		if err := rows.Scan(&eid, &body); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		if e, ok := known[eid]; ok {
			out = append(out, *e)
			continue
		}
		js, err := sqlstore.DecompressBlob(body)
		if err != nil {
			return nil, fmt.Errorf("read event %s: %w", eid, err)
		}
		var e event.Event
		if err := json.Unmarshal(js, &e); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// current raises the session's generation and takes its folded projection out of the
// cache if it is still current (sqlstore.ProjectorCache.TakeCurrent).
func (s *Store) current(ctx context.Context, tx dbtx, id string) (sqlstore.Folded, error) {
	gen, err := raiseGen(ctx, tx, id)
	if err != nil {
		return sqlstore.Folded{}, err
	}
	return s.projectors.TakeCurrent(id, gen), nil
}

// raiseGen raises a session's generation and returns the new one.
func raiseGen(ctx context.Context, tx dbtx, id string) (int64, error) {
	var gen int64
	err := tx.QueryRowContext(ctx, `INSERT INTO session_gen (session_id, gen) VALUES (?, 1)
		ON CONFLICT (session_id) DO UPDATE SET gen = gen + 1 RETURNING gen`, id).Scan(&gen)
	if err != nil {
		return 0, fmt.Errorf("raise generation: %w", err)
	}
	return gen, nil
}

// reproject rebuilds one session's materialised rows from all its stored events.
func (s *Store) reproject(ctx context.Context, tx dbtx, id string, evs []event.Event) error {
	w, err := sqlstore.ProjectSession(id, evs, s.pricer)
	if err != nil {
		return err
	}
	return writeProjection(ctx, tx, w)
}

// writeProjection writes a session's materialised rows: all of them when w.Full (none
// when the session has no events left), else the sessions row, its facets and the
// prompt, git and usage rows w holds.
func writeProjection(ctx context.Context, tx dbtx, w sqlstore.SessionWrite) error {
	if err := deleteProjection(ctx, tx, w); err != nil {
		return err
	}
	sess := w.Session
	if sess == nil {
		return nil
	}
	if err := writeSession(ctx, tx, sess, w.Row); err != nil {
		return err
	}
	if err := writeFacets(ctx, tx, w); err != nil {
		return err
	}
	if err := writePrompts(ctx, tx, w); err != nil {
		return err
	}
	if err := writeGit(ctx, tx, w); err != nil {
		return err
	}
	return writeUsageFacts(ctx, tx, w)
}

// deleteProjection removes the rows of a session that w replaces as a whole: the facets
// unless w knows what changed in them, the git and usage rows too with w.Full, and the
// sessions row and prompts when the session has no events left. The sessions row is
// otherwise updated in place: a delete and insert would move it to the end of the table
// and touch every one of its indexes on each batch.
func deleteProjection(ctx context.Context, tx dbtx, w sqlstore.SessionWrite) error {
	var tables []string
	if !w.FacetsKnown {
		tables = append(tables, "session_facets WHERE session_id = ?")
	}
	if w.Full {
		tables = append(tables, "commits WHERE session_id = ?", "pull_requests WHERE session_id = ?",
			"usage_facts WHERE session_id = ?")
	}
	if w.Session == nil {
		tables = append(tables, "sessions WHERE id = ?", "prompts WHERE session_id = ?", "tool_calls WHERE session_id = ?")
	}
	for _, table := range tables {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table, w.ID); err != nil {
			return fmt.Errorf("clear %s: %w", strings.Fields(table)[0], err)
		}
	}
	return nil
}

// writeFacets writes the facets w adds (every one unless w.FacetsKnown).
func writeFacets(ctx context.Context, tx dbtx, w sqlstore.SessionWrite) error {
	add := w.Facets
	if w.FacetsKnown {
		add = w.FacetsAdded
	}
	for _, f := range add {
		if _, err := tx.ExecContext(ctx, `INSERT INTO session_facets (facet, value, session_id) VALUES (?, ?, ?)`,
			f.Facet, f.Value, w.ID); err != nil {
			return fmt.Errorf("write facet: %w", err)
		}
	}
	return nil
}

// writeGit writes the commits and pull requests w holds.
func writeGit(ctx context.Context, tx dbtx, w sqlstore.SessionWrite) error {
	for _, c := range w.Commits {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO commits (session_id, sha, committed_ms, repo, user, body)
			VALUES (?, ?, ?, ?, ?, ?)`, w.ID, c.Key, c.TimeMS, c.Repo, c.User, c.Body); err != nil {
			return fmt.Errorf("write commit %s: %w", c.Key, err)
		}
	}
	for _, p := range w.PRs {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO pull_requests (session_id, pr_key, seen_ms, repo, user, body)
			VALUES (?, ?, ?, ?, ?, ?)`, w.ID, p.Key, p.TimeMS, p.Repo, p.User, p.Body); err != nil {
			return fmt.Errorf("write pull request %s: %w", p.Key, err)
		}
	}
	return nil
}

// writeUsageFacts writes the usage facts w holds and deletes those it says are gone.
func writeUsageFacts(ctx context.Context, tx dbtx, w sqlstore.SessionWrite) error {
	for _, uf := range w.Usage {
		var c sql.NullFloat64
		if uf.CostUSD != nil {
			c = sql.NullFloat64{Float64: *uf.CostUSD, Valid: true}
		}
		uu := uf.Usage
		// An upsert, not INSERT OR REPLACE: its implicit delete would fire no trigger,
		// and usage_daily's triggers must see the old fact go.
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage_facts (event_id, session_id, time_ms, day, model, user,
			repo, input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens,
			cache_creation_1h_tokens, cache_read_tokens, web_search_requests, cost_usd)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (session_id, event_id) DO UPDATE SET time_ms = excluded.time_ms, day = excluded.day,
			model = excluded.model, user = excluded.user, repo = excluded.repo, input_tokens = excluded.input_tokens,
			output_tokens = excluded.output_tokens, cache_creation_tokens = excluded.cache_creation_tokens,
			cache_creation_5m_tokens = excluded.cache_creation_5m_tokens,
			cache_creation_1h_tokens = excluded.cache_creation_1h_tokens, cache_read_tokens = excluded.cache_read_tokens,
			web_search_requests = excluded.web_search_requests, cost_usd = excluded.cost_usd`,
			uf.EventID, w.ID, uf.TimeMS, time.UnixMilli(uf.TimeMS).UTC().Format("2006-01-02"),
			uf.Model, uf.User, uf.Repo, uu.InputTokens, uu.OutputTokens, uu.CacheCreationInputTokens,
			uu.CacheCreation5mTokens, uu.CacheCreation1hTokens, uu.CacheReadInputTokens, uu.WebSearchRequests, c); err != nil {
			return fmt.Errorf("write usage %s: %w", uf.EventID, err)
		}
	}
	for _, eid := range w.Gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM usage_facts WHERE session_id = ? AND event_id = ?`, w.ID, eid); err != nil {
			return fmt.Errorf("delete usage %s: %w", eid, err)
		}
	}
	return nil
}

// writeSession writes a projected session's sessions row.
func writeSession(ctx context.Context, tx dbtx, sess *agenttrace.Session, row sqlstore.SessionRow) error {
	var endedMS sql.NullInt64
	if row.EndedMS != nil {
		endedMS = sql.NullInt64{Int64: *row.EndedMS, Valid: true}
	}
	var cost sql.NullFloat64
	if sess.CostUSD != nil {
		cost = sql.NullFloat64{Float64: *sess.CostUSD, Valid: true}
	}
	u := sess.Usage
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, started_ms, ended_ms, last_event_ms, status,
		duration_ms, user, host, repo, branch, cost_usd, cost_key, prompt_count, tool_call_count, error_count,
		commit_count, pr_count, lines_added, lines_removed, input_tokens, output_tokens, cache_creation_tokens,
		cache_creation_5m_tokens, cache_creation_1h_tokens, cache_read_tokens, web_search_requests, summary, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET started_ms = excluded.started_ms, ended_ms = excluded.ended_ms, last_event_ms =
		excluded.last_event_ms, status = excluded.status, duration_ms = excluded.duration_ms, user =
		excluded.user, host = excluded.host, repo = excluded.repo, branch = excluded.branch, cost_usd =
		excluded.cost_usd, cost_key = excluded.cost_key, prompt_count = excluded.prompt_count,
		tool_call_count = excluded.tool_call_count, error_count = excluded.error_count, commit_count =
		excluded.commit_count, pr_count = excluded.pr_count, lines_added = excluded.lines_added,
		lines_removed = excluded.lines_removed, input_tokens = excluded.input_tokens, output_tokens =
		excluded.output_tokens, cache_creation_tokens = excluded.cache_creation_tokens,
		cache_creation_5m_tokens = excluded.cache_creation_5m_tokens, cache_creation_1h_tokens =
		excluded.cache_creation_1h_tokens, cache_read_tokens = excluded.cache_read_tokens,
		web_search_requests = excluded.web_search_requests, summary = excluded.summary, detail =
		excluded.detail`,
		sess.ID, sess.StartedAt.UnixMilli(), endedMS, sess.LastEventAt.UnixMilli(), sess.Status,
		sess.DurationMS, sess.User, sess.Host, sess.Repo, sess.Branch, cost, row.CostKey, sess.PromptCount,
		sess.ToolCallCount, sess.ErrorCount, sess.CommitCount, sess.PRCount, sess.LinesAdded, sess.LinesRemoved,
		u.InputTokens, u.OutputTokens, u.CacheCreationInputTokens, u.CacheCreation5mTokens,
		u.CacheCreation1hTokens, u.CacheReadInputTokens, u.WebSearchRequests, row.Summary, row.Detail)
	if err != nil {
		return fmt.Errorf("write session: %w", err)
	}
	return nil
}

// writePrompts writes the prompt rows w holds, their details compressed (a fifth of the
// JSON, see sqlstore.CompressBlob), and, with w.Full, deletes those past the
// session's last prompt: between full projections a session's prompts and each prompt's
// calls only grow (a change the projection can't follow makes it full), and a delete
// that finds nothing still costs a trip through the table's triggers, a good part of a
// small batch. The text index follows a row only when its text changes (the trigger's
// WHEN), so rewriting a prompt for its calls costs no reindexing.
func writePrompts(ctx context.Context, tx dbtx, w sqlstore.SessionWrite) error {
	for _, p := range w.Prompts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO prompts (session_id, prompt_id, idx, started_ms, text, detail)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, idx) DO UPDATE SET prompt_id = excluded.prompt_id,
			started_ms = excluded.started_ms, text = excluded.text, detail = excluded.detail`,
			w.ID, p.ID, p.Index, p.StartedMS, p.Text, sqlstore.CompressBlob(p.Detail)); err != nil {
			return fmt.Errorf("write prompt %s: %w", p.ID, err)
		}
	}
	if w.Full {
		if _, err := tx.ExecContext(ctx, `DELETE FROM prompts WHERE session_id = ? AND idx >= ?`, w.ID, len(w.Session.Prompts)); err != nil {
			return fmt.Errorf("delete prompts: %w", err)
		}
	}
	return writeToolCalls(ctx, tx, w)
}

// writeToolCalls writes the tool_calls rows of the prompts w writes, with their session's
// user, and with w.Full deletes the rows those prompts no longer have and those of
// prompts past the session's last (see writePrompts). An upsert that changes nothing
// writes nothing: a batch into a prompt with many calls touches the indexes and
// tool_daily's triggers for the calls it changed, not for every call of the prompt again.
func writeToolCalls(ctx context.Context, tx dbtx, w sqlstore.SessionWrite) error {
	for _, c := range w.Calls {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tool_calls (session_id, prompt_idx, tool_use_id, name,
			mcp_server, status, started_ms, duration_ms, command, user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (session_id, prompt_idx, tool_use_id) DO UPDATE SET name = excluded.name,
			mcp_server = excluded.mcp_server, status = excluded.status, started_ms = excluded.started_ms,
			duration_ms = excluded.duration_ms, command = excluded.command, user = excluded.user
			WHERE (name, mcp_server, status, started_ms, duration_ms, command, user) IS NOT
			(excluded.name, excluded.mcp_server, excluded.status, excluded.started_ms, excluded.duration_ms,
			excluded.command, excluded.user)`,
			w.ID, c.PromptIdx, c.ID, c.Name, c.MCPServer, c.Status, c.StartedMS, c.DurationMS, c.Command,
			w.Session.User); err != nil {
			return fmt.Errorf("write tool call %s: %w", c.ID, err)
		}
	}
	if !w.Full {
		return nil
	}
	ids := make(map[int][]string, len(w.Prompts))
	for _, p := range w.Prompts {
		ids[p.Index] = []string{}
	}
	for _, c := range w.Calls {
		ids[c.PromptIdx] = append(ids[c.PromptIdx], c.ID)
	}
	for idx, keep := range ids {
		list, err := json.Marshal(keep)
		if err != nil {
			return fmt.Errorf("clear tool calls: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tool_calls WHERE session_id = ? AND prompt_idx = ?
			AND tool_use_id NOT IN (SELECT value FROM json_each(?))`, w.ID, idx, string(list)); err != nil {
			return fmt.Errorf("clear tool calls: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tool_calls WHERE session_id = ? AND prompt_idx >= ?`, w.ID, len(w.Session.Prompts)); err != nil {
		return fmt.Errorf("delete tool calls: %w", err)
	}
	return nil
}

// ReprojectAll rebuilds every session's projection from its stored events, for when the
// projection rules or the prices changed (a new binary, a price override file), in small
// transactions (sqlstore.ReprojectAll), and returns how many it rebuilt.
func (s *Store) ReprojectAll(ctx context.Context) (int, error) {
	return sqlstore.ReprojectAll(ctx, s.reader, ingestDialect{s})
}

// Refresh re-projects every stored session when the projection rules
// (projection.ProjectionVersion) or the prices (pricesVersion, any string that changes when
// the price table does) differ from those the database was last projected with, and
// records the new pair. Call it after Migrate at start-up; it returns how many sessions
// it rebuilt (0 when nothing changed).
func (s *Store) Refresh(ctx context.Context, pricesVersion string) (int, error) {
	return sqlstore.Refresh(ctx, s.reader, pricesVersion, s.ReprojectAll, func(ctx context.Context, q string, args ...any) error {
		_, err := s.write.ExecContext(ctx, q, args...)
		return err
	})
}
