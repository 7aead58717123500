package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agent-trace/agent-trace/internal/live"
)

// LiveBus is live.Bus (and live.History) on PostgreSQL: it lets every server on one
// database stream the changes any of them ingested.
//
// Publish writes the changes to the live_changes table and NOTIFYs their newest id in
// the same transaction; the notification carries that id only, never the rows, so it
// stays far below PostgreSQL's 8000-byte payload limit. Each server LISTENs on a
// dedicated connection, reads the rows after the last id it delivered and hands them to
// its hub, numbered by the table's ids: a Last-Event-ID from one server means the same
// point on every other. Writers take a lock so ids commit in order, which lets a reader
// that saw id n know it has seen everything before n. When the listener connection
// drops it reconnects with backoff and reads what it missed from the table; rows older
// than the retention are pruned, and a resume from before them gets a resync.
type LiveBus struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig
	hub     *live.Hub
	log     *slog.Logger
	channel string
	schema  string
	retain  time.Duration
	backoff time.Duration

	conn *pgx.Conn // the listener; only touched by OpenLiveBus and Run
	last uint64    // newest id delivered to the hub; only touched by OpenLiveBus and Run
}

var (
	_ live.Bus     = (*LiveBus)(nil)
	_ live.History = (*LiveBus)(nil)
)

// LiveOptions configures a LiveBus.
type LiveOptions struct {
	// Logger receives listener outages; nil discards them.
	Logger *slog.Logger
	// Retain is how long changes stay in the table for resuming clients;
	// DefaultLiveRetain when 0.
	Retain time.Duration
	// Backoff is the first wait before reconnecting a lost listener (it doubles up to
	// 5 s, or to Backoff when larger); 100 ms when 0.
	Backoff time.Duration
}

// DefaultLiveRetain keeps an hour of changes: far longer than a browser takes to
// reconnect, short enough that the table stays small.
const DefaultLiveRetain = time.Hour

// ListenerName is the application_name of the listener connection, followed by a space
// and the schema (what pg_stat_activity shows).
const ListenerName = "agent-trace live listener"

// liveLock is the advisory lock key that orders live_changes writers.
const liveLock = 0x61745f6c697665 // "at_live"

// Reconnect backoff of the listener.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// pruneEvery is how often a server prunes the table (every server does; it is idempotent).
	pruneEvery = time.Minute
	readPage   = 1000
)

// OpenLiveBus connects the listener and makes hub follow the feed from its newest
// change. Run it with Run; it closes its connection when Run returns.
func (s *Store) OpenLiveBus(ctx context.Context, hub *live.Hub, opts LiveOptions) (*LiveBus, error) {
	var schema string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("open live bus: %w", err)
	}
	b := &LiveBus{pool: s.pool, connCfg: s.pool.Config().ConnConfig, hub: hub, log: opts.Logger,
		channel: liveChannel(schema), schema: schema, retain: opts.Retain, backoff: opts.Backoff}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.retain <= 0 {
		b.retain = DefaultLiveRetain
	}
	if b.backoff <= 0 {
		b.backoff = minBackoff
	}
	conn, err := b.listen(ctx)
	if err != nil {
		return nil, fmt.Errorf("open live bus: %w", err)
	}
	_, newest, err := liveBounds(ctx, conn)
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("open live bus: %w", err)
	}
	b.conn, b.last = conn, newest
	hub.Follow(b, newest)
	return b, nil
}

// liveChannel is the NOTIFY channel of a schema: notifications are per database, and
// servers on different schemas of one database must not hear each other.
func liveChannel(schema string) string {
	ch := "agent_trace_live." + schema
	return ch[:min(len(ch), 63)] // PostgreSQL truncates identifiers to 63 bytes
}

// listen opens the dedicated listener connection and LISTENs on the channel.
func (b *LiveBus) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := b.connCfg.Copy()
	cfg.RuntimeParams["application_name"] = ListenerName + " " + b.schema
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}

// Publish writes msgs to live_changes and notifies every listener, in one transaction,
// and returns the ids they got.
func (b *LiveBus) Publish(ctx context.Context, msgs []live.Message) ([]uint64, error) {
	types, sessions, users, data := make([]string, len(msgs)), make([]string, len(msgs)), make([]string, len(msgs)), make([][]byte, len(msgs))
	for i, m := range msgs {
		types[i], sessions[i], users[i], data[i] = m.Type, m.SessionID, m.User, m.Data
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("publish live changes: %w", err)
	}
	defer tx.Rollback(ctx)
	var batch pgx.Batch
	// Held to commit: ids are drawn under it, so they become visible in order.
	batch.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(liveLock))
	batch.Queue(`WITH ins AS (
			INSERT INTO live_changes (type, session_id, user_name, data)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) RETURNING id)
		SELECT array_agg(id ORDER BY id), pg_notify($5, max(id)::text) FROM ins`, types, sessions, users, data, b.channel)
	br := tx.SendBatch(ctx, &batch)
	var ids []int64
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, fmt.Errorf("publish live changes: lock: %w", err)
	}
	if err := br.QueryRow().Scan(&ids, nil); err != nil {
		br.Close()
		return nil, fmt.Errorf("publish live changes: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("publish live changes: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("publish live changes: commit: %w", err)
	}
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out, nil
}

