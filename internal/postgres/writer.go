package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// projectionWriter collects the writes of many sessions (sqlstore.SessionWrite) as column
// arrays, so each table is written with one statement over unnest(…) and all of them go
// in one round trip.
type projectionWriter struct {
	all  []string // every session written: its sessions row is replaced
	allN []int32  // its prompt count: prompt rows at or past it go
	// emptied are the sessions with no events left, whose sessions row goes; refacet
	// those whose facets are all replaced (the others only gain some).
	emptied, refacet []string
	full             []string // sessions whose git and usage rows are all replaced
	gone             []string // usage rows no longer counted, by event ID

	// sessions
	sID, sStatus, sUser, sHost, sRepo, sBranch                  []string
	sStarted, sLast, sDuration                                  []int64
	sEnded                                                      []*int64
	sCost                                                       []*float64
	sCostKey                                                    []float64
	sPrompts, sCalls, sErrors, sCommits, sPRs, sAdded, sRemoved []int32
	sIn, sOut, sCC, sCC5, sCC1, sCR, sWS                        []int64
	sSummary, sDetail                                           [][]byte
	facets                                                      facetColumns
	pSession, pID, pText                                        []string
	pIdx                                                        []int32
	pStarted                                                    []int64
	pDetail                                                     [][]byte
	tc                                                          callColumns
	commits, prs                                                gitColumns
	uID, uSession, uModel, uUser, uRepo                         []string
	uTime, uStarted, uIn, uOut, uCC, uCC5, uCC1, uCR, uWS       []int64
	uCost                                                       []*float64
}

// facetColumns are session_facets rows as columns.
type facetColumns struct{ facet, value, session []string }

func (c *facetColumns) add(session string, fs []sqlstore.Facet) {
	for _, f := range fs {
		c.facet, c.value, c.session = append(c.facet, f.Facet), append(c.value, f.Value), append(c.session, session)
	}
}

// callColumns are tool_calls rows as columns.
type callColumns struct {
	session, id, name, server, status, command []string
	idx                                        []int32
	started, duration                          []int64
}

func (c *callColumns) add(session string, rows []sqlstore.ToolCallRow) {
	for _, r := range rows {
		c.session, c.id, c.name, c.server = append(c.session, session), append(c.id, r.ID), append(c.name, r.Name), append(c.server, r.MCPServer)
		c.status, c.command, c.idx = append(c.status, r.Status), append(c.command, r.Command), append(c.idx, int32(r.PromptIdx))
		c.started, c.duration = append(c.started, r.StartedMS), append(c.duration, r.DurationMS)
	}
}

// gitColumns are commits or pull_requests rows as columns.
type gitColumns struct {
	session, key, repo, user []string
	time                     []int64
	body                     [][]byte
}

func (g *gitColumns) add(session string, rows []sqlstore.GitRow) {
	for _, r := range rows {
		g.session, g.key, g.repo, g.user = append(g.session, session), append(g.key, r.Key), append(g.repo, r.Repo), append(g.user, r.User)
		g.time, g.body = append(g.time, r.TimeMS), append(g.body, r.Body)
	}
}

func (w *projectionWriter) add(sw sqlstore.SessionWrite) {
	w.all = append(w.all, sw.ID)
	n := 0
	if sw.Session != nil {
		n = len(sw.Session.Prompts)
	}
	w.allN = append(w.allN, int32(n))
	if sw.Full {
		w.full = append(w.full, sw.ID)
	}
	w.gone = append(w.gone, sw.Gone...)
	if sw.Session == nil {
		w.emptied, w.refacet = append(w.emptied, sw.ID), append(w.refacet, sw.ID)
		return
	}
	w.session(sw.Session, sw.Row)
	if sw.FacetsKnown {
		w.facets.add(sw.ID, sw.FacetsAdded)
	} else {
		w.refacet = append(w.refacet, sw.ID)
		w.facets.add(sw.ID, sw.Facets)
	}
	for _, p := range sw.Prompts {
		w.pSession, w.pID, w.pIdx = append(w.pSession, sw.ID), append(w.pID, p.ID), append(w.pIdx, int32(p.Index))
		w.pStarted, w.pText, w.pDetail = append(w.pStarted, p.StartedMS), append(w.pText, p.Text), append(w.pDetail, p.Detail)
	}
	w.tc.add(sw.ID, sw.Calls)
	w.commits.add(sw.ID, sw.Commits)
	w.prs.add(sw.ID, sw.PRs)
	for _, k := range sw.Usage {
		w.usage(k)
	}
}

