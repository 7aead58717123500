// Package audit records who did what to agent-trace's access control in the store's
// append-only audit log (agenttrace.AuditLog): token and user changes, deletions,
// retention runs, dashboard logins, and refused requests. Refused requests are counted
// in memory and written once a minute, one entry per actor, address, request and reason,
// with a bound on the entries per minute, so a flood of bad requests cannot fill the disk.
package audit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// DenialWindow is how long refused requests are counted before they are written.
const DenialWindow = time.Minute

// MaxDenialKeys bounds the entries one window writes for refused requests: past it,
// further (actor, address, request, reason) keys are counted in one overflow entry. A flood
// therefore writes at most MaxDenialKeys+1 rows a minute, whatever its size.
const MaxDenialKeys = 100

// Recorder writes audit entries to a log. A nil *Recorder records nothing, so code that
// runs without one (tests, tools) needs no checks.
type Recorder struct {
	log    agenttrace.AuditLog
	logger *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	denials  map[denialKey]*agenttrace.AuditEntry
	overflow *agenttrace.AuditEntry
}

type denialKey struct{ actor, remote, action, target, reason string }

// New returns a Recorder writing to log; logger receives the failures to write (nil
// discards them).
func New(log agenttrace.AuditLog, logger *slog.Logger) *Recorder {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Recorder{log: log, logger: logger, now: time.Now, denials: map[denialKey]*agenttrace.AuditEntry{}}
}

// Actor fills e's actor fields from tok: its ID, name and user. A nil token leaves them
// empty (a request without credentials).
func Actor(e agenttrace.AuditEntry, tok *agenttrace.Token) agenttrace.AuditEntry {
	if tok != nil {
		e.Actor, e.ActorName, e.ActorUser = tok.ID, tok.Name, tok.User
	}
	return e
}

// Record appends e now (its Time set when zero, Count 1). A failure is logged and
// returned: the caller decides whether the action it records may stand without it.
func (r *Recorder) Record(ctx context.Context, e agenttrace.AuditEntry) error {
	if r == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = r.now().UTC()
	}
	if e.Outcome == "" {
		e.Outcome = agenttrace.AuditOK
	}
	e.Count = max(e.Count, 1)
	if err := r.log.AppendAudit(ctx, e); err != nil {
		r.logger.Error("audit", "action", e.Action, "err", err)
		return fmt.Errorf("record %s in the audit log: %w", e.Action, err)
	}
	return nil
}

// Denied counts a refused request of tok (nil without credentials) from remote
// ("host:port" or a host) for reason; action is the request's kind (usually
// agenttrace.AuditRequestDenied) and target what it asked for. Requests alike in all of
// these share an entry. It never blocks on the store: Flush writes the counts.
func (r *Recorder) Denied(tok *agenttrace.Token, remote, action, target, reason string) {
	if r == nil {
		return
	}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host // one client, whatever port it comes from
	}
	e := Actor(agenttrace.AuditEntry{Action: action, Target: target, Outcome: agenttrace.AuditDenied,
		Detail: reason, Remote: remote}, tok)
	key := denialKey{e.Actor, remote, action, target, reason}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.denials[key]; ok {
		d.Count++
		return
	}
	if len(r.denials) >= MaxDenialKeys {
		if r.overflow == nil {
			r.overflow = &agenttrace.AuditEntry{Time: r.now().UTC(), Actor: "*", Action: agenttrace.AuditRequestDenied,
				Outcome: agenttrace.AuditDenied, Remote: "*",
				Detail: fmt.Sprintf("more refused requests than %d sources a minute; counted together", MaxDenialKeys)}
		}
		r.overflow.Count++
		return
	}
	e.Time, e.Count = r.now().UTC(), 1
	r.denials[key] = &e
}

// Flush writes the refused requests counted since the last flush, one entry per key.
// On failure the counts are dropped (and logged): keeping them would let a store outage
// grow them without bound.
func (r *Recorder) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	entries := make([]agenttrace.AuditEntry, 0, len(r.denials)+1)
	for _, e := range r.denials {
		entries = append(entries, *e)
	}
	if r.overflow != nil {
		entries = append(entries, *r.overflow)
	}
	clear(r.denials)
	r.overflow = nil
	r.mu.Unlock()
	if len(entries) == 0 {
		return nil
	}
	if err := r.log.AppendAudit(ctx, entries...); err != nil {
		r.logger.Error("audit: write refused requests", "entries", len(entries), "err", err)
		return fmt.Errorf("write refused requests to the audit log: %w", err)
	}
	return nil
}

// Run flushes every DenialWindow until ctx ends, then once more, so the counts of the
// last minute are not lost on shutdown.
func (r *Recorder) Run(ctx context.Context) {
	if r == nil {
		return
	}
	t := time.NewTicker(DenialWindow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = r.Flush(fctx)
			cancel()
			return
		case <-t.C:
			_ = r.Flush(ctx)
		}
	}
}

type remoteKey struct{}

// WithRemote returns ctx carrying the peer address of the request it belongs to, for
// recorders far from the request (the OTLP receiver's authorization).
func WithRemote(ctx context.Context, remote string) context.Context {
	return context.WithValue(ctx, remoteKey{}, remote)
}

// Remote is the address WithRemote put on ctx, or "".
func Remote(ctx context.Context) string {
	s, _ := ctx.Value(remoteKey{}).(string)
	return s
}

// Remotes puts each request's peer address on its context (WithRemote).
func Remotes(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithRemote(r.Context(), r.RemoteAddr)))
	})
}
