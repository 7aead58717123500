// Package deliver drains the spool to the collector: it folds the inbox in, enriches
// hook events with transcript usage and git outcomes, and POSTs batches with retries.
//
// Delivery is at-least-once: an event leaves the spool only after the collector answered
// 2xx (Ack) or rejected it permanently (dead letter). Event IDs are stable, so a batch
// sent twice (a crash between the 2xx and the Ack) is stored once by the server.
//
// Only one deliverer runs per home (an flock on <home>/deliver.lock). It never holds the
// spool open across network calls or transcript reads, because every hook process needs
// the spool's file lock within 100 ms.
package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/privacy"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/lease"
	"github.com/hashicorp/go-retryablehttp"
)

// Defaults for Options' zero values.
const (
	DefaultBatchEvents = 500
	DefaultBatchBytes  = 4 << 20
	DefaultRetryMax    = 4
)

var (
	// ErrBusy means another deliverer holds the lock for this home.
	ErrBusy = lease.ErrBusy
	// ErrStopped means the collector refused our credentials (401/403) or our URL
	// (404/405); delivery stops and keeps every event until the config is fixed.
	ErrStopped = errors.New("delivery stopped")
)

// TailFunc reads a transcript from the position saved in state and returns the events it
// found and the new state. src is the hook event that named the transcript (its session,
// tier, user and host apply to what is found); final says no more lines will come, so a
// trailing response must not be held back. The transcript package provides it.
type TailFunc func(path string, state []byte, src event.Event, final bool) (evts []event.Event, next []byte, err error)

// OutcomesFunc returns the commits and branch changes a Bash call made between two
// repository states, seen at start (PreToolUse) and end (PostToolUse). The gitinfo
// package provides it.
type OutcomesFunc func(repoDir string, before, after event.GitState, start, end time.Time) ([]event.Commit, []event.Branch, error)

// Options configure a Run.
type Options struct {
	Home         string        // agent-trace home: spool, inbox and lock file
	Spool        spool.Options // LockTimeout defaults to 2 s here: the deliverer can wait
	CollectorURL string        // base URL; batches go to <CollectorURL>/v1/hooks
	Token        string        // sent as a bearer token when set

	HTTPClient   *http.Client  // transport (a 30 s timeout client when nil)
	RetryMax     int           // retries per request inside retryablehttp (DefaultRetryMax when 0; <0: none)
	RetryWaitMin time.Duration // first backoff (250 ms when 0)
	RetryWaitMax time.Duration // backoff cap, Retry-After included (30 s when 0)
	BatchEvents  int           // events per request (DefaultBatchEvents when 0)
	BatchBytes   int           // encoded bytes per request (DefaultBatchBytes when 0)

	// Linger keeps a drained deliverer waiting this long for new events before it
	// exits (background mode); 0 exits as soon as the spool is empty.
	Linger time.Duration
	// Lease, when set, is the deliverer lock already held (passed down by the capture
	// that started this process); Run releases it when done. Otherwise Run takes it.
	Lease *lease.Lease

	// Wait keeps retrying retryable failures until the spool is empty or ctx ends
	// (flush --wait). Without it Run returns the first failure retryablehttp gave up on.
	Wait bool

	// OnSent, when set, is told the running count of events the collector acknowledged,
	// after each batch (a progress bar).
	OnSent func(sent int)

	Logf     func(format string, args ...any) // hook.log; each distinct error is logged once
	Now      func() time.Time
	Tail     TailFunc     // nil: no transcript enrichment
	Outcomes OutcomesFunc // nil: no git enrichment
	// GitErrorPermanent tells an Outcomes error that retrying cannot fix (a deleted
	// repository) from a passing one; nil treats every error as permanent.
	GitErrorPermanent func(error) bool
	// QuietFinal reads a transcript as final once it has not changed for this long, for
	// sessions that end without a SessionEnd hook (0: only SessionEnd/SubagentStop do).
	QuietFinal time.Duration
}

// Result counts what a Run did.
type Result struct {
	Sent         int // events acknowledged by the collector
	DeadLettered int // events rejected permanently
	Derived      int // usage, commit and branch events added by enrichment
	Folded       int // events moved from the inbox into the spool
}

type deliverer struct {
	opts     Options
	client   *retryablehttp.Client
	url      string
	res      Result
	logged   map[string]bool // enrichment errors already logged in this run
	hadError bool            // the spool records an unrecovered delivery error
}

