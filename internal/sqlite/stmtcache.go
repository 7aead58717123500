package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"sync"
)

// dbtx is what the projection writers need of a transaction.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmtCache holds the write pool's statements, each prepared once for the life of the
// store. The pool has one connection, so a transaction's copy of a statement
// (Tx.StmtContext) reuses the compiled one: a live deliverer's batches are small, and
// compiling the dozen statements of an ingest in each of their transactions cost about
// a tenth of the ingest. A statement is prepared on the pool only between transactions
// (warm): inside one, the pool's one connection is the transaction's, and preparing on
// the pool would wait for it forever.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool // asked for, to prepare at the next warm
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the statement when it is prepared, else notes it for the next warm.
func (c *stmtCache) get(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[query]
	if !ok {
		c.pending[query] = true
	}
	return st, ok
}

// warm prepares the statements asked for since the last warm; call it with no
// transaction open on the pool in this goroutine. It holds no lock while it prepares: a
// transaction begun meanwhile by another goroutine (ReprojectAll beside ingest) holds
// the connection, and must be able to get its statements and finish. A statement that
// fails to prepare stays per-transaction.
func (c *stmtCache) warm(ctx context.Context) {
	c.mu.Lock()
	queries := slices.Collect(maps.Keys(c.pending))
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup {
			st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

// Close closes every statement.
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.stmts {
		errs = append(errs, st.Close())
	}
	c.stmts = map[string]*sql.Stmt{}
	return errors.Join(errs...)
}

// stmtTx is a transaction that runs each distinct statement from the store's cache.
// Re-projecting a batch's sessions runs the same few statements for every session and
// every row; the driver would otherwise compile each one again on every call.
type stmtTx struct {
	tx    *sql.Tx
	cache *stmtCache
	stmts map[string]*sql.Stmt
}

func newStmtTx(tx *sql.Tx, cache *stmtCache) *stmtTx {
	return &stmtTx{tx: tx, cache: cache, stmts: map[string]*sql.Stmt{}}
}

func (t *stmtTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if shared, ok := t.cache.get(query); ok {
		st = t.tx.StmtContext(ctx, shared)
	} else {
		var err error
		if st, err = t.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
	}
	t.stmts[query] = st
	return st, nil
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t *stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext falls back to the transaction when preparing fails, so the error
// surfaces from Scan as with *sql.Tx.
func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Close releases the transaction's copies of the statements (the transaction stays the
// caller's; the compiled statements stay in the cache).
func (t *stmtTx) Close() error {
	var errs []error
	for _, st := range t.stmts {
		errs = append(errs, st.Close())
	}
	t.stmts = nil
	return errors.Join(errs...)
}