// querier is a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// liveBounds returns the id up to which changes were pruned and the newest id issued.
func liveBounds(ctx context.Context, q querier) (through, newest uint64, err error) {
	var t, n int64
	err = q.QueryRow(ctx, `SELECT through, greatest(through, coalesce((SELECT max(id) FROM live_changes), 0))
		FROM live_pruned`).Scan(&t, &n)
	if err != nil {
		return 0, 0, fmt.Errorf("read live bounds: %w", err)
	}
	return uint64(t), uint64(n), nil
}

// readLive returns up to limit changes after id, oldest first.
func readLive(ctx context.Context, q querier, after uint64, limit int) ([]live.Message, error) {
	rows, err := q.Query(ctx, `SELECT id, type, session_id, user_name, data FROM live_changes
		WHERE id > $1 ORDER BY id LIMIT $2`, int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("read live changes: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (live.Message, error) {
		var m live.Message
		var id int64
		err := r.Scan(&id, &m.Type, &m.SessionID, &m.User, &m.Data)
		m.ID = uint64(id)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("read live changes: %w", err)
	}
	return msgs, nil
}

// After returns the changes after id (live.History), or ok false when id was pruned or
// never issued.
func (b *LiveBus) After(ctx context.Context, id uint64, limit int) (msgs []live.Message, ok bool, err error) {
	// One snapshot for the bounds and the rows, so a prune in between cannot hide a gap.
	tx, err := b.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, false, fmt.Errorf("read live history: %w", err)
	}
	defer tx.Rollback(ctx)
	through, newest, err := liveBounds(ctx, tx)
	if err != nil {
		return nil, false, err
	}
	if id < through || id > newest {
		return nil, false, nil
	}
	msgs, err = readLive(ctx, tx, id, limit)
	return msgs, err == nil, err
}

// Prune deletes the changes older than the retention and records up to which id they
// are gone.
func (b *LiveBus) Prune(ctx context.Context) error {
	_, err := b.pool.Exec(ctx, `WITH d AS (
			DELETE FROM live_changes WHERE id <= (SELECT max(id) FROM live_changes
				WHERE created_at < clock_timestamp() - $1 * interval '1 millisecond')
			RETURNING id)
		UPDATE live_pruned SET through = greatest(through, m) FROM (SELECT max(id) AS m FROM d) AS x
		WHERE m IS NOT NULL`, b.retain.Milliseconds())
	if err != nil {
		return fmt.Errorf("prune live changes: %w", err)
	}
	return nil
}

// Run delivers every server's changes to the hub until ctx ends, reconnecting the
// listener with backoff when it drops, and prunes the table now and then.
func (b *LiveBus) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { b.pruneLoop(ctx) })
	backoff := b.backoff
	for {
		var err error
		if b.conn == nil {
			b.conn, err = b.listen(ctx)
		}
		if b.conn != nil {
			var caughtUp bool
			caughtUp, err = b.follow(ctx)
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			b.conn.Close(closeCtx)
			cancel()
			b.conn = nil
			if caughtUp {
				backoff = b.backoff
			}
		}
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("live: listener lost; reconnecting", "in", backoff, "err", err)
		select {
		case <-time.After(backoff/2 + rand.N(backoff/2+1)): // jitter: servers reconnect apart
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, max(maxBackoff, b.backoff))
	}
}

// follow catches up with the table, then delivers the changes each notification
// announces until the connection fails. caughtUp says it got that far.
func (b *LiveBus) follow(ctx context.Context) (caughtUp bool, err error) {
	if err := b.catchUp(ctx); err != nil {
		return false, err
	}
	for {
		n, err := b.conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		if id, err := strconv.ParseUint(n.Payload, 10, 64); err == nil && id <= b.last {
			continue // already read along with an earlier one
		}
		if err := b.deliver(ctx); err != nil {
			return true, err
		}
	}
}

// catchUp delivers what was written while the listener was away. When some of it was
// pruned meanwhile, the hub starts afresh from the newest change and its clients resync.
func (b *LiveBus) catchUp(ctx context.Context) error {
	through, newest, err := liveBounds(ctx, b.conn)
	if err != nil {
		return err
	}
	if b.last < through {
		b.log.Warn("live: changes pruned while the listener was away; clients will resync", "from", b.last, "to", newest)
		b.hub.Follow(b, newest)
		b.last = newest
		return nil
	}
	return b.deliver(ctx)
}

// deliver hands the hub every change after the last one delivered.
func (b *LiveBus) deliver(ctx context.Context) error {
	for {
		msgs, err := readLive(ctx, b.conn, b.last, readPage)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		b.hub.Deliver(msgs)
		b.last = msgs[len(msgs)-1].ID
		if len(msgs) < readPage {
			return nil
		}
	}
}

func (b *LiveBus) pruneLoop(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := b.Prune(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("live: prune", "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}