// Run delivers until the spool is empty (then lingers, see Options.Linger), the context
// ends, or delivery fails. It returns ErrBusy at once when another deliverer runs.
func Run(ctx context.Context, opts Options) (Result, error) {
	opts = withDefaults(opts)
	if opts.CollectorURL == "" {
		return Result{}, errors.New("deliver: no collector URL configured")
	}
	held := opts.Lease
	if held == nil {
		var err error
		if held, err = lease.Acquire(opts.Home); err != nil {
			return Result{}, err
		}
	}
	release := held.Release
	d := &deliverer{
		opts:   opts,
		client: newClient(opts),
		url:    agentconfig.NormalizeCollectorURL(opts.CollectorURL) + "/v1/hooks",
		logged: map[string]bool{},
	}
	defer func() { release() }()

	var idleSince time.Time
	var failures int
	var movedAside bool
	for {
		if err := ctx.Err(); err != nil {
			return d.res, fmt.Errorf("deliver: %w", err)
		}
		n, err := d.round(ctx)
		switch {
		case err == nil && n > 0:
			idleSince, failures = time.Time{}, 0
			continue
		case err == nil:
			if idleSince.IsZero() {
				idleSince = opts.Now()
			}
			if opts.Now().Sub(idleSince) < opts.Linger {
				sleep(ctx, min(250*time.Millisecond, opts.Linger))
				continue
			}
			// Release first, then look again: a hook that appended while we held the
			// lock saw a deliverer running and started none, so its event is ours.
			release()
			release = func() {}
			if !d.pendingWork() {
				return d.res, nil
			}
			if release, err = lease.Lock(opts.Home); err != nil {
				return d.res, nil // the process that took the lock delivers it
			}
			idleSince = time.Time{}
		case errors.Is(err, ErrStopped), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return d.res, err
		case errors.Is(err, spool.ErrCorrupt) && !movedAside:
			movedAside = true
			// Damage deeper than Open checks: keep the file for inspection, carry on
			// with a fresh spool rather than fail forever.
			if _, merr := spool.MoveAside(spool.Path(opts.Home), opts.Spool); merr != nil {
				return d.res, errors.Join(err, merr)
			}
			continue
		default:
			failures++
			if !opts.Wait {
				return d.res, err
			}
			wait := backoffDelay(opts.RetryWaitMin*4, opts.RetryWaitMax*2, failures)
			var re *retryableError
			if errors.As(err, &re) && re.retryAfter > wait {
				wait = re.retryAfter
			}
			sleep(ctx, wait)
		}
	}
}

