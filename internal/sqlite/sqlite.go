// Package sqlite is the embedded default agenttrace.Store: one SQLite file (modernc.org/sqlite,
// pure Go) in WAL mode. The events table is the source of truth; sessions, prompts,
// commits, pull requests and usage rows are projections that Ingest rebuilds for every
// session it touches, in the same transaction.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a agenttrace.Store on one SQLite file. It is safe for concurrent use: writes go
// through one connection (SQLite has one writer anyway), reads through a small pool that
// WAL lets run beside the writer.
type Store struct {
	path       string
	write      *sql.DB
	stmts      *stmtCache // the write pool's prepared statements
	read       *sql.DB
	pricer     agenttrace.Pricer
	now        func() time.Time
	projectors *sqlstore.ProjectorCache
	ingests    sqlstore.Coalescer // concurrent ingests share a transaction
	idleAfter  time.Duration
	reader     // Session, Events, Commits, PullRequests, Tokens
	access     // dashboard sessions

	budgets // CreateBudget, Budgets, ClaimAlert, …

	rareTextLimit int   // see rareText
	memory        int64 // WithMemory's budget, 0 for the defaults

	// The background checkpointer: writes poke it, Close stops it.
	dirty    chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

var _ agenttrace.Store = (*Store)(nil)

// reader names the embedded sqlstore.Reader without exporting it.
type reader = sqlstore.Reader

// access names the embedded sqlstore.Access without exporting it.
type access = sqlstore.Access

// budgets names the embedded sqlstore.Budgets without exporting it.
type budgets = sqlstore.Budgets

// Option configures a Store.
type Option func(*Store)

// WithPricer sets how usage is priced when sessions are projected. Without one every
// model is unpriced (cost_usd null, unpriced_models listed).
func WithPricer(p agenttrace.Pricer) Option { return func(s *Store) { s.pricer = p } }

// WithClock sets the clock used for token timestamps (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithIdleAfter sets how long an active session may go without an event before it reads
// as idle (default agenttrace.DefaultIdleAfter).
func WithIdleAfter(d time.Duration) Option { return func(s *Store) { s.idleAfter = d } }

// WithMemory sizes the store's caches for a process that should stay within about
// limit bytes: a sixth for the writer's page cache, a sixth for the readers' page caches
// together, a third for the projections of live sessions; the last third is left to
// the rest of the heap. SQLite's page caches are not Go memory, so a Go memory limit
// (GOMEMLIMIT) alone does not bound them: the server sets that to two thirds of limit
// beside this. Without it the caches take their defaults (64 MiB for the writer, 16 MiB
// a reader, sqlstore.DefaultProjectorCacheBytes of projections).
func WithMemory(limit int64) Option {
	return func(s *Store) { s.memory = limit }
}

// Open opens (creating if needed) the database at path. It does not change the schema:
// call Migrate, or CheckSchema to refuse an out-of-date one.
func Open(path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("open sqlite: empty path")
	}
	s := &Store{path: path, now: time.Now, rareTextLimit: defaultRareText,
		idleAfter: agenttrace.DefaultIdleAfter}
	for _, o := range opts {
		o(s)
	}
	caches := cacheSizes(s.memory)
	s.projectors = sqlstore.NewProjectorCache(int(caches.projections))
	s.reader = s.newReader()
	s.access = s.newAccess()

	s.budgets = sqlstore.Budgets{Reader: s.reader, Now: s.now, Exec: func(ctx context.Context, q string, args ...any) (int64, error) {
		r, err := s.write.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		s.wrote()
		return r.RowsAffected()
	}}
	// Checkpoints run in the background (see checkpointer); the automatic one, which would
	// run inside a committing writer, only backs it up when the WAL grows past ~80 MB.
	pragmas := []string{"busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)", "journal_mode(WAL)",
		"wal_autocheckpoint(20000)", "journal_size_limit(67108864)"}
	dsn := func(extra string, cacheKiB int) string {
		q := url.Values{}
		for _, p := range pragmas {
			q.Add("_pragma", p)
		}
		// SQLite's default page cache is 2 MB; a database of a million events is a
		// gigabyte, and random index inserts miss it constantly.
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheKiB))
		q.Set("_txlock", extra)
		return "file:" + path + "?" + q.Encode()
	}
	var err error
	// IMMEDIATE takes the write lock at BEGIN, so a write transaction never fails half-way
	// on a lock upgrade.
	s.write, err = sql.Open("sqlite", dsn("immediate", caches.writerKiB))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s.stmts = newStmtCache(s.write)
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxIdleTime(0)
	s.write.SetConnMaxLifetime(0)
	if err := s.write.Ping(); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s.read, err = sql.Open("sqlite", dsn("deferred", caches.readerKiB))
	if err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := caches.readers
	s.read.SetMaxOpenConns(n)
	s.read.SetMaxIdleConns(n)
	s.dirty = make(chan struct{}, 1)
	s.stop = make(chan struct{})
	s.stopped = make(chan struct{})
	go s.checkpointer()
	return s, nil
}

