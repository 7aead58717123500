package postgres

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

// Ingest stores events and re-projects every session they touch, in one transaction, by
// the rules every SQL store shares (sqlstore.Ingest). See agenttrace.Ingester.
//
// The transaction takes the advisory lock of every session in the batch, in one sorted
// order, so two processes ingesting the same or overlapping batches at once queue behind
// each other instead of deadlocking; the second one finds every event stored and counts
// it as a duplicate. Round trips are few whatever the batch size: locks and the event
// insert go in one pipeline, reading the touched sessions in a second, and writing their
// projections in a third. Concurrent ingests share one transaction (sqlstore.Coalescer).
func (s *Store) Ingest(ctx context.Context, events []event.Event) (agenttrace.IngestResult, error) {
	return s.ingests.Ingest(ctx, ingestDialect{s}, events)
}

// ingestDialect is PostgreSQL's side of sqlstore.Ingest.
type ingestDialect struct{ s *Store }

// ingestTx is one ingest transaction. The session locks go out in the same round trip
// as the insert, or first thing in Reproject when nothing is inserted (ReprojectAll).
type ingestTx struct {
	s       *Store
	tx      pgx.Tx
	locks   []int64
	locked  bool
	written map[string]sqlstore.EventRow
	changes []agenttrace.UsageChange
	folded  map[string]sqlstore.Folded // for the projector cache once committed
}

var _ sqlstore.IngestDialect = ingestDialect{}

func (d ingestDialect) BeginIngest(ctx context.Context, sessions []string) (sqlstore.IngestTx, error) {
	tx, err := d.s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &ingestTx{s: d.s, tx: tx, locks: sessionLocks(sessions)}, nil
}

// lockSessionsSQL takes the advisory locks of its argument, sessionLocks' keys: function
// scans yield rows in array order, so the locks are taken in sorted order.
const lockSessionsSQL = `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`

// sessionLocks returns the sessions' advisory lock keys, sorted.
func sessionLocks(sessions []string) []int64 {
	locks := make([]int64, len(sessions))
	for i, id := range sessions {
		locks[i] = sessionLockKey(id)
	}
	sort.Slice(locks, func(i, j int) bool { return locks[i] < locks[j] })
	return locks
}

// columns returns rows as the column arrays of the events table.
func columns(rows []sqlstore.EventRow) (ids, sids, kinds []string, times, totals []int64, bodies [][]byte) {
	for _, r := range rows {
		ids, sids, kinds = append(ids, r.ID), append(sids, r.SessionID), append(kinds, r.Kind)
		times, totals, bodies = append(times, r.Time.UnixNano()), append(totals, r.UsageTotal), append(bodies, r.Body)
	}
	return
}

func (t *ingestTx) Insert(ctx context.Context, rows []sqlstore.EventRow) ([]string, error) {
	ids, sids, kinds, times, totals, bodies := columns(rows)
	var b pgx.Batch
	b.Queue(lockSessionsSQL, t.locks)
	b.Queue(`INSERT INTO events (id, session_id, kind, time_ns, usage_total, body)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bytea[])
		ON CONFLICT (id) DO NOTHING RETURNING id`, ids, sids, kinds, times, totals, bodies)
	br := t.tx.SendBatch(ctx, &b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("lock sessions: %w", err)
	}
	t.locked = true
	rs, err := br.Query()
	if err != nil {
		return nil, err
	}
	inserted, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	return inserted, br.Close()
}

func (t *ingestTx) Stored(ctx context.Context, rows []sqlstore.EventRow) (map[string][]byte, error) {
	ids, _, _, _, _, _ := columns(rows)
	rs, err := t.tx.Query(ctx, `SELECT id, body FROM events WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := make(map[string][]byte, len(rows))
	for rs.Next() {
		var id string
		var body []byte
		if err := rs.Scan(&id, &body); err != nil {
			return nil, err
		}
		out[id] = body
	}
	return out, rs.Err()
}

func (t *ingestTx) Replace(ctx context.Context, rows []sqlstore.EventRow) error {
	ids, _, kinds, times, totals, bodies := columns(rows)
	_, err := t.tx.Exec(ctx, `UPDATE events SET kind = u.kind, time_ns = u.time_ns, usage_total = u.usage_total, body = u.body
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[]) AS u(id, kind, time_ns, usage_total, body)
		WHERE events.id = u.id`, ids, kinds, times, totals, bodies)
	return err
}

// Reproject folds the events written into each session's projection: the cached
// projector when it has seen every stored event, else one folded from the database. A
// rebuild of stored sessions (written nil) reads the database and leaves the cache alone.
func (t *ingestTx) Reproject(ctx context.Context, sessions []string, written map[string]sqlstore.EventRow) error {
	if !t.locked {
		if _, err := t.tx.Exec(ctx, lockSessionsSQL, t.locks); err != nil {
			return fmt.Errorf("lock sessions: %w", err)
		}
		t.locked = true
	}
	var in foldInput
	if written != nil {
		in.fresh, in.bySession = sqlstore.Written(written)
	}
	changes, folded, err := t.s.reproject(ctx, t.tx, sessions, in)
	t.written, t.changes, t.folded = written, changes, folded
	return err
}

// Commit writes the outbox rows of the events written and the usage changes, then
// commits: the analytics store receives exactly what committed, from PostgreSQL, and a
// crash or an unreachable analytics store loses nothing.
func (t *ingestTx) Commit(ctx context.Context) error {
	if t.s.outbox && (len(t.written) > 0 || len(t.changes) > 0) {
		ids := make([]string, 0, len(t.written))
		for id := range t.written {
			ids = append(ids, id)
		}
		if err := writeOutbox(ctx, t.tx, ids, t.changes, nil); err != nil {
			return err
		}
	}
	if err := t.tx.Commit(ctx); err != nil {
		return err
	}
	for id, f := range t.folded {
		t.s.projectors.Put(id, f)
	}
	return nil
}

func (t *ingestTx) Rollback(ctx context.Context) { t.tx.Rollback(ctx) }