func withDefaults(o Options) Options {
	if o.Spool.LockTimeout <= 0 {
		o.Spool.LockTimeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Spool.Now == nil {
		o.Spool.Now = o.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Spool.Logf == nil {
		o.Spool.Logf = o.Logf
	}
	if o.RetryMax == 0 {
		o.RetryMax = DefaultRetryMax
	} else if o.RetryMax < 0 {
		o.RetryMax = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = 250 * time.Millisecond
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = 30 * time.Second
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = DefaultBatchEvents
	}
	if o.BatchEvents > event.MaxBatchEvents {
		o.BatchEvents = event.MaxBatchEvents
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (d *deliverer) open() (*spool.Spool, error) {
	return spool.Open(spool.Path(d.opts.Home), d.opts.Spool)
}

// round folds the inbox, enriches what is new, and sends one batch. It returns how many
// events it moved out of the spool (sent or dead-lettered) or added to it.
func (d *deliverer) round(ctx context.Context) (int, error) {
	s, err := d.open()
	if err != nil {
		return 0, err
	}
	folded, err := s.FoldInbox(d.opts.Home)
	d.res.Folded += folded
	if err != nil {
		s.Close()
		return 0, err
	}
	meta, err := s.Meta()
	if err != nil {
		s.Close()
		return 0, err
	}
	d.hadError = meta.LastError != ""
	plan, err := d.planEnrichment(s, meta.EnrichedKey)
	s.Close()
	if err != nil {
		return 0, err
	}
	derived, err := d.enrich(plan)
	if errors.Is(err, errRetryEnrichment) {
		// Git is unreadable for now: send what was enriched before, then back off.
		d.logOnce(err.Error())
		items, perr := d.peek(meta.EnrichedKey)
		if perr == nil && len(items) > 0 {
			if derr := d.deliver(ctx, items); derr != nil {
				return 0, derr
			}
		}
		return 0, err
	}
	if err != nil {
		return 0, err
	}

	items, err := d.peek(plan.last)
	if err != nil {
		return 0, err
	}
	if len(items) == 0 {
		return derived + folded, nil
	}
	sent, dead := d.res.Sent, d.res.DeadLettered
	err = d.deliver(ctx, items)
	return d.res.Sent - sent + d.res.DeadLettered - dead + derived + folded, err
}

func (d *deliverer) peek(through uint64) ([]spool.Item, error) {
	s, err := d.open()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.PeekThrough(d.opts.BatchEvents, d.opts.BatchBytes, through)
}

// pendingWork reports whether the spool or the inbox holds anything.
func (d *deliverer) pendingWork() bool {
	if files, _ := spool.InboxFiles(d.opts.Home); len(files) > 0 {
		return true
	}
	s, err := d.open()
	if err != nil {
		return true
	}
	defer s.Close()
	items, err := s.Peek(1, 1)
	return err != nil || len(items) > 0
}

// deliver sends items, bisecting a permanently rejected batch down to the events the
// collector refuses, dead-lettering those and sending the rest.
func (d *deliverer) deliver(ctx context.Context, items []spool.Item) error {
	var good, bad []spool.Item
	var reasons []string
	for _, it := range items {
		if err := it.Event.Validate(); err != nil {
			bad = append(bad, it)
			reasons = append(reasons, "invalid event: "+err.Error())
			continue
		}
		good = append(good, it)
	}
	for i := range bad {
		if err := d.deadLetter(bad[i:i+1], reasons[i]); err != nil {
			return err
		}
	}
	if len(good) == 0 {
		return nil
	}
	return d.deliverValid(ctx, good)
}

func (d *deliverer) deliverValid(ctx context.Context, items []spool.Item) error {
	err := d.send(ctx, items)
	var rej *rejectedError
	switch {
	case err == nil:
		return d.ack(items)
	case errors.As(err, &rej):
		if len(items) == 1 {
			return d.deadLetter(items, rej.Error())
		}
		half := len(items) / 2
		if err := d.deliverValid(ctx, items[:half]); err != nil {
			return err
		}
		return d.deliverValid(ctx, items[half:])
	case errors.Is(err, ErrStopped):
		d.stop(err)
		return err
	case ctx.Err() != nil:
		return err // interrupted (flush --timeout, Ctrl-C): not the collector's failure
	default:
		d.fail(err)
		return err
	}
}

func (d *deliverer) ack(items []spool.Item) error {
	s, err := d.open()
	if err != nil {
		return err
	}
	defer s.Close()
	keys := make([]uint64, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	if err := s.Ack(keys...); err != nil {
		return err
	}
	d.res.Sent += len(items)
	if d.opts.OnSent != nil {
		d.opts.OnSent(d.res.Sent)
	}
	if d.hadError {
		d.hadError = false
		return s.UpdateMeta(func(m *spool.Meta) {
			if m.LastError != "" {
				d.opts.Logf("delivery recovered: %d events sent to %s (last error was: %s)", len(items), d.url, m.LastError)
			}
			m.LastError, m.RetryAt, m.Stopped, m.Failures = "", time.Time{}, "", 0
		})
	}
	return nil
}

func (d *deliverer) deadLetter(items []spool.Item, reason string) error {
	s, err := d.open()
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.DeadLetter(items, reason); err != nil {
		return err
	}
	d.res.DeadLettered += len(items)
	d.logOnce("dead-lettered events: " + reason)
	return nil
}

// fail records a retryable failure for status, logging it when it differs from the last.
func (d *deliverer) fail(err error) {
	d.record(func(m *spool.Meta) {
		msg := err.Error()
		if m.LastError != msg {
			d.opts.Logf("delivery failed (will retry): %s", msg)
		}
		m.LastError, m.LastErrorAt = msg, d.opts.Now()
		// Hooks start no background deliverer before RetryAt; the wait grows with each
		// failed run, so a collector that is down for hours costs little.
		m.Failures++
		m.RetryAt = d.opts.Now().Add(backoffDelay(time.Second, 5*time.Minute, m.Failures))
		var re *retryableError
		if errors.As(err, &re) && re.retryAfter > 0 {
			m.RetryAt = d.opts.Now().Add(re.retryAfter)
		}
	})
	d.hadError = true
}

func (d *deliverer) stop(err error) {
	d.record(func(m *spool.Meta) {
		msg := err.Error()
		if m.Stopped != msg {
			d.opts.Logf("%s", msg)
		}
		m.Stopped, m.LastError, m.LastErrorAt = msg, msg, d.opts.Now()
		// Hooks start no deliverer until then; flush and init try again at once.
		m.RetryAt = d.opts.Now().Add(10 * time.Minute)
	})
	d.hadError = true
}

func (d *deliverer) record(fn func(m *spool.Meta)) {
	s, err := d.open()
	if err != nil {
		d.opts.Logf("record delivery state: %v", err)
		return
	}
	defer s.Close()
	if err := s.UpdateMeta(fn); err != nil {
		d.opts.Logf("record delivery state: %v", err)
	}
}

func (d *deliverer) logOnce(msg string) {
	if d.logged[msg] {
		return
	}
	d.logged[msg] = true
	d.opts.Logf("%s", msg)
}

// rejectedError is a permanent rejection (400, 413, 422 and other 4xx): sending the same
// events again cannot succeed.
type rejectedError struct {
	status int
	detail string
}

func (e *rejectedError) Error() string {
	if e.detail == "" {
		return fmt.Sprintf("collector rejected the events: HTTP %d", e.status)
	}
	return fmt.Sprintf("collector rejected the events: HTTP %d: %s", e.status, e.detail)
}

// retryableError is a failure worth retrying later (408, 429, 5xx, network).
type retryableError struct {
	status     int
	detail     string
	retryAfter time.Duration // the collector's Retry-After, when it sent one
}

func (e *retryableError) Error() string {
	if e.detail == "" {
		return fmt.Sprintf("collector answered HTTP %d", e.status)
	}
	return fmt.Sprintf("collector answered HTTP %d: %s", e.status, e.detail)
}

// send POSTs one batch. The body is assembled from the stored JSON so the bytes on the
// wire are the bytes captured, except that tier 1 events leave their paths behind (see
// privacy.ForWire).
func (d *deliverer) send(ctx context.Context, items []spool.Item) error {
	var body bytes.Buffer
	body.WriteString(`{"events":[`)
	for i, it := range items {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(wireBytes(it))
	}
	body.WriteString(`]}`)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, d.url, body.Bytes())
	if err != nil {
		return fmt.Errorf("%w: bad collector URL %q: %v", ErrStopped, d.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "agent-trace-hook")
	if d.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+d.opts.Token)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("deliver: %w", ctx.Err())
		}
		return fmt.Errorf("POST %s: %w", d.url, err)
	}
	defer resp.Body.Close()
	detail := problemDetail(resp.Body)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%w: the collector at %s refused the token (HTTP %d%s); fix it with `agent-trace-hook init --token`",
			ErrStopped, d.url, code, prefixed(detail))
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed || code == http.StatusProxyAuthRequired:
		// A wrong URL, not a bad event: dead-lettering everything would lose it all.
		return fmt.Errorf("%w: %s answered HTTP %d%s; check the collector URL", ErrStopped, d.url, code, prefixed(detail))
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		ra, _ := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return &retryableError{status: code, detail: detail, retryAfter: ra}
	case code >= 400:
		return &rejectedError{status: code, detail: detail}
	default:
		return &retryableError{status: code, detail: detail}
	}
}