// caches are the sizes of a store's caches.
type caches struct {
	writerKiB, readerKiB int   // page cache of the write connection, of each read one
	readers              int   // read connections
	projections          int64 // the projector cache's bytes
}

// cacheSizes splits a memory limit (0: the defaults) among the caches.
func cacheSizes(limit int64) caches {
	c := caches{writerKiB: 64 << 10, readerKiB: 16 << 10, readers: max(runtime.GOMAXPROCS(0)*2, 4),
		projections: sqlstore.DefaultProjectorCacheBytes}
	if limit <= 0 {
		return c
	}
	sixth := limit / 6
	c.writerKiB = max(int(sixth>>10), 2<<10) // SQLite's own default is 2 MiB
	c.readerKiB = max(int(sixth>>10)/c.readers, 1<<10)
	c.projections = max(2*sixth, 4<<20)
	return c
}

// checkpointInterval is how often, at most, the background checkpointer copies the WAL
// back into the database file.
const checkpointInterval = 500 * time.Millisecond

// checkpointer moves WAL pages into the database file off the ingest path. A PASSIVE
// checkpoint never blocks the writer or readers; it does what it can and the next round
// does the rest.
func (s *Store) checkpointer() {
	defer close(s.stopped)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	pending := false
	for {
		select {
		case <-s.stop:
			return
		case <-s.dirty:
			pending = true
		case <-t.C:
			if pending {
				// Errors here are harmless: the WAL stays valid and SQLite's own
				// automatic checkpoint is the backstop.
				_, _ = s.read.Exec("PRAGMA wal_checkpoint(PASSIVE)")
				pending = false
			}
		}
	}
}

// wrote tells the checkpointer there is WAL to move.
func (s *Store) wrote() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes both connection pools.
func (s *Store) Close() error {
	s.stopOnce.Do(func() {
		close(s.stop)
		<-s.stopped
	})
	return errors.Join(s.read.Close(), s.stmts.Close(), s.write.Close())
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Migrations lists the embedded migration names in the order they apply.
func Migrations() []string { return sqlstore.Migrations(migrationFS) }

// Migrate applies every embedded migration not yet applied, each in its own transaction,
// and records its name in schema_migrations. Running it again changes nothing.
func (s *Store) Migrate(ctx context.Context) error { return s.migrate(ctx, "") }

// migrate applies migrations up to and including upTo ("" for all).
func (s *Store) migrate(ctx context.Context, upTo string) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied, err := s.applied(ctx, s.write)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, name := range Migrations() {
		if upTo != "" && name > upTo {
			break
		}
		if applied[name] {
			continue
		}
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
			name, s.now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: record: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: commit: %w", name, err)
		}
	}
	return nil
}

// CheckSchema returns an error wrapping agenttrace.ErrSchemaOutdated, naming the missing
// migrations, when the database is behind this binary.
func (s *Store) CheckSchema(ctx context.Context) error {
	var n int
	err := s.read.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	applied := map[string]bool{}
	if n > 0 {
		if applied, err = s.applied(ctx, s.read); err != nil {
			return fmt.Errorf("check schema: %w", err)
		}
	}
	return sqlstore.CheckApplied(s.path, Migrations(), applied)
}

func (s *Store) applied(ctx context.Context, db *sql.DB) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	return sqlstore.AppliedSet(rows)
}
