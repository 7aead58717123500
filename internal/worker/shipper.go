package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Shipper defaults.
const (
	DefaultShipBatch = 5000
	DefaultShipPoll  = 250 * time.Millisecond
	maxShipBackoff   = 30 * time.Second
)

// Outbox is the store of record's side of the shipper (postgres.Store fits).
type Outbox interface {
	// LeadShipper blocks until this process is the one shipper (or ctx ends); lost closes
	// when that stops being so, release gives it up.
	LeadShipper(ctx context.Context, poll time.Duration) (lost <-chan struct{}, release func(), err error)
	// PendingOutbox returns the oldest committed rows not yet shipped, at most limit.
	PendingOutbox(ctx context.Context, limit int) (agenttrace.OutboxBatch, error)
	// AckOutbox records that a batch is shipped; its rows are not returned again.
	AckOutbox(ctx context.Context, b agenttrace.OutboxBatch) error
	// SessionDays totals the sessions' current usage per day and group, with a version
	// newer than every change in the outbox.
	SessionDays(ctx context.Context, sessions []string) ([]agenttrace.SessionDay, uint64, error)
}

// Shipper moves committed changes from the store of record's outbox to the analytics
// store, one fixed-size batch at a time, acknowledging a batch only once the analytics
// store took it. Memory is one batch. A batch shipped but not acknowledged (a crash, a
// lost lease) is shipped again, which the analytics store's writes make harmless. One
// process ships at a time; the others wait to take over.
type Shipper struct {
	src     Outbox
	dst     agenttrace.AnalyticsSink
	batch   int
	poll    time.Duration
	log     *slog.Logger
	onError func(error)
	shipped atomic.Int64
}

// ShipperOption configures a Shipper.
type ShipperOption func(*Shipper)

// WithBatch sets the most rows shipped at once; DefaultShipBatch by default.
func WithBatch(n int) ShipperOption { return func(s *Shipper) { s.batch = max(n, 1) } }

// WithPoll sets how often an idle shipper looks for new rows and a waiting one for the
// lock; DefaultShipPoll by default.
func WithPoll(d time.Duration) ShipperOption { return func(s *Shipper) { s.poll = d } }

// WithShipperLogger sends failures and take-overs to log.
func WithShipperLogger(log *slog.Logger) ShipperOption { return func(s *Shipper) { s.log = log } }

// WithShipperOnError calls f with every failed attempt (metrics).
func WithShipperOnError(f func(error)) ShipperOption { return func(s *Shipper) { s.onError = f } }

// NewShipper returns a shipper from src to dst.
func NewShipper(src Outbox, dst agenttrace.AnalyticsSink, opts ...ShipperOption) *Shipper {
	s := &Shipper{src: src, dst: dst, batch: DefaultShipBatch, poll: DefaultShipPoll,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Shipped is how many outbox rows this process has shipped.
func (s *Shipper) Shipped() int64 { return s.shipped.Load() }

// Run takes the lead when it can and ships until ctx ends; a lost lead is taken again.
func (s *Shipper) Run(ctx context.Context) {
	for ctx.Err() == nil {
		lost, release, err := s.src.LeadShipper(ctx, s.poll)
		if err != nil {
			if ctx.Err() == nil {
				s.fail(err)
				sleep(ctx, nil, s.poll)
			}
			continue
		}
		s.log.Info("clickhouse shipper: this process ships")
		s.lead(ctx, lost)
		release()
	}
}

// lead ships batches until ctx ends or the lead is lost, backing off while shipping fails
// (ClickHouse down, say): the rows wait in the outbox meanwhile.
func (s *Shipper) lead(ctx context.Context, lost <-chan struct{}) {
	backoff := time.Duration(0)
	for {
		n, err := s.ShipOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.fail(err)
			backoff = min(max(2*backoff, s.poll), maxShipBackoff)
			if !sleep(ctx, lost, backoff) {
				return
			}
		case n < s.batch:
			backoff = 0
			if !sleep(ctx, lost, s.poll) {
				return
			}
		default:
			backoff = 0
			select {
			case <-lost:
				return
			default:
			}
		}
	}
}

// ShipOnce ships the oldest batch and returns how many outbox rows it shipped (0 when
// nothing waits).
func (s *Shipper) ShipOnce(ctx context.Context) (int, error) {
	b, err := s.src.PendingOutbox(ctx, s.batch)
	if err != nil || b.Empty() {
		return 0, err
	}
	if err := s.dst.Write(ctx, b.Events, b.Usage); err != nil {
		return 0, fmt.Errorf("ship %d rows: %w", len(b.Seqs), err)
	}
	if err := s.rollUp(ctx, b); err != nil {
		return 0, err
	}
	if len(b.Erase) > 0 {
		if err := s.dst.EraseSessions(ctx, b.Erase); err != nil {
			return 0, fmt.Errorf("ship erasure of %d sessions: %w", len(b.Erase), err)
		}
	}
	if err := s.src.AckOutbox(ctx, b); err != nil {
		return 0, err
	}
	s.shipped.Add(int64(len(b.Seqs)))
	return len(b.Seqs), nil
}

// rollUp rewrites the rollup of every session whose usage the batch changed, from the
// store of record's current totals: absolute rows, so writing them again is harmless, and
// computed from the truth rather than from the batch, so they agree with the usage facts
// once the batch is in, whatever was shipped before.
func (s *Shipper) rollUp(ctx context.Context, b agenttrace.OutboxBatch) error {
	seen := map[string]bool{}
	var sessions []string
	for _, id := range b.Erase {
		seen[id] = true
		sessions = append(sessions, id)
	}
	for _, u := range b.Usage {
		if !seen[u.SessionID] {
			seen[u.SessionID] = true
			sessions = append(sessions, u.SessionID)
		}
	}
	// A few hundred sessions at a time keep the statements that name them small.
	for chunk := range slices.Chunk(sessions, 500) {
		days, version, err := s.src.SessionDays(ctx, chunk)
		if err != nil {
			return err
		}
		if err := s.dst.WriteSessionDays(ctx, chunk, days, version); err != nil {
			return fmt.Errorf("ship the usage rollup of %d sessions: %w", len(chunk), err)
		}
	}
	return nil
}

func (s *Shipper) fail(err error) {
	s.log.Warn("clickhouse shipper: rows stay in the PostgreSQL outbox until ClickHouse takes them", "err", err)
	if s.onError != nil {
		s.onError(err)
	}
}

// sleep waits d; false when ctx ended or lost closed first.
func sleep(ctx context.Context, lost <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-lost:
		return false
	case <-t.C:
		return true
	}
}