func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// problemDetail extracts a one-line reason from an RFC 9457 problem body (or any body).
func problemDetail(r io.Reader) string {
	data, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Message  string `json:"message"`
			Location string `json:"location"`
		} `json:"errors"`
	}
	if json.Unmarshal(data, &p) == nil && (p.Title != "" || p.Detail != "") {
		parts := []string{}
		if p.Detail != "" {
			parts = append(parts, p.Detail)
		} else {
			parts = append(parts, p.Title)
		}
		for _, e := range p.Errors {
			parts = append(parts, strings.TrimSpace(e.Location+" "+e.Message))
		}
		return truncate(strings.Join(parts, "; "), 300)
	}
	return truncate(strings.Join(strings.Fields(string(data)), " "), 300)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func newClient(o Options) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	if o.HTTPClient != nil {
		c.HTTPClient = o.HTTPClient
	} else {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	c.Logger = nil
	c.RetryMax = o.RetryMax
	c.RetryWaitMin = o.RetryWaitMin
	c.RetryWaitMax = o.RetryWaitMax
	c.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if resp != nil {
			// A Retry-After longer than we wait in-process ends this attempt; the time
			// is recorded so no background deliverer knocks again before it.
			if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && d > o.RetryWaitMax {
				return false, nil
			}
		}
		return checkRetry(ctx, resp, err)
	}
	c.Backoff = backoff
	// Hand back the last response instead of an opaque "giving up" error, so the
	// status decides what happens to the batch.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c
}

func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return true, nil // network errors are worth another try
	}
	switch code := resp.StatusCode; {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
		return true, nil
	case code >= 500 && code != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// backoff honours Retry-After (seconds or an HTTP date, capped at max) and otherwise
// waits exponentially with full jitter, so many hooks recovering at once do not stampede.
func backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return clamp(d, 0, max)
		}
	}
	return backoffDelay(min, max, attempt+1)
}

func backoffDelay(min, max time.Duration, attempt int) time.Duration {
	ceil := min
	for i := 1; i < attempt && ceil < max; i++ {
		ceil *= 2
	}
	ceil = clamp(ceil, min, max)
	// Full jitter, but never less than half the step, so retries do not come back-to-back.
	return ceil/2 + time.Duration(rand.Int64N(int64(ceil/2)+1))
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return max(lo, min(d, hi))
}

func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// wireBytes is an item as it is sent: its stored bytes, or at tier 1 the event with its
// paths reduced.
func wireBytes(it spool.Item) []byte {
	e := it.Event
	if e.ID == "" || !privacy.ForWire(&e) {
		return it.Raw
	}
	raw, err := json.Marshal(&e)
	if err != nil {
		return it.Raw
	}
	return raw
}
