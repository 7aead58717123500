package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// usageRow is a usage fact as the analytics backend receives it.
func usageRow(f sqlstore.UsageFact) *agenttrace.UsageRecord {
	return &agenttrace.UsageRecord{EventID: f.EventID, SessionID: f.SessionID, TimeMS: f.TimeMS,
		SessionStartedMS: f.SessionStartedMS, Model: f.Model, User: f.User, Repo: f.Repo, Usage: f.Usage, CostUSD: f.CostUSD}
}

const usageCols = `event_id, session_id, time_ms, session_started_ms, model, "user", repo, input_tokens, output_tokens,
	cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens, cache_read_tokens, web_search_requests, cost_usd`

func scanUsage(r pgx.Row) (sqlstore.UsageFact, error) {
	var f sqlstore.UsageFact
	u := &f.Usage
	err := r.Scan(&f.EventID, &f.SessionID, &f.TimeMS, &f.SessionStartedMS, &f.Model, &f.User, &f.Repo, &u.InputTokens,
		&u.OutputTokens, &u.CacheCreationInputTokens, &u.CacheCreation5mTokens, &u.CacheCreation1hTokens,
		&u.CacheReadInputTokens, &u.WebSearchRequests, &f.CostUSD)
	return f, err
}

// foldInput is what an ingest hands re-projection: the events it wrote, by ID (taken as
// they are instead of being read back) and by session. Both are nil for a rebuild from
// what is stored.
type foldInput struct {
	fresh     map[string]*event.Event
	bySession map[string][]*event.Event
}

// reproject writes the materialised rows of the sessions, folding the events written
// into the cached projections that are current and every stored event into the others,
// and returns the usage changes for the analytics backend and the folded projections
// for the cache. The caller holds the sessions' locks.
func (s *Store) reproject(ctx context.Context, tx pgx.Tx, sessions []string, in foldInput) ([]agenttrace.UsageChange, map[string]sqlstore.Folded, error) {
	cached, err := s.current(ctx, tx, sessions, in)
	if err != nil {
		return nil, nil, err
	}
	var load []string
	for _, id := range sessions {
		if cached[id].P == nil {
			load = append(load, id)
		}
	}
	// cached holds every session now, with its new generation; P only for those current.
	prior, err := s.readSessions(ctx, tx, sessions, load, in.fresh)
	if err != nil {
		return nil, nil, err
	}
	var w projectionWriter
	var changes []agenttrace.UsageChange
	folded := map[string]sqlstore.Folded{}
	for _, id := range sessions {
		f, _ := sqlstore.Fold(cached[id], in.bySession[id], s.pricer, func() ([]event.Event, error) { return prior.events[id], nil })
		sess, usages := f.P.Result()
		if sess == nil {
			continue
		}
		facts := sqlstore.UsageFacts(sess, usages)
		if err := w.add(sess); err != nil {
			return nil, nil, fmt.Errorf("project session %s: %w", id, err)
		}
		for _, k := range facts {
			w.usage(k)
		}
		changes = prior.diff(changes, facts)
		if in.bySession != nil {
			folded[id] = f
		}
	}
	// Responses the new projection no longer counts get a tombstone.
	for _, k := range prior.usage {
		changes = append(changes, agenttrace.UsageChange{Old: usageRow(k), Version: prior.version})
	}
	if err := s.writeProjections(ctx, tx, sessions, &w); err != nil {
		return nil, nil, err
	}
	return changes, folded, nil
}

// current raises the sessions' generations and takes out of the cache the projections
// written at the generation just before: no other replica wrote the session since. A
// rebuild (in.bySession nil) uses none, and raising the generation makes every replica
// drop what it holds.
func (s *Store) current(ctx context.Context, tx pgx.Tx, sessions []string, in foldInput) (map[string]sqlstore.Folded, error) {
	gens, err := raiseGen(ctx, tx, sessions)
	if err != nil {
		return nil, err
	}
	cached := make(map[string]sqlstore.Folded, len(gens))
	for id, g := range gens {
		f := s.projectors.TakeCurrent(id, g)
		if in.bySession == nil {
			f.P = nil // a rebuild folds from what is stored
		}
		cached[id] = f
	}
	return cached, nil
}

