package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
	"github.com/agent-trace/agent-trace/internal/postgres"
)

// teamStore is the team agenttrace.Store, composed here because no adapter may know
// another: PostgreSQL is the store of record (events, projections, tokens) and answers
// every read; it hands the event log and the priced usage facts to ClickHouse through
// the agenttrace.AnalyticsBackend port, and ClickHouse answers daily cost and summary
// cost. Schema, readiness and shutdown cover both databases.
type teamStore struct {
	*postgres.Store
	analytics *clickhouse.Store
}

var _ agenttrace.Store = (*teamStore)(nil)

// openTeamStore opens ClickHouse at chURL (clickhouse://host:port/database, native
// protocol) and PostgreSQL at pgDSN with ClickHouse as its analytics backend.
// opts.Analytics is ignored. Close closes both.
func openTeamStore(ctx context.Context, pgDSN, chURL string, opts postgres.Options, chOpts clickhouse.Options) (*teamStore, error) {
	an, err := clickhouse.Open(ctx, chURL, chOpts)
	if err != nil {
		return nil, fmt.Errorf("open team store: %w", err)
	}
	opts.Analytics = an
	pg, err := postgres.Open(ctx, pgDSN, opts)
	if err != nil {
		an.Close()
		return nil, fmt.Errorf("open team store: %w", err)
	}
	return &teamStore{Store: pg, analytics: an}, nil
}

// Migrate applies PostgreSQL's migrations, then ClickHouse's.
func (t *teamStore) Migrate(ctx context.Context) error {
	if err := t.Store.Migrate(ctx); err != nil {
		return err
	}
	return t.analytics.Migrate(ctx)
}

// CheckSchema refuses an out-of-date schema in either database.
func (t *teamStore) CheckSchema(ctx context.Context) error {
	if err := t.Store.CheckSchema(ctx); err != nil {
		return err
	}
	return t.analytics.CheckSchema(ctx)
}

// Ping reports whether both databases answer.
func (t *teamStore) Ping(ctx context.Context) error {
	if err := t.Store.Ping(ctx); err != nil {
		return err
	}
	return t.analytics.Ping(ctx)
}

// Close closes PostgreSQL first (it flushes what it handed ClickHouse), then ClickHouse
// (which flushes whatever is still buffered).
func (t *teamStore) Close() error {
	return errors.Join(t.Store.Close(), t.analytics.Close())
}
