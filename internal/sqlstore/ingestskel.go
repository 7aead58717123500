package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sort"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// EventRow is one event as the events table stores it: the event, its stored encoding
// and its usage total (the larger of two copies of a usage reading is the later one).
type EventRow struct {
	*event.Event
	Body       []byte
	UsageTotal int64
}

// IngestDialect is what a SQL store does its own way in Ingest: its transactions,
// placeholders, upsert syntax and locking. Ingest decides everything else, so every SQL
// store keeps events by the same rules.
type IngestDialect interface {
	// BeginIngest starts the ingest transaction, holding until it ends whatever keeps
	// other writers off the sessions (sorted, distinct): PostgreSQL takes per-session
	// advisory locks in one sorted order, so overlapping batches queue instead of
	// deadlocking; SQLite has one writer and takes nothing.
	BeginIngest(ctx context.Context, sessions []string) (IngestTx, error)
}

// IngestTx is one ingest transaction.
type IngestTx interface {
	// Insert stores the rows whose IDs are not stored yet (each ID once, in ID order) and
	// returns the IDs it inserted; a stored ID is left as it is.
	Insert(ctx context.Context, rows []EventRow) (inserted []string, err error)
	// Stored returns the stored encodings of rows that are stored already, by ID.
	Stored(ctx context.Context, rows []EventRow) (map[string][]byte, error)
	// Replace overwrites the stored copies of rows with them.
	Replace(ctx context.Context, rows []EventRow) error
	// Reproject rebuilds the projections of sessions (sorted) from all their stored
	// events. written holds the rows this call inserted or replaced, by ID, so they need
	// not be read back and decoded; it is nil when ReprojectAll rebuilds sessions from
	// what is stored.
	Reproject(ctx context.Context, sessions []string, written map[string]EventRow) error
	// Commit commits, then does what the store does after a write (caches, analytics).
	Commit(ctx context.Context) error
	// Rollback ends the transaction unless it committed.
	Rollback(ctx context.Context)
}

// BodyEncoder is an IngestDialect that stores an event's JSON its own way (SQLite
// compresses it, see CompressBlob). EncodeBody runs before the ingest transaction, in
// the request's own goroutine when requests are coalesced, so that concurrent requests
// encode in parallel and a group's transaction holds the writer no longer for it.
type BodyEncoder interface {
	EncodeBody(json []byte) []byte
}

// EncodeBodies validates events and returns each one's body as d stores it.
func EncodeBodies(d IngestDialect, events []event.Event) ([][]byte, error) {
	bodies, err := EncodeEvents(events)
	if err != nil {
		return nil, err
	}
	if be, ok := d.(BodyEncoder); ok {
		for i, b := range bodies {
			bodies[i] = be.EncodeBody(b)
		}
	}
	return bodies, nil
}

// Ingest is agenttrace.Ingester.Ingest for every SQL store, in one all-or-nothing
// transaction of d. Each event ID is written once, with the copy PreferEvent prefers
// (among the batch's, and over the stored one); every event not inserted counts as a
// duplicate; the sessions whose events were inserted or replaced are re-projected.
func Ingest(ctx context.Context, d IngestDialect, events []event.Event) (agenttrace.IngestResult, error) {
	bodies, err := EncodeBodies(d, events)
	if err != nil {
		return agenttrace.IngestResult{Sessions: []string{}}, fmt.Errorf("ingest: %w", err)
	}
	return ingestEncoded(ctx, d, events, bodies)
}

// ingestEncoded is Ingest of events already encoded (EncodeBodies).
func ingestEncoded(ctx context.Context, d IngestDialect, events []event.Event, bodies [][]byte) (agenttrace.IngestResult, error) {
	o, err := ingest(ctx, d, events, bodies)
	if err != nil {
		return agenttrace.IngestResult{Sessions: []string{}}, err
	}
	return o.result(events, map[string]bool{}), nil
}

// outcome is what one ingest transaction did: the IDs it inserted and every row it
// wrote (inserted or replaced), by ID.
type outcome struct {
	inserted map[string]bool
	written  map[string]EventRow
}

// result is the IngestResult of events, one request among those the transaction held:
// an inserted ID counts as stored for the first request that carried it (claimed).
func (o outcome) result(events []event.Event, claimed map[string]bool) agenttrace.IngestResult {
	res := agenttrace.IngestResult{Sessions: []string{}}
	sessions := map[string]bool{}
	for i := range events {
		id := events[i].ID
		if o.inserted[id] && !claimed[id] {
			claimed[id] = true
			res.Stored++
		}
		if r, ok := o.written[id]; ok && !sessions[r.SessionID] {
			sessions[r.SessionID] = true
			res.Sessions = append(res.Sessions, r.SessionID)
		}
	}
	sort.Strings(res.Sessions)
	res.Duplicates = len(events) - res.Stored
	return res
}