// raiseGen raises the generation of sessions and returns the new ones.
func raiseGen(ctx context.Context, tx pgx.Tx, sessions []string) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `INSERT INTO session_gen (session_id, gen) SELECT unnest($1::text[]), 1
		ON CONFLICT (session_id) DO UPDATE SET gen = session_gen.gen + 1 RETURNING session_id, gen`, sessions)
	if err != nil {
		return nil, fmt.Errorf("raise generation: %w", err)
	}
	gens, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
		id  string
		gen int64
	}, error) {
		var v struct {
			id  string
			gen int64
		}
		err := r.Scan(&v.id, &v.gen)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("raise generation: %w", err)
	}
	out := make(map[string]int64, len(gens))
	for _, g := range gens {
		out[g.id] = g.gen
	}
	return out, nil
}

// writeProjections replaces the sessions' materialised rows with those w holds, in one
// round trip.
func (s *Store) writeProjections(ctx context.Context, tx pgx.Tx, sessions []string, w *projectionWriter) error {
	b := pgx.Batch{}
	for _, q := range []string{`DELETE FROM sessions WHERE id = ANY($1)`,
		`DELETE FROM session_facets WHERE session_id = ANY($1)`, `DELETE FROM prompts WHERE session_id = ANY($1)`,
		`DELETE FROM commits WHERE session_id = ANY($1)`, `DELETE FROM pull_requests WHERE session_id = ANY($1)`,
		`DELETE FROM usage_facts WHERE session_id = ANY($1)`} {
		b.Queue(q, sessions)
	}
	w.queue(&b)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("write projections: %w", err)
	}
	return nil
}

// priorState is what re-projecting sessions reads first: every stored event, and when
// an analytics backend is fed, the usage facts as last projected (the rows a new
// projection changes) and the version the changes get.
type priorState struct {
	events  map[string][]event.Event
	usage   map[string]sqlstore.UsageFact // by event ID; nil without analytics
	version uint64
}

// diff appends to changes the analytics changes of a session's new usage facts, and
// takes them out of p.usage, which is left with the facts no longer counted.
func (p *priorState) diff(changes []agenttrace.UsageChange, facts []sqlstore.UsageFact) []agenttrace.UsageChange {
	if p.usage == nil {
		return changes
	}
	for _, k := range facts {
		o, ok := p.usage[k.EventID]
		switch {
		case !ok:
			changes = append(changes, agenttrace.UsageChange{New: usageRow(k), Version: p.version})
		case !o.Equal(k):
			changes = append(changes, agenttrace.UsageChange{Old: usageRow(o), New: usageRow(k), Version: p.version})
		}
		delete(p.usage, k.EventID)
	}
	return changes
}

// readSessions reads the prior state of sessions in one round trip: the stored events of
// those in load, and the usage facts of all.
func (s *Store) readSessions(ctx context.Context, tx pgx.Tx, sessions, load []string, fresh map[string]*event.Event) (*priorState, error) {
	freshIDs := make([]string, 0, len(fresh))
	for id := range fresh {
		freshIDs = append(freshIDs, id)
	}
	var b pgx.Batch
	// The bodies this call just wrote are in memory already: don't send them back.
	b.Queue(`SELECT session_id, id, CASE WHEN id = ANY($2) THEN NULL ELSE body END FROM events
		WHERE session_id = ANY($1)`, load, freshIDs)
	if s.analytics != nil {
		b.Queue(`SELECT `+usageCols+` FROM usage_facts WHERE session_id = ANY($1)`, sessions)
		b.Queue(`SELECT nextval('usage_version')`)
	}
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	p := &priorState{}
	var err error
	if p.events, err = readEvents(br, len(load), fresh); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if s.analytics != nil {
		if p.usage, err = readUsage(br); err != nil {
			return nil, fmt.Errorf("read usage facts: %w", err)
		}
		var v int64
		if err := br.QueryRow().Scan(&v); err != nil {
			return nil, fmt.Errorf("usage version: %w", err)
		}
		p.version = uint64(v)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	return p, nil
}

// readEvents reads the next result of br, rows of session_id, id and body (NULL for the
// events in fresh), into events by session.
func readEvents(br pgx.BatchResults, n int, fresh map[string]*event.Event) (map[string][]event.Event, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	bySession := make(map[string][]event.Event, n)
	for rows.Next() {
		var sid, id string
		var body []byte
		if err := rows.Scan(&sid, &id, &body); err != nil {
			return nil, err
		}
		if e, ok := fresh[id]; ok {
			bySession[sid] = append(bySession[sid], *e)
			continue
		}
		var e event.Event
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, fmt.Errorf("decode event %s: %w", id, err)
		}
		bySession[sid] = append(bySession[sid], e)
	}
	return bySession, rows.Err()
}

