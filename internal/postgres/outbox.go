package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// writeOutbox queues, in tx, the events written (by ID: the shipper reads their current
// body), the usage changes as records or tombstones, and sessions to erase after them.
func writeOutbox(ctx context.Context, tx pgx.Tx, eventIDs []string, changes []agenttrace.UsageChange, erase []string) error {
	var b pgx.Batch
	if len(eventIDs) > 0 {
		b.Queue(`INSERT INTO ch_outbox (event_id) SELECT unnest($1::text[])`, eventIDs)
	}
	if len(changes) > 0 {
		recs := make([]string, 0, len(changes))
		for _, c := range changes {
			var r agenttrace.UsageRecord
			switch {
			case c.New != nil:
				r = *c.New
			case c.Old != nil:
				r = *c.Old
				r.Deleted = true
			default:
				continue
			}
			r.Version = c.Version
			j, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("write outbox: encode usage %s: %w", r.EventID, err)
			}
			recs = append(recs, string(j))
		}
		b.Queue(`INSERT INTO ch_outbox (usage) SELECT u::jsonb FROM unnest($1::text[]) AS u`, recs)
	}
	if len(erase) > 0 {
		b.Queue(`INSERT INTO ch_outbox (erase) VALUES ($1)`, erase)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	return nil
}

// PendingOutbox returns the oldest outbox rows, at most limit, ending early after the
// first erase (what follows it is shipped after it runs). Rows of events erased since
// are acknowledged without shipping. Empty when nothing waits.
func (s *Store) PendingOutbox(ctx context.Context, limit int) (agenttrace.OutboxBatch, error) {
	var b agenttrace.OutboxBatch
	rows, err := s.pool.Query(ctx, `SELECT o.seq, o.event_id, o.usage, o.erase, e.session_id, e.kind, e.time_ns,
		e.usage_total, e.body
		FROM (SELECT seq, event_id, usage, erase FROM ch_outbox ORDER BY seq LIMIT $1) o
		LEFT JOIN events e ON e.id = o.event_id ORDER BY o.seq`, limit)
	if err != nil {
		return b, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var eventID, sid, kind *string
		var usage []byte
		var erase []string
		var timeNS, total *int64
		var body []byte
		if err := rows.Scan(&seq, &eventID, &usage, &erase, &sid, &kind, &timeNS, &total, &body); err != nil {
			return b, fmt.Errorf("read outbox: %w", err)
		}
		b.Seqs = append(b.Seqs, seq)
		switch {
		case eventID != nil && sid != nil:
			b.Events = append(b.Events, EventRecordOf(*eventID, *sid, *kind, *timeNS, *total, body))
		case usage != nil:
			var r agenttrace.UsageRecord
			if err := json.Unmarshal(usage, &r); err != nil {
				return b, fmt.Errorf("read outbox: usage row %d: %w", seq, err)
			}
			b.Usage = append(b.Usage, r)
		case erase != nil:
			b.Erase = erase
			return b, nil
		}
	}
	if err := rows.Err(); err != nil {
		return b, fmt.Errorf("read outbox: %w", err)
	}
	return b, nil
}

// EventRecordOf is a stored events row as the analytics event log keeps it. A body that
// does not decode still ships, without user, repo and model: that is permanent, and a
// row that can never ship would hold up every row behind it.
func EventRecordOf(id, sessionID, kind string, timeNS, usageTotal int64, body []byte) agenttrace.EventRecord {
	rec := agenttrace.EventRecord{ID: id, SessionID: sessionID, Kind: kind, TimeMS: timeNS / 1e6,
		Body: body, Version: uint64(max(usageTotal, 0))}
	var e recordFields
	if json.Unmarshal(body, &e) != nil {
		return rec
	}
	rec.User, rec.Repo, rec.Model = e.User, e.Git.Remote, e.Usage.Model
	return rec
}