func (w *projectionWriter) session(sess *agenttrace.Session, row sqlstore.SessionRow) {
	u := sess.Usage
	w.sID = append(w.sID, sess.ID)
	w.sStarted = append(w.sStarted, sess.StartedAt.UnixMilli())
	w.sEnded = append(w.sEnded, row.EndedMS)
	w.sLast = append(w.sLast, sess.LastEventAt.UnixMilli())
	w.sStatus = append(w.sStatus, sess.Status)
	w.sDuration = append(w.sDuration, sess.DurationMS)
	w.sUser = append(w.sUser, sess.User)
	w.sHost = append(w.sHost, sess.Host)
	w.sRepo = append(w.sRepo, sess.Repo)
	w.sBranch = append(w.sBranch, sess.Branch)
	w.sCost = append(w.sCost, sess.CostUSD)
	w.sCostKey = append(w.sCostKey, row.CostKey)
	w.sPrompts = append(w.sPrompts, int32(sess.PromptCount))
	w.sCalls = append(w.sCalls, int32(sess.ToolCallCount))
	w.sErrors = append(w.sErrors, int32(sess.ErrorCount))
	w.sCommits = append(w.sCommits, int32(sess.CommitCount))
	w.sPRs = append(w.sPRs, int32(sess.PRCount))
	w.sAdded = append(w.sAdded, int32(sess.LinesAdded))
	w.sRemoved = append(w.sRemoved, int32(sess.LinesRemoved))
	w.sIn = append(w.sIn, u.InputTokens)
	w.sOut = append(w.sOut, u.OutputTokens)
	w.sCC = append(w.sCC, u.CacheCreationInputTokens)
	w.sCC5 = append(w.sCC5, u.CacheCreation5mTokens)
	w.sCC1 = append(w.sCC1, u.CacheCreation1hTokens)
	w.sCR = append(w.sCR, u.CacheReadInputTokens)
	w.sWS = append(w.sWS, u.WebSearchRequests)
	w.sSummary = append(w.sSummary, row.Summary)
	w.sDetail = append(w.sDetail, row.Detail)
}

func (w *projectionWriter) usage(k sqlstore.UsageFact) {
	u := k.Usage
	w.uID = append(w.uID, k.EventID)
	w.uSession = append(w.uSession, k.SessionID)
	w.uTime = append(w.uTime, k.TimeMS)
	w.uStarted = append(w.uStarted, k.SessionStartedMS)
	w.uModel = append(w.uModel, k.Model)
	w.uUser = append(w.uUser, k.User)
	w.uRepo = append(w.uRepo, k.Repo)
	w.uIn = append(w.uIn, u.InputTokens)
	w.uOut = append(w.uOut, u.OutputTokens)
	w.uCC = append(w.uCC, u.CacheCreationInputTokens)
	w.uCC5 = append(w.uCC5, u.CacheCreation5mTokens)
	w.uCC1 = append(w.uCC1, u.CacheCreation1hTokens)
	w.uCR = append(w.uCR, u.CacheReadInputTokens)
	w.uWS = append(w.uWS, u.WebSearchRequests)
	w.uCost = append(w.uCost, k.CostUSD)
}

// write sends every write in one round trip: the deletes, then the rows.
func (w *projectionWriter) write(ctx context.Context, tx pgx.Tx) error {
	if len(w.all) == 0 {
		return nil
	}
	var b pgx.Batch
	w.queueDeletes(&b)
	w.queueSessions(&b)
	w.queueRows(&b)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("write projections: %w", err)
	}
	return nil
}

func (w *projectionWriter) queueDeletes(b *pgx.Batch) {
	if len(w.emptied) > 0 {
		b.Queue(`DELETE FROM sessions WHERE id = ANY($1)`, w.emptied)
	}
	if len(w.refacet) > 0 {
		b.Queue(`DELETE FROM session_facets WHERE session_id = ANY($1)`, w.refacet)
	}
	b.Queue(`DELETE FROM prompts p USING unnest($1::text[], $2::int[]) AS x(sid, n)
		WHERE p.session_id = x.sid AND p.idx >= x.n`, w.all, w.allN)
	// The calls of prompts past the last, and of every prompt rewritten (its rows follow).
	b.Queue(`DELETE FROM tool_calls t USING unnest($1::text[], $2::int[]) AS x(sid, n)
		WHERE t.session_id = x.sid AND t.prompt_idx >= x.n`, w.all, w.allN)
	if len(w.pSession) > 0 {
		b.Queue(`DELETE FROM tool_calls t USING unnest($1::text[], $2::int[]) AS x(sid, idx)
			WHERE t.session_id = x.sid AND t.prompt_idx = x.idx`, w.pSession, w.pIdx)
	}
	if len(w.full) > 0 {
		for _, q := range []string{`DELETE FROM commits WHERE session_id = ANY($1)`,
			`DELETE FROM pull_requests WHERE session_id = ANY($1)`, `DELETE FROM usage_facts WHERE session_id = ANY($1)`} {
			b.Queue(q, w.full)
		}
	}
	if len(w.gone) > 0 {
		b.Queue(`DELETE FROM usage_facts WHERE event_id = ANY($1)`, w.gone)
	}
}

// sessionUpdates updates a sessions row in place: a delete and insert would leave a dead
// row and a new entry in every index on each batch.
var sessionUpdates = func() string {
	cols := []string{"started_ms", "ended_ms", "last_event_ms", "status", "duration_ms", `"user"`, "host", "repo",
		"branch", "cost_usd", "cost_key", "prompt_count", "tool_call_count", "error_count", "commit_count", "pr_count",
		"lines_added", "lines_removed", "input_tokens", "output_tokens", "cache_creation_tokens",
		"cache_creation_5m_tokens", "cache_creation_1h_tokens", "cache_read_tokens", "web_search_requests", "summary",
		"detail"}
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = EXCLUDED." + c
	}
	return strings.Join(set, ", ")
}()

