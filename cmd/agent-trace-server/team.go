package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/worker"
)

// teamStore is the team agenttrace.Store, composed here because no adapter may know
// another. PostgreSQL is the source of truth: it stores every event, answers every read
// but analytics, and keeps in its outbox, in the transaction that acknowledges an ingest,
// what ClickHouse needs. The shipper (Shipper) moves that to ClickHouse, which answers
// daily cost and the summary's tokens and cost, and which can be refilled from
// PostgreSQL at any time (`clickhouse rebuild`). ClickHouse being down stops only the
// analytics answers (503) and the shipping: ingest goes on.
type teamStore struct {
	*postgres.Store
	analytics *clickhouse.Store

	mu       sync.Mutex // guards the two below
	degraded []string   // Degraded's last answer
	checked  time.Time  // when it was found
}

var _ agenttrace.Store = (*teamStore)(nil)

// openTeamStore prepares ClickHouse at chURL (clickhouse://host:port/database, native
// protocol; it need not be up) and opens PostgreSQL at pgDSN, keeping an outbox for
// ClickHouse, which answers analytics. opts.Analytics and opts.Outbox are set here.
// Close closes both.
func openTeamStore(ctx context.Context, pgDSN, chURL string, opts postgres.Options, chOpts clickhouse.Options) (*teamStore, error) {
	an, err := clickhouse.Open(ctx, chURL, chOpts)
	if err != nil {
		return nil, fmt.Errorf("open team store: %w", err)
	}
	opts.Analytics, opts.Outbox = an, true
	pg, err := postgres.Open(ctx, pgDSN, opts)
	if err != nil {
		an.Close()
		return nil, fmt.Errorf("open team store: %w", err)
	}
	return &teamStore{Store: pg, analytics: an}, nil
}

// Migrate applies PostgreSQL's migrations, then ClickHouse's (which must be up).
func (t *teamStore) Migrate(ctx context.Context) error {
	if err := t.Store.Migrate(ctx); err != nil {
		return err
	}
	return t.analytics.Migrate(ctx)
}

// CheckSchema refuses an out-of-date schema in either database. A ClickHouse that does
// not answer is no reason to refuse: the server ingests into PostgreSQL meanwhile, and
// the shipper checks ClickHouse's schema before it ships.
func (t *teamStore) CheckSchema(ctx context.Context) error {
	if err := t.Store.CheckSchema(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := t.analytics.CheckSchema(ctx); errors.Is(err, agenttrace.ErrSchemaOutdated) {
		return err
	}
	return nil
}

// Ping reports whether PostgreSQL answers: readiness to ingest and serve. ClickHouse's
// state is Degraded's.
func (t *teamStore) Ping(ctx context.Context) error { return t.Store.Ping(ctx) }

// Degraded names what works less than fully while the server still ingests and serves:
// a ClickHouse that does not answer within a second or whose schema is behind. The
// answer is kept for two seconds, so frequent readiness probes cost ClickHouse nothing
// and one that stopped answering slows at most one probe in two seconds.
func (t *teamStore) Degraded(ctx context.Context) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.checked) < 2*time.Second {
		return t.degraded
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	t.degraded = nil
	if err := t.analytics.Ready(ctx); err != nil {
		t.degraded = []string{"clickhouse: " + err.Error() +
			" (analytics answer 503; events are kept in PostgreSQL and shipped when ClickHouse is back)"}
	}
	t.checked = time.Now()
	return t.degraded
}

// Shipper is the background worker that moves the outbox to ClickHouse.
func (t *teamStore) Shipper(logger *slog.Logger, opts ...worker.ShipperOption) *worker.Shipper {
	if logger != nil {
		opts = append([]worker.ShipperOption{worker.WithShipperLogger(logger)}, opts...)
	}
	return worker.NewShipper(t.Store, t.analytics, opts...)
}

// ShipAll ships everything waiting in the outbox now, without taking the shipper's lock
// (shipping twice is harmless): tests, and the end of `clickhouse rebuild`.
func (t *teamStore) ShipAll(ctx context.Context) error {
	sh := worker.NewShipper(t.Store, t.analytics)
	for {
		n, err := sh.ShipOnce(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// Close closes PostgreSQL, then ClickHouse. Nothing is buffered in memory: what
// ClickHouse has not received waits in the outbox.
func (t *teamStore) Close() error {
	return errors.Join(t.Store.Close(), t.analytics.Close())
}

// DiskStats is PostgreSQL's tables and then ClickHouse's, which must be up; the events
// are PostgreSQL's, and the bytes both databases' together.
func (t *teamStore) DiskStats(ctx context.Context) (agenttrace.DiskStats, error) {
	d, err := t.Store.DiskStats(ctx)
	if err != nil {
		return d, err
	}
	an, err := t.analytics.DiskStats(ctx)
	if err != nil {
		return d, fmt.Errorf("clickhouse: %w", err)
	}
	d.Tables = append(d.Tables, an.Tables...)
	d.Bytes += an.Bytes
	return d, nil
}