// recordFields are the fields of an event.Event the event log keeps in columns, with
// event.Event's JSON names: decoding only these skips building the payload's maps and
// strings, which was a tenth of the shipper's CPU.
type recordFields struct {
	User string `json:"user"`
	Git  struct {
		Remote string `json:"remote"`
	} `json:"git"`
	Usage struct {
		Model string `json:"model"`
	} `json:"usage"`
}

// AckOutbox deletes the shipped rows and records the progress. Rows acknowledged twice
// (a shipper that lost its lease) change nothing.
func (s *Store) AckOutbox(ctx context.Context, b agenttrace.OutboxBatch) error {
	if b.Empty() {
		return nil
	}
	last := b.Seqs[len(b.Seqs)-1]
	var bt pgx.Batch
	bt.Queue(`DELETE FROM ch_outbox WHERE seq = ANY($1)`, b.Seqs)
	bt.Queue(`UPDATE ch_ship_state SET shipped_seq = GREATEST(shipped_seq, $1), shipped_rows = shipped_rows + $2,
		shipped_at = now()`, last, len(b.Seqs))
	// One implicit transaction: the progress never disagrees with the outbox.
	if err := s.pool.SendBatch(ctx, &bt).Close(); err != nil {
		return fmt.Errorf("acknowledge outbox: %w", err)
	}
	return nil
}

// AnalyticsLag says how far the analytics store trails: nil without an outbox.
func (s *Store) AnalyticsLag(ctx context.Context) (*agenttrace.AnalyticsLag, error) {
	if !s.outbox {
		return nil, nil
	}
	var lag agenttrace.AnalyticsLag
	var oldest *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT count(*), min(created_at), now() FROM ch_outbox`).
		Scan(&lag.PendingRows, &oldest, &lag.AsOf); err != nil {
		return nil, fmt.Errorf("analytics lag: %w", err)
	}
	if oldest != nil {
		lag.AsOf = *oldest
	}
	lag.AsOf = lag.AsOf.UTC()
	return &lag, nil
}

// shipperLock is the session-level advisory lock key that makes one process the shipper.
const shipperLock = 0x61745f736869 // "at_shi"

// shipperLockSQL takes the shipper lock of the store's schema: advisory locks are
// database-wide, and two deployments in two schemas of one database each need a shipper.
const shipperLockSQL = `SELECT pg_try_advisory_lock($1::bigint # hashtext(current_schema())::bigint)`

// LeadShipper waits until this process holds the shipper lock (trying every poll) or
// ctx ends. The lock is a session-level advisory lock on a connection of its own, so it
// lives as long as that connection: a process that dies or loses PostgreSQL loses it,
// and another one takes it within its poll. lost closes when the connection fails
// (checked every poll); release gives the lock up.
func (s *Store) LeadShipper(ctx context.Context, poll time.Duration) (lost <-chan struct{}, release func(), err error) {
	for {
		var conn *pgxpool.Conn
		conn, err = s.pool.Acquire(ctx)
		if err == nil {
			var ok bool
			err = conn.QueryRow(ctx, shipperLockSQL, int64(shipperLock)).Scan(&ok)
			if err == nil && ok {
				lost, release := watchLease(conn.Hijack(), poll)
				return lost, release, nil
			}
			conn.Release()
		}
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("take shipper lock: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, nil, errors.Join(ctx.Err(), err)
		case <-time.After(poll):
		}
	}
}

// watchLease checks the lock's connection every poll and closes lost when it fails.
func watchLease(conn *pgx.Conn, poll time.Duration) (<-chan struct{}, func()) {
	lost, stop := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(lost)
		for {
			select {
			case <-stop:
				return
			case <-time.After(poll):
			}
			ctx, cancel := context.WithTimeout(context.Background(), poll+5*time.Second)
			err := conn.Ping(ctx)
			cancel()
			if err != nil {
				return
			}
		}
	})
	var once sync.Once
	return lost, func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			// Closing the session releases its advisory lock.
			conn.Close(context.Background())
		})
	}
}
