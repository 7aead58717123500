// Package otlp is agent-trace-server's OTLP receiver: it accepts Claude Code's own
// telemetry (logs, metrics and traces over OTLP/gRPC and OTLP/HTTP, protobuf or JSON,
// gzip or not), converts each log record, metric data point and span into an event of
// the kinds in event/otel.go with the server's privacy tier and redaction applied, and
// hands them to the store's Ingest. Like an OpenTelemetry collector it keeps receive
// (http.go, grpc.go), convert (Converter) and store (Receiver.consume) apart, and
// acknowledges a request only after the store committed what it carried.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// DefaultMaxBodyBytes bounds one OTLP request, after decompression: Claude Code exports
// every second, so a request is a few hundred records at most; 16 MiB is far above that.
const DefaultMaxBodyBytes = 16 << 20

// Ingester is the store port the receiver writes to (agenttrace.Store fits).
type Ingester interface {
	Ingest(ctx context.Context, events []event.Event) (agenttrace.IngestResult, error)
}

// Options configure a Receiver.
type Options struct {
	Store Ingester
	// Tier is the server's privacy tier for telemetry (OTEL_PRIVACY_TIER); 0 means 2.
	Tier int
	// Authorize checks a request's Authorization value ("" when it has none) for scope,
	// returning its token (nil or a token without a user: records keep their own users).
	// Errors wrapping auth.ErrUnauthenticated or auth.ErrForbidden refuse the request; any
	// other error means the token store could not answer. Nil lets every request in.
	Authorize func(ctx context.Context, authorization, scope string) (*agenttrace.Token, error)
	// Owners tells whose sessions are stored, for the ingest rule of user-bound tokens
	// (auth.BindEvents); nil means Store's own, when it has them (agenttrace.Store does).
	Owners agenttrace.Owners
	// Denied, when set, is told of every request refused because its records belong to
	// another user (the audit log); Authorize reports its own refusals.
	Denied func(ctx context.Context, tok *agenttrace.Token, err error)
	// Notify, when set, is told of every batch stored (the live change feed).
	Notify func(res agenttrace.IngestResult, events []event.Event)
	// Sources, when set, keeps when telemetry last arrived from each installation, for
	// GET /v1/otlp/status across restarts and replicas; nil keeps it in memory only.
	Sources agenttrace.TelemetrySources
	// MaxBodyBytes bounds a request body after decompression; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// sourceEvery is how often one receiver records an installation's arrival: Claude Code
// exports every few seconds, and status needs minutes, not one write per request.
const sourceEvery = 10 * time.Second

// Receiver stores what the OTLP endpoints receive. It is safe for concurrent use.
type Receiver struct {
	opts Options
	log  *slog.Logger
	last atomic.Int64 // unix nanoseconds of the last stored batch, 0 for none

	mu      sync.Mutex
	written map[string]time.Time // source → when this receiver last recorded it
}

// New returns a Receiver; serve it with HTTPHandler, GRPCServer or Handler.
func New(opts Options) *Receiver {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Tier == 0 {
		opts.Tier = event.TierDetails
	}
	if o, ok := opts.Store.(agenttrace.Owners); ok && opts.Owners == nil {
		opts.Owners = o
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Receiver{opts: opts, log: log}
}

// LastReceived is when this receiver last stored telemetry, or zero.
func (r *Receiver) LastReceived() time.Time {
	if n := r.last.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}

// SetLastReceived records t as the last time telemetry was stored, unless a later one is
// already known (a store that knows an earlier replica's time tells it at start).
func (r *Receiver) SetLastReceived(t time.Time) {
	n := t.UnixNano()
	for {
		old := r.last.Load()
		if old >= n || r.last.CompareAndSwap(old, n) {
			return
		}
	}
}

// Failure is a request the receiver refused, sorted as both transports need it.
type Failure struct {
	Code    Code
	Message string
}

func (f *Failure) Error() string { return f.Message }

// Code sorts a refusal: the transports map each to one HTTP status and one gRPC code.
type Code int

const (
	Invalid         Code = iota + 1 // permanent: undecodable payload, bad content type (400, InvalidArgument)
	TooLarge                        // permanent: body over the bound (413, ResourceExhausted)
	Unauthenticated                 // no or unknown token (401, Unauthenticated)
	Forbidden                       // token without the ingest scope, or records of another user (403, PermissionDenied)
	Unavailable                     // retryable: the store failed (503 + Retry-After, Unavailable)
)

func fail(c Code, format string, args ...any) *Failure {
	return &Failure{Code: c, Message: fmt.Sprintf(format, args...)}
}

// authorize checks the Authorization value for scope, returning the request's token
// (nil when the receiver has no Authorize).
func (r *Receiver) authorize(ctx context.Context, authorization, scope string) (*agenttrace.Token, error) {
	if r.opts.Authorize == nil {
		return nil, nil
	}
	tok, err := r.opts.Authorize(ctx, authorization, scope)
	switch {
	case err == nil:
		return tok, nil
	case errors.Is(err, auth.ErrUnauthenticated):
		return nil, fail(Unauthenticated, "%v: send Authorization: Bearer <ingest token>", err)
	case errors.Is(err, auth.ErrForbidden):
		return nil, fail(Forbidden, "%v: the token needs the %s scope", err, scope)
	}
	r.log.Error("otlp: authenticate", "err", err)
	return nil, fail(Unavailable, "token store unavailable; retry later")
}

// consume authorizes a decoded request, converts it with convert and stores the events,
// returning once they are committed: the Result carries what could not be used.
func (r *Receiver) consume(ctx context.Context, authorization string, convert func(Converter) Result) (Result, error) {
	tok, err := r.authorize(ctx, authorization, agenttrace.ScopeIngest)
	if err != nil {
		return Result{}, err
	}
	c := Converter{Tier: r.opts.Tier}
	if tok != nil {
		c.User = tok.User
	}
	res := convert(c)
	if err := r.bind(ctx, tok, res.Events); err != nil {
		return Result{}, err
	}
	// Ingest is all-or-nothing per call; a request larger than a batch is stored in
	// batches, and a retry after a failure stores only what is missing (stable IDs).
	for evs := range slices.Chunk(res.Events, event.MaxBatchEvents) {
		stored, err := r.opts.Store.Ingest(ctx, evs)
		if err != nil {
			if errors.Is(err, agenttrace.ErrInvalid) {
				return Result{}, fail(Invalid, "store refused the events: %v", err)
			}
			r.log.Error("otlp: store events", "err", err)
			return Result{}, fail(Unavailable, "storage is unavailable; retry later")
		}
		if r.opts.Notify != nil {
			r.opts.Notify(stored, evs)
		}
	}
	if len(res.Events) > 0 {
		now := time.Now()
		r.SetLastReceived(now)
		r.recordSources(ctx, res.Sources, now)
	}
	return res, nil
}

// recordSources tells the store which installations just sent telemetry, each at most
// every sourceEvery from this receiver. The events are already durable, so a failure
// here is logged and the request still succeeds.
func (r *Receiver) recordSources(ctx context.Context, sources []string, now time.Time) {
	if r.opts.Sources == nil {
		return
	}
	for _, src := range sources {
		r.mu.Lock()
		due := now.Sub(r.written[src]) >= sourceEvery
		if due {
			if r.written == nil {
				r.written = map[string]time.Time{}
			}
			r.written[src] = now
		}
		r.mu.Unlock()
		if !due {
			continue
		}
		if err := r.opts.Sources.SawTelemetry(context.WithoutCancel(ctx), src, now); err != nil {
			r.log.Warn("otlp: record telemetry source", "err", err)
			r.mu.Lock()
			delete(r.written, src) // try again with the next request
			r.mu.Unlock()
		}
	}
}

// bind applies the collector's ingest rule (auth.BindEvents) to the whole request before
// any of it is stored: records of another user, or into another user's session, refuse
// the request as a permanent failure (403, PermissionDenied) that a retry cannot fix.
func (r *Receiver) bind(ctx context.Context, tok *agenttrace.Token, events []event.Event) error {
	err := auth.BindEvents(ctx, tok, events, r.opts.Owners)
	var mm *auth.UserMismatch
	switch {
	case err == nil:
		return nil
	case errors.As(err, &mm):
		if r.opts.Denied != nil {
			r.opts.Denied(ctx, tok, err)
		}
		return fail(Forbidden, "%v; nothing was stored", mm)
	}
	r.log.Error("otlp: check session owners", "err", err)
	return fail(Unavailable, "storage is unavailable; retry later")
}
