// Package postgres is an agenttrace.Store on PostgreSQL (pgx/v5): it holds the event log and
// the materialised session projections. Optionally it keeps an outbox (ch_outbox) of the
// event log and the priced usage changes, in the transaction that stores them, for a
// shipper to move to a derived analytics store that then answers daily cost and the
// summary's tokens and cost; it knows that store only through the agenttrace ports
// (cmd/agent-trace-server composes it with internal/clickhouse into the team store).
//
// It mirrors internal/sqlite: the events table is the source of truth and Ingest rebuilds
// every touched session's rows in the same transaction. Server processes keep no state of
// their own, so any number of them can share the databases: a session's re-projection is
// serialised across processes by a transaction-scoped advisory lock on the session.
// LiveBus carries the live change notices between those processes (LISTEN/NOTIFY and
// the live_changes table), so each one's streams show every one's changes.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configures a Store.
type Options struct {
	// Pricer prices usage when sessions are projected; nil prices nothing.
	Pricer agenttrace.Pricer
	// Outbox makes every ingest and erase also write, in its transaction, what a derived
	// analytics store needs (the event log, usage changes, erasures) to ch_outbox, for
	// the shipper (PendingOutbox, AckOutbox).
	Outbox bool
	// Analytics, when set, answers DailyCost and the usage and cost of Summary; without
	// it PostgreSQL answers them. It is fed from the outbox, so it needs Outbox. The
	// Store does not own it: whoever opened it migrates, pings and closes it.
	Analytics agenttrace.CostAnalytics
	// Now is the clock for token timestamps (tests); time.Now when nil.
	Now func() time.Time
	// MaxConns caps the connection pool; pgxpool's default when 0.
	MaxConns int32
	// ProjectorCacheBytes bounds the projections of live sessions kept in memory;
	// sqlstore.DefaultProjectorCacheBytes when 0.
	ProjectorCacheBytes int
	// IdleAfter is how long an active session may go without an event before it reads as
	// idle; agenttrace.DefaultIdleAfter when 0.
	IdleAfter time.Duration
}

// Store is a agenttrace.Store on PostgreSQL (optionally beside an analytics backend). Safe
// for concurrent use, and by any number of processes on the same databases.
type Store struct {
	pool      *pgxpool.Pool
	pricer    agenttrace.Pricer
	analytics agenttrace.CostAnalytics
	outbox    bool
	now       func() time.Time
	// projectors keeps live sessions' projections between ingests (see
	// sqlstore.ProjectorCache); each ingest checks them against the session's generation
	// (session_gen), so other replicas' writes are never missed.
	projectors *sqlstore.ProjectorCache
	ingests    sqlstore.Coalescer // concurrent ingests share a transaction
	idleAfter  time.Duration
	reader     // Session, Events, Commits, PullRequests, Tokens
	access     // dashboard sessions

	budgets // CreateBudget, Budgets, ClaimAlert, …
}

var _ agenttrace.Store = (*Store)(nil)

// reader names the embedded sqlstore.Reader without exporting it.
type reader = sqlstore.Reader

// access names the embedded sqlstore.Access without exporting it.
type access = sqlstore.Access

// budgets names the embedded sqlstore.Budgets without exporting it.
type budgets = sqlstore.Budgets

// Open connects to PostgreSQL at dsn (a postgres:// URL or key=value string; a
// search_path parameter selects the schema). It does not change the schema: call Migrate,
// or CheckSchema to refuse an out-of-date one.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: parse connection string: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", cfg.ConnConfig.Host, err)
	}
	cacheBytes := opts.ProjectorCacheBytes
	if cacheBytes <= 0 {
		cacheBytes = sqlstore.DefaultProjectorCacheBytes
	}
	s := &Store{pool: pool, pricer: opts.Pricer, analytics: opts.Analytics, outbox: opts.Outbox, now: opts.Now,
		projectors: sqlstore.NewProjectorCache(cacheBytes), idleAfter: opts.IdleAfter}
	if s.idleAfter <= 0 {
		s.idleAfter = agenttrace.DefaultIdleAfter
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.reader = s.newReader()
	s.access = s.newAccess()

	s.budgets = sqlstore.Budgets{Reader: s.reader, Now: s.now, Exec: func(ctx context.Context, q string, args ...any) (int64, error) {
		tag, err := s.pool.Exec(ctx, q, args...)
		return tag.RowsAffected(), err
	}}
	return s, nil
}

// Pool is the connection pool (tests and benchmarks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool. Nothing waits in memory: what the analytics store has not
// received yet waits in the outbox.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether PostgreSQL answers (the analytics backend is its opener's to ping).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Migrations lists the embedded PostgreSQL migration names in the order they apply.
func Migrations() []string { return sqlstore.Migrations(migrationFS) }

// migrateLock is the advisory lock key that serialises Migrate across processes.
const migrateLock = 0x61745f6d6967 // "at_mig"

// Migrate applies every embedded PostgreSQL migration not yet applied, each in its own
// transaction recorded in schema_migrations. Two processes migrating at once apply each
// migration once.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		// Two processes creating it at once: one loses the race on the catalog; the table exists.
		if _, err2 := s.pool.Exec(ctx, `SELECT 1 FROM schema_migrations LIMIT 1`); err2 != nil {
			return fmt.Errorf("migrate postgres: create schema_migrations: %w", err)
		}
	}
	for _, name := range Migrations() {
		if err := s.migrateOne(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) migrateOne(ctx context.Context, name string) error {
	body, err := migrationFS.ReadFile("migrations/" + name)
	if err != nil {
		return fmt.Errorf("migrate postgres %s: %w", name, err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate postgres %s: %w", name, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("migrate postgres %s: lock: %w", name, err)
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&done); err != nil {
		return fmt.Errorf("migrate postgres %s: %w", name, err)
	}
	if done {
		return nil
	}
	// Simple protocol: a migration file holds several statements.
	if _, err := tx.Exec(ctx, string(body), pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("migrate postgres %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, now())`, name); err != nil {
		return fmt.Errorf("migrate postgres %s: record: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate postgres %s: commit: %w", name, err)
	}
	return nil
}

// CheckSchema returns an error wrapping agenttrace.ErrSchemaOutdated, naming what is missing
// and what to run, when the PostgreSQL schema is behind this binary.
func (s *Store) CheckSchema(ctx context.Context) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("check postgres schema: %w", err)
	}
	applied := map[string]bool{}
	if exists {
		rows, err := s.pool.Query(ctx, `SELECT name FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("check postgres schema: %w", err)
		}
		applied, err = sqlstore.AppliedSet(rows)
		rows.Close()
		if err != nil {
			return fmt.Errorf("check postgres schema: %w", err)
		}
	}
	return sqlstore.CheckApplied("postgres", Migrations(), applied)
}

// sessionLockKey is the advisory lock key of a session. It is computed here rather than
// with hashtext() so a batch can take its locks in one sorted order, which rules out
// deadlocks between processes ingesting overlapping batches.
func sessionLockKey(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte("agent-trace/session/"))
	h.Write([]byte(id))
	return int64(h.Sum64())
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