func (w *projectionWriter) queueSessions(b *pgx.Batch) {
	if len(w.sID) > 0 {
		b.Queue(`INSERT INTO sessions (id, started_ms, ended_ms, last_event_ms, status, duration_ms, "user", host, repo,
			branch, cost_usd, cost_key, prompt_count, tool_call_count, error_count, commit_count, pr_count, lines_added,
			lines_removed, input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens,
			cache_creation_1h_tokens, cache_read_tokens, web_search_requests, summary, detail)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[], $13::int[], $14::int[],
			$15::int[], $16::int[], $17::int[], $18::int[], $19::int[], $20::bigint[], $21::bigint[], $22::bigint[],
			$23::bigint[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bytea[], $28::bytea[])
			ON CONFLICT (id) DO UPDATE SET `+sessionUpdates,
			w.sID, w.sStarted, w.sEnded, w.sLast, w.sStatus, w.sDuration, w.sUser, w.sHost, w.sRepo, w.sBranch,
			w.sCost, w.sCostKey, w.sPrompts, w.sCalls, w.sErrors, w.sCommits, w.sPRs, w.sAdded, w.sRemoved,
			w.sIn, w.sOut, w.sCC, w.sCC5, w.sCC1, w.sCR, w.sWS, w.sSummary, w.sDetail)
	}
	if len(w.facets.facet) > 0 {
		b.Queue(`INSERT INTO session_facets (facet, value, session_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
			w.facets.facet, w.facets.value, w.facets.session)
	}
}

// queueRows writes the prompt, git and usage rows, each replacing the row of its key.
func (w *projectionWriter) queueRows(b *pgx.Batch) {
	if len(w.pID) > 0 {
		b.Queue(`INSERT INTO prompts (session_id, prompt_id, idx, started_ms, text, detail)
			SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::bytea[])
			ON CONFLICT (session_id, idx) DO UPDATE SET prompt_id = EXCLUDED.prompt_id, started_ms = EXCLUDED.started_ms,
			text = EXCLUDED.text, detail = EXCLUDED.detail`,
			w.pSession, w.pID, w.pIdx, w.pStarted, w.pText, w.pDetail)
	}
	if len(w.tc.id) > 0 {
		b.Queue(`INSERT INTO tool_calls (session_id, prompt_idx, tool_use_id, name, mcp_server, status, started_ms,
			duration_ms, command)
			SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
			$8::bigint[], $9::text[])
			ON CONFLICT (session_id, prompt_idx, tool_use_id) DO UPDATE SET name = EXCLUDED.name,
			mcp_server = EXCLUDED.mcp_server, status = EXCLUDED.status, started_ms = EXCLUDED.started_ms,
			duration_ms = EXCLUDED.duration_ms, command = EXCLUDED.command`,
			w.tc.session, w.tc.idx, w.tc.id, w.tc.name, w.tc.server, w.tc.status, w.tc.started, w.tc.duration, w.tc.command)
	}
	for _, g := range []struct {
		table, key, time string
		cols             *gitColumns
	}{{"commits", "sha", "committed_ms", &w.commits}, {"pull_requests", "pr_key", "seen_ms", &w.prs}} {
		if len(g.cols.key) == 0 {
			continue
		}
		b.Queue(fmt.Sprintf(`INSERT INTO %[1]s (session_id, %[2]s, %[3]s, repo, "user", body)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[])
			ON CONFLICT (session_id, %[2]s) DO UPDATE SET %[3]s = EXCLUDED.%[3]s, repo = EXCLUDED.repo,
			"user" = EXCLUDED."user", body = EXCLUDED.body`, g.table, g.key, g.time),
			g.cols.session, g.cols.key, g.cols.time, g.cols.repo, g.cols.user, g.cols.body)
	}
	if len(w.uID) > 0 {
		b.Queue(`INSERT INTO usage_facts (`+usageCols+`)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
			$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],
			$15::float8[])
			ON CONFLICT (event_id) DO UPDATE SET session_id = EXCLUDED.session_id, time_ms = EXCLUDED.time_ms,
			session_started_ms = EXCLUDED.session_started_ms, model = EXCLUDED.model, "user" = EXCLUDED."user",
			repo = EXCLUDED.repo, input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
			cache_creation_tokens = EXCLUDED.cache_creation_tokens, cache_creation_5m_tokens = EXCLUDED.cache_creation_5m_tokens,
			cache_creation_1h_tokens = EXCLUDED.cache_creation_1h_tokens, cache_read_tokens = EXCLUDED.cache_read_tokens,
			web_search_requests = EXCLUDED.web_search_requests, cost_usd = EXCLUDED.cost_usd`,
			w.uID, w.uSession, w.uTime, w.uStarted, w.uModel, w.uUser, w.uRepo, w.uIn, w.uOut, w.uCC, w.uCC5,
			w.uCC1, w.uCR, w.uWS, w.uCost)
	}
}
