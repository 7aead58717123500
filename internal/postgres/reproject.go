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

// reproject writes what changed in the sessions' materialised rows, folding the events
// written into the cached projections that are current and every stored event into the
// others, and returns the usage changes for the analytics backend and the folded
// projections for the cache. The caller holds the sessions' locks.
func (s *Store) reproject(ctx context.Context, tx pgx.Tx, sessions []string, in foldInput) ([]agenttrace.UsageChange, map[string]sqlstore.Folded, error) {
	cached, err := s.current(ctx, tx, sessions, in)
	if err != nil {
		return nil, nil, err
	}
	// cached holds every session now, with its new generation; P only for those current.
	var load, needFacts []string
	for _, id := range sessions {
		if cached[id].P == nil {
			load = append(load, id)
		}
		if cached[id].P == nil || cached[id].Facts == nil {
			needFacts = append(needFacts, id)
		}
	}
	prior, err := s.readSessions(ctx, tx, load, needFacts, in.fresh)
	if err != nil {
		return nil, nil, err
	}
	var w projectionWriter
	var changes []agenttrace.UsageChange
	folded := map[string]sqlstore.Folded{}
	for _, id := range sessions {
		f, _ := sqlstore.Fold(cached[id], in.bySession[id], s.pricer, func() ([]event.Event, error) { return prior.events[id], nil })
		sw, err := sqlstore.NewSessionWrite(id, f.P.Delta(), &f)
		if err != nil {
			return nil, nil, fmt.Errorf("project session %s: %w", id, err)
		}
		w.add(sw)
		if s.outbox {
			if f.Facts == nil || cached[id].P == nil {
				f.Facts = prior.usage[id]
			}
			changes = append(changes, sw.UsageDiff(f.Facts, prior.version)...)
		}
		if in.bySession != nil {
			folded[id] = f
		}
	}
	if err := w.write(ctx, tx); err != nil {
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

// priorState is what re-projecting sessions reads first: the stored events of the
// sessions not cached, and when an analytics backend is fed, the usage facts as last
// written of those whose facts are not cached, and the version the changes get.
type priorState struct {
	events  map[string][]event.Event
	usage   map[string]map[string]sqlstore.UsageFact // by session, then event ID
	version uint64
}

// readSessions reads the prior state in one round trip: the stored events of load and
// the usage facts of needFacts.
func (s *Store) readSessions(ctx context.Context, tx pgx.Tx, load, needFacts []string, fresh map[string]*event.Event) (*priorState, error) {
	freshIDs := make([]string, 0, len(fresh))
	for id := range fresh {
		freshIDs = append(freshIDs, id)
	}
	var b pgx.Batch
	// The bodies this call just wrote are in memory already: don't send them back.
	b.Queue(`SELECT session_id, id, CASE WHEN id = ANY($2) THEN NULL ELSE body END FROM events
		WHERE session_id = ANY($1)`, load, freshIDs)
	if s.outbox {
		b.Queue(`SELECT `+usageCols+` FROM usage_facts WHERE session_id = ANY($1)`, needFacts)
		b.Queue(`SELECT nextval('usage_version')`)
	}
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	p := &priorState{usage: map[string]map[string]sqlstore.UsageFact{}}
	var err error
	if p.events, err = readEvents(br, len(load), fresh); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if s.outbox {
		for _, id := range needFacts {
			p.usage[id] = map[string]sqlstore.UsageFact{}
		}
		if err := readUsage(br, p.usage); err != nil {
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

// readUsage reads the next result of br, usage_facts rows, into facts by session and
// event ID.
func readUsage(br pgx.BatchResults, facts map[string]map[string]sqlstore.UsageFact) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		k, err := scanUsage(rows)
		if err != nil {
			return err
		}
		facts[k.SessionID][k.EventID] = k
	}
	return rows.Err()
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
