package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// DefaultRetentionInterval is how often Retention looks for expired sessions: often
// enough that a session outlives its retention by at most an hour, rarely enough to
// cost nothing.
const DefaultRetentionInterval = time.Hour

// Deleter is the store method retention needs (agenttrace.Store fits).
type Deleter interface {
	// DeleteBefore erases every session whose last event is older than t and returns
	// how many it erased.
	DeleteBefore(ctx context.Context, t time.Time) (int, error)
}

// Sweeper erases what expires by itself, whatever the retention: ended dashboard
// sessions (agenttrace.Store fits). A Deleter that is also a Sweeper is swept every run.
type Sweeper interface {
	DeleteExpiredDashboardSessions(ctx context.Context, now time.Time) (int, error)
}

// AuditPruner erases old audit entries (agenttrace.Store fits). A Deleter that is also
// an AuditPruner has its audit log pruned every run.
type AuditPruner interface {
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}

// Auditor records each retention run in the audit log (*audit.Recorder fits).
type Auditor interface {
	Record(ctx context.Context, e agenttrace.AuditEntry) error
}

// DefaultAuditRetention is how long audit entries are kept: over a year, so a yearly
// review finds the whole year.
const DefaultAuditRetention = 400 * 24 * time.Hour

// Retention erases sessions whose last event is older than Days days, sweeps expired
// dashboard logins and prunes old audit entries.
type Retention struct {
	store     Deleter
	days      int
	interval  time.Duration
	log       *slog.Logger
	onError   func(error)
	audit     Auditor
	auditKeep time.Duration
}

// RetentionOption configures a Retention worker.
type RetentionOption func(*Retention)

// WithInterval sets how often the worker runs; the default is DefaultRetentionInterval.
func WithInterval(d time.Duration) RetentionOption {
	return func(r *Retention) { r.interval = d }
}

// WithLogger sends each run's result (sessions erased, or the failure) to log.
func WithLogger(log *slog.Logger) RetentionOption {
	return func(r *Retention) { r.log = log }
}

// WithOnError calls f with every failed run, so the server can count store failures in
// its metrics.
func WithOnError(f func(error)) RetentionOption {
	return func(r *Retention) { r.onError = f }
}

// WithAudit records every run that erased sessions (and its count) through a.
func WithAudit(a Auditor) RetentionOption {
	return func(r *Retention) { r.audit = a }
}

// WithAuditRetention sets how long audit entries are kept (DefaultAuditRetention unless
// set); 0 or less keeps them for ever.
func WithAuditRetention(d time.Duration) RetentionOption {
	return func(r *Retention) { r.auditKeep = d }
}

// NewRetention returns a worker that keeps days days of sessions in store; days <= 0
// keeps everything.
func NewRetention(store Deleter, days int, opts ...RetentionOption) *Retention {
	r := &Retention{store: store, days: days, interval: DefaultRetentionInterval,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), auditKeep: DefaultAuditRetention}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Run erases expired sessions and sweeps now and then every interval until ctx ends.
// With no retention set and nothing to sweep it returns at once.
func (r *Retention) Run(ctx context.Context) {
	sweeper, sweeps := r.store.(Sweeper)
	pruner, prunes := r.store.(AuditPruner)
	prunes = prunes && r.auditKeep > 0
	if r.days <= 0 && !sweeps && !prunes {
		return
	}
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if n, err := r.Enforce(ctx); err != nil {
			r.log.Error("retention", "err", err)
		} else if n > 0 {
			r.log.Info("retention erased sessions", "count", n, "days", r.days)
		}
		if sweeps {
			r.sweep(ctx, sweeper)
		}
		if prunes {
			r.pruneAudit(ctx, pruner)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Enforce erases every session whose last event is older than the retention and returns
// how many it erased; with no retention set it does nothing.
func (r *Retention) Enforce(ctx context.Context) (int, error) {
	if r.days <= 0 {
		return 0, nil
	}
	cutoff := time.Now().Add(-time.Duration(r.days) * 24 * time.Hour)
	n, err := r.store.DeleteBefore(ctx, cutoff)
	e := agenttrace.AuditEntry{Actor: agenttrace.ActorSystem, Action: agenttrace.AuditRetentionRun,
		Target: "sessions", Outcome: agenttrace.AuditOK, Count: n,
		Detail: fmt.Sprintf("erased %d sessions idle for more than %d days", n, r.days)}
	if err != nil {
		err = fmt.Errorf("enforce retention: %w", err)
		e.Outcome, e.Detail = agenttrace.AuditFailed, err.Error()
	}
	if r.audit != nil {
		_ = r.audit.Record(ctx, e) // logged by the recorder; the run's result stands
	}
	if err != nil {
		if r.onError != nil {
			r.onError(err)
		}
		return 0, err
	}
	return n, nil
}

// sweep erases expired dashboard sessions (and those of revoked tokens, which no longer
// open anything but would otherwise stay until they expire).
func (r *Retention) sweep(ctx context.Context, s Sweeper) {
	n, err := s.DeleteExpiredDashboardSessions(ctx, time.Now())
	if err != nil {
		r.log.Error("sweep dashboard sessions", "err", err)
		if r.onError != nil {
			r.onError(err)
		}
		return
	}
	if n > 0 {
		r.log.Info("swept ended dashboard sessions", "count", n)
	}
}

// pruneAudit erases the audit entries older than the audit retention.
func (r *Retention) pruneAudit(ctx context.Context, p AuditPruner) {
	n, err := p.PruneAudit(ctx, time.Now().Add(-r.auditKeep))
	if err != nil {
		r.log.Error("prune audit log", "err", err)
		if r.onError != nil {
			r.onError(err)
		}
		return
	}
	if n > 0 {
		r.log.Info("pruned audit log", "entries", n, "older than", r.auditKeep)
	}
}