// readUsage reads the next result of br, usage_facts rows, by event ID.
func readUsage(br pgx.BatchResults) (map[string]sqlstore.UsageFact, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]sqlstore.UsageFact{}
	for rows.Next() {
		k, err := scanUsage(rows)
		if err != nil {
			return nil, err
		}
		out[k.EventID] = k
	}
	return out, rows.Err()
}

// projectionWriter collects the rows of many sessions as column arrays, so each table is
// written with one INSERT … SELECT FROM unnest(…).
type projectionWriter struct {
	// sessions
	sID, sStatus, sUser, sHost, sRepo, sBranch                  []string
	sStarted, sLast, sDuration                                  []int64
	sEnded                                                      []*int64
	sCost                                                       []*float64
	sCostKey                                                    []float64
	sPrompts, sCalls, sErrors, sCommits, sPRs, sAdded, sRemoved []int32
	sIn, sOut, sCC, sCC5, sCC1, sCR, sWS                        []int64
	sSummary, sDetail                                           [][]byte
	fFacet, fValue, fSession                                    []string
	pSession, pID, pText                                        []string
	pIdx                                                        []int32
	pStarted                                                    []int64
	cSession, cSHA, cRepo, cUser                                []string
	cTime                                                       []int64
	cBody                                                       [][]byte
	rSession, rKey, rRepo, rUser                                []string
	rTime                                                       []int64
	rBody                                                       [][]byte
	uID, uSession, uModel, uUser, uRepo                         []string
	uTime, uStarted, uIn, uOut, uCC, uCC5, uCC1, uCR, uWS       []int64
	uCost                                                       []*float64
}