func ingest(ctx context.Context, d IngestDialect, events []event.Event, bodies [][]byte) (outcome, error) {
	if len(events) == 0 {
		return outcome{}, nil
	}
	rows := uniqueRows(events, bodies)
	tx, err := d.BeginIngest(ctx, sessionsOf(slices.Values(rows)))
	if err != nil {
		return outcome{}, fmt.Errorf("ingest: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	inserted, err := tx.Insert(ctx, rows)
	if err != nil {
		return outcome{}, fmt.Errorf("ingest: insert events: %w", err)
	}
	written, err := replacePreferred(ctx, tx, rows, inserted)
	if err != nil {
		return outcome{}, fmt.Errorf("ingest: %w", err)
	}
	if sessions := sessionsOf(maps.Values(written)); len(sessions) > 0 {
		if err := tx.Reproject(ctx, sessions, written); err != nil {
			return outcome{}, fmt.Errorf("ingest: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return outcome{}, fmt.Errorf("ingest: commit: %w", err)
	}
	o := outcome{inserted: make(map[string]bool, len(inserted)), written: written}
	for _, id := range inserted {
		o.inserted[id] = true
	}
	return o, nil
}

// ReprojectAll rebuilds every session's projection from its stored events, for when the
// projection rules or the prices changed (a new binary, a price override file). It works
// through sessions in chunks of ReprojectChunk, each in a transaction of d that holds
// the sessions as Ingest does, so ingest is never blocked for long, and returns how many
// sessions it rebuilt. r lists the sessions.
func ReprojectAll(ctx context.Context, r Reader, d IngestDialect) (int, error) {
	var ids []string
	err := r.Query(ctx, `SELECT DISTINCT session_id FROM events ORDER BY session_id`, nil, func(rows Rows) error {
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("reproject all: %w", err)
	}
	done, err := InChunks(ids, func(chunk []string) error { return reprojectChunk(ctx, d, chunk) })
	if err != nil {
		return done, fmt.Errorf("reproject all: %w", err)
	}
	return done, nil
}

// reprojectChunk rebuilds the sessions (sorted) in one transaction.
func reprojectChunk(ctx context.Context, d IngestDialect, sessions []string) error {
	tx, err := d.BeginIngest(ctx, sessions)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := tx.Reproject(ctx, sessions, nil); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// preferEvent is the one rule for which of two copies of an event ID is kept: it must be
// the projection's, so every store and the projection agree.
func preferEvent(a, b *event.Event) bool { return projection.PreferEvent(a, b) }

// uniqueRows keeps one copy per ID of an encoded batch, the preferred one, in ID order:
// an upsert may not touch one row twice in a statement, and rows locked in one order
// cannot deadlock.
func uniqueRows(events []event.Event, bodies [][]byte) []EventRow {
	chosen := make(map[string]int, len(events))
	for i := range events {
		e := &events[i]
		if j, ok := chosen[e.ID]; !ok || preferEvent(e, &events[j]) {
			chosen[e.ID] = i
		}
	}
	rows := make([]EventRow, 0, len(chosen))
	for _, i := range chosen {
		e := &events[i]
		rows = append(rows, EventRow{Event: e, Body: bodies[i], UsageTotal: projection.EventUsageTotal(e)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows
}

// replacePreferred replaces the stored copies that the batch holds a preferred copy of.
// Two events with one ID should be equal, but need not be (a usage reading taken while
// its transcript line was still growing; a hook event rebuilt by a transcript import;
// the same payload captured twice). Duplicates are the rare path (re-delivery), so the
// extra read costs nothing on a normal ingest. It returns every row written, inserted or
// replaced, by ID.
func replacePreferred(ctx context.Context, tx IngestTx, rows []EventRow, inserted []string) (map[string]EventRow, error) {
	isNew := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		isNew[id] = true
	}
	written := make(map[string]EventRow, len(rows))
	var dups []EventRow
	for _, r := range rows {
		if isNew[r.ID] {
			written[r.ID] = r
		} else {
			dups = append(dups, r)
		}
	}
	if len(dups) == 0 {
		return written, nil
	}
	stored, err := tx.Stored(ctx, dups)
	if err != nil {
		return nil, fmt.Errorf("read duplicates: %w", err)
	}
	var better []EventRow
	for _, r := range dups {
		body, ok := stored[r.ID]
		if !ok {
			return nil, fmt.Errorf("read duplicates: event %s not found", r.ID)
		}
		var old event.Event
		if err := json.Unmarshal(body, &old); err != nil {
			return nil, fmt.Errorf("decode stored event %s: %w", r.ID, err)
		}
		if preferEvent(r.Event, &old) {
			better = append(better, r)
			written[r.ID] = r
		}
	}
	if len(better) > 0 {
		if err := tx.Replace(ctx, better); err != nil {
			return nil, fmt.Errorf("replace duplicates: %w", err)
		}
	}
	return written, nil
}

// sessionsOf lists the sessions of rows, sorted and distinct.
func sessionsOf(rows iter.Seq[EventRow]) []string {
	seen := map[string]bool{}
	out := []string{}
	for r := range rows {
		if !seen[r.SessionID] {
			seen[r.SessionID] = true
			out = append(out, r.SessionID)
		}
	}
	sort.Strings(out)
	return out
}