func (w *projectionWriter) add(sess *agenttrace.Session) error {
	row, err := sqlstore.NewSessionRow(sess)
	if err != nil {
		return err
	}
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

	for _, f := range sqlstore.Facets(sess) {
		w.fFacet = append(w.fFacet, f.Facet)
		w.fValue = append(w.fValue, f.Value)
		w.fSession = append(w.fSession, sess.ID)
	}
	for _, p := range sess.Prompts {
		w.pSession = append(w.pSession, sess.ID)
		w.pID = append(w.pID, p.ID)
		w.pIdx = append(w.pIdx, int32(p.Index))
		w.pStarted = append(w.pStarted, p.StartedAt.UnixMilli())
		w.pText = append(w.pText, p.Text)
	}
	commits, err := sqlstore.CommitRows(sess)
	if err != nil {
		return err
	}
	for _, c := range commits {
		w.cSession = append(w.cSession, sess.ID)
		w.cSHA = append(w.cSHA, c.Key)
		w.cTime = append(w.cTime, c.TimeMS)
		w.cRepo = append(w.cRepo, c.Repo)
		w.cUser = append(w.cUser, c.User)
		w.cBody = append(w.cBody, c.Body)
	}
	prs, err := sqlstore.PullRequestRows(sess)
	if err != nil {
		return err
	}
	for _, p := range prs {
		w.rSession = append(w.rSession, sess.ID)
		w.rKey = append(w.rKey, p.Key)
		w.rTime = append(w.rTime, p.TimeMS)
		w.rRepo = append(w.rRepo, p.Repo)
		w.rUser = append(w.rUser, p.User)
		w.rBody = append(w.rBody, p.Body)
	}
	return nil
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

func (w *projectionWriter) queue(b *pgx.Batch) {
	if len(w.sID) > 0 {
		b.Queue(`INSERT INTO sessions (id, started_ms, ended_ms, last_event_ms, status, duration_ms, "user", host, repo,
			branch, cost_usd, cost_key, prompt_count, tool_call_count, error_count, commit_count, pr_count, lines_added,
			lines_removed, input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens,
			cache_creation_1h_tokens, cache_read_tokens, web_search_requests, summary, detail)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[], $13::int[], $14::int[],
			$15::int[], $16::int[], $17::int[], $18::int[], $19::int[], $20::bigint[], $21::bigint[], $22::bigint[],
			$23::bigint[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bytea[], $28::bytea[])`,
			w.sID, w.sStarted, w.sEnded, w.sLast, w.sStatus, w.sDuration, w.sUser, w.sHost, w.sRepo, w.sBranch,
			w.sCost, w.sCostKey, w.sPrompts, w.sCalls, w.sErrors, w.sCommits, w.sPRs, w.sAdded, w.sRemoved,
			w.sIn, w.sOut, w.sCC, w.sCC5, w.sCC1, w.sCR, w.sWS, w.sSummary, w.sDetail)
	}
	if len(w.fFacet) > 0 {
		b.Queue(`INSERT INTO session_facets (facet, value, session_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
			w.fFacet, w.fValue, w.fSession)
	}
	if len(w.pID) > 0 {
		b.Queue(`INSERT INTO prompts (session_id, prompt_id, idx, started_ms, text)
			SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[])`,
			w.pSession, w.pID, w.pIdx, w.pStarted, w.pText)
	}
	if len(w.cSHA) > 0 {
		b.Queue(`INSERT INTO commits (session_id, sha, committed_ms, repo, "user", body)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[])`,
			w.cSession, w.cSHA, w.cTime, w.cRepo, w.cUser, w.cBody)
	}
	if len(w.rKey) > 0 {
		b.Queue(`INSERT INTO pull_requests (session_id, pr_key, seen_ms, repo, "user", body)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[])`,
			w.rSession, w.rKey, w.rTime, w.rRepo, w.rUser, w.rBody)
	}
	if len(w.uID) > 0 {
		b.Queue(`INSERT INTO usage_facts (`+usageCols+`)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
			$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[],
			$15::float8[])`,
			w.uID, w.uSession, w.uTime, w.uStarted, w.uModel, w.uUser, w.uRepo, w.uIn, w.uOut, w.uCC, w.uCC5,
			w.uCC1, w.uCR, w.uWS, w.uCost)
	}
}

// ReprojectAll rebuilds every session's projection from its stored events, for when the
// projection rules or the prices changed, in small transactions each under its sessions'
// advisory locks (sqlstore.ReprojectAll), and returns how many it rebuilt.
func (s *Store) ReprojectAll(ctx context.Context) (int, error) {
	return sqlstore.ReprojectAll(ctx, s.reader, ingestDialect{s})
}

// Refresh re-projects every stored session when the projection rules
// (projection.ProjectionVersion) or the prices (pricesVersion, any string that changes when
// the price table does) differ from those the database was last projected with, and
// records the new pair. Call it after Migrate at start-up; it returns how many sessions
// it rebuilt (0 when nothing changed). Replicas starting together may each rebuild:
// that is wasted work, never wrong, as every rebuild is locked per session.
func (s *Store) Refresh(ctx context.Context, pricesVersion string) (int, error) {
	return sqlstore.Refresh(ctx, s.reader, pricesVersion, s.ReprojectAll, func(ctx context.Context, q string, args ...any) error {
		_, err := s.pool.Exec(ctx, q, args...)
		return err
	})
}
