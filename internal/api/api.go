// Package api is agent-trace-server's HTTP edge: the collector that hooks deliver event
// batches to, and the huma-generated REST API (OpenAPI 3.1 at /openapi.json, docs at
// /docs) that the dashboard, scripts and other clients read sessions, git outcomes and
// cost analytics from. It applies internal/auth's rules to requests, enforces request
// limits, maps store errors to RFC 9457 problems, exposes Prometheus metrics and serves
// the live change feed, which internal/live's Publisher computes; domain work happens
// in those packages and in the store, not here.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/live"
)

// DefaultMaxBodyBytes bounds a POST /v1/hooks body: a full batch of large tier-3 events
// fits comfortably, a runaway client does not.
const DefaultMaxBodyBytes = 8 << 20

// Options configure an API. The zero value is the local default: no auth unless a token
// exists.
type Options struct {
	// Auth forces token authentication on. Without it, auth is on as soon as the store
	// holds one live token.
	Auth bool
	// MaxBodyBytes bounds an ingest request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Version is reported in the OpenAPI document.
	Version string
	// Logger receives store failures; nil discards them.
	Logger *slog.Logger
	// BodyReadTimeout bounds reading an ingest body from when the handler starts (huma
	// replaces the server's read deadline with it); 0 means DefaultBodyReadTimeout.
	BodyReadTimeout time.Duration
	// DashboardPort, when set, is where the root pages point people for the dashboard
	// (on the host they asked).
	DashboardPort int
	// Bus, when set, carries the live changes this API computes to every server sharing
	// the store (and theirs to this one's hub); nil publishes to the hub alone.
	Bus live.Bus
}

// DefaultBodyReadTimeout bounds reading an ingest body: a full batch over a slow link
// fits well within it, and a client that trickles one byte at a time is cut off.
const DefaultBodyReadTimeout = time.Minute

// API serves the collector and the REST API over one store and one live hub.
type API struct {
	store   agenttrace.Store
	hub     *live.Hub
	opts    Options
	log     *slog.Logger
	metrics *metrics
	auth    *auth.Verifier
	logins  *auth.Sessions // dashboard sessions, which the cookie names
	audit   *audit.Recorder
	pub     *live.Publisher

	api       huma.API
	collector huma.API
	apiMux    *http.ServeMux
	colMux    *http.ServeMux

	stop     context.CancelFunc
	bg       sync.WaitGroup
	closeErr sync.Once

	docsOnce sync.Once
	docsHTML []byte
	docsErr  error
}

// New builds the API and starts the live change publisher. Call Close to stop it.
func New(store agenttrace.Store, hub *live.Hub, opts Options) *API {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.BodyReadTimeout <= 0 {
		opts.BodyReadTimeout = DefaultBodyReadTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if hub == nil {
		hub = live.New()
	}
	a := &API{
		store:   store,
		hub:     hub,
		opts:    opts,
		log:     logger,
		metrics: newMetrics(hub),
		auth:    auth.NewVerifier(store, opts.Auth),
		logins:  auth.NewSessions(store),
		audit:   audit.New(store, logger),
		pub:     live.NewPublisher(store, hub, logger, live.WithBus(opts.Bus)),
		apiMux:  http.NewServeMux(),
		colMux:  http.NewServeMux(),
	}

	cfg := huma.DefaultConfig("agent-trace API", opts.Version)
	// No $schema fields or Link headers in responses: the field names are the contract.
	cfg.CreateHooks = nil
	cfg.Info.Description = apiDescription
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaNamer)
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		securityScheme: {
			Type:         "http",
			Scheme:       "bearer",
			BearerFormat: "at_<random>",
			Description:  "An API token created with `agent-trace-server token create`. Required only when auth is on.",
		},
	}
	cfg.DocsPath = "" // served by registerDocs, without a CDN
	a.api = humago.New(a.apiMux, cfg)
	a.api.UseMiddleware(a.authMiddleware(a.api))

	colCfg := huma.DefaultConfig("agent-trace collector", opts.Version)
	colCfg.CreateHooks = nil
	colCfg.OpenAPIPath = ""
	colCfg.DocsPath = ""
	colCfg.SchemasPath = ""
	a.collector = humago.New(a.colMux, colCfg)
	a.collector.UseMiddleware(a.authMiddleware(a.collector))

	for _, h := range []huma.API{a.api, a.collector} {
		a.registerIngest(h)
		a.registerHealth(h)
	}
	a.registerSessions(a.api)
	a.registerGit(a.api)
	a.registerAnalytics(a.api)
	a.registerExport(a.api)
	a.registerBreakdown(a.api)
	a.registerTools(a.api)
	a.registerBudgets(a.api)
	a.registerStream(a.api)
	a.registerAudit(a.api)
	a.registerDocs()
	a.apiMux.HandleFunc("GET /{$}", a.root("agent-trace API", map[string]string{
		"docs": "/docs", "openapi": "/openapi.json", "sessions": "/v1/sessions"}))
	a.colMux.HandleFunc("GET /{$}", a.root("agent-trace collector", map[string]string{
		"ingest": "POST /v1/hooks", "health": "/healthz"}))
	a.apiMux.Handle("GET /metrics", a.requireScope(agenttrace.ScopeRead, a.metrics.handler()))

	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	a.bg.Go(func() { a.pub.Run(ctx) })
	a.bg.Go(func() { a.audit.Run(ctx) })
	return a
}

// Handler serves the whole API: ingest, reads, analytics, the stream, health, metrics,
// /openapi.json and /docs.
func (a *API) Handler() http.Handler { return secureHeaders(a.apiMux) }

// CollectorHandler serves only what hooks need: POST /v1/hooks and GET /healthz.
func (a *API) CollectorHandler() http.Handler { return secureHeaders(a.colMux) }

// Huma is the API's huma instance (for humatest and for the OpenAPI document).
func (a *API) Huma() huma.API { return a.api }

// Hub is the live hub the API publishes to.
func (a *API) Hub() *live.Hub { return a.hub }

// Close stops the publisher, after publishing changes still pending. It does not
// close the store or the hub.
func (a *API) Close() error {
	a.closeErr.Do(func() {
		a.stop()
		a.bg.Wait()
	})
	return nil
}

// Audit is the API's audit recorder, which the dashboard and the retention worker share
// so refused requests are counted together.
func (a *API) Audit() *audit.Recorder { return a.audit }

// Publish tells the live change feed of a batch another receiver (OTLP) stored.
func (a *API) Publish(res agenttrace.IngestResult, events []event.Event) {
	a.metrics.events.Add(float64(res.Stored))
	a.metrics.duplicates.Add(float64(res.Duplicates))
	a.pub.Notify(res, events)
}

// Flush waits until every change already ingested has been published to the hub.
func (a *API) Flush(ctx context.Context) error { return a.pub.Flush(ctx) }

// storeError maps a store failure to the one problem each condition gets at the edge:
// not found → 404, invalid → 422, anything else → 503 (retryable: the store may be
// briefly unavailable, and the request did nothing).
func (a *API) storeError(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, agenttrace.ErrNotFound):
		return huma.Error404NotFound(err.Error())
	case errors.Is(err, agenttrace.ErrInvalid):
		return huma.Error422UnprocessableEntity(err.Error())
	case clientGone(ctx, err):
		// Nothing was stored (the transaction rolled back) and no one reads the answer.
		a.log.Info("request abandoned: the client went away", "op", op)
		return huma.Error503ServiceUnavailable("the request was canceled")
	}
	a.metrics.storeErrors.WithLabelValues(op).Inc()
	a.log.Error("store failed", "op", op, "err", err)
	return huma.ErrorWithHeaders(
		huma.Error503ServiceUnavailable("storage is unavailable; retry later"),
		http.Header{"Retry-After": {retryAfter}},
	)
}

// schemaNamer prefixes the wire envelope's types ("EventUsage") so they do not collide
// with the domain types of the same name (agenttrace.Usage, agenttrace.Commit).
func schemaNamer(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == eventPkg && !strings.HasPrefix(name, "Event") {
		return "Event" + name
	}
	return name
}

var eventPkg = reflect.TypeFor[event.Event]().PkgPath()

const apiDescription = `Self-hosted observability for Claude Code.

Hooks deliver event batches to POST /v1/hooks; everything else reads the sessions, prompts,
tool calls, commits, pull requests and costs projected from them. Errors are RFC 9457
problem documents. GET /v1/stream is a Server-Sent Events feed of changes.`

// root answers GET / on a listener with what it serves, instead of a bare 404 for the
// person who opened the port in a browser: where the docs are, and the dashboard.
func (a *API) root(service string, links map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{"service": service, "version": a.opts.Version}
		for k, v := range links {
			body[k] = v
		}
		if a.opts.DashboardPort > 0 {
			host := r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				host = h
			}
			body["dashboard"] = "http://" + net.JoinHostPort(host, strconv.Itoa(a.opts.DashboardPort)) + "/"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_ = json.NewEncoder(w).Encode(body)
	}
}

// secureHeaders sets on every response what keeps browsers and caches from misusing it:
// no content sniffing (an output stored by a tool is never run as HTML or script), and
// no storing of anything under /v1, /metrics or /mcp, which carry prompts, outputs and counts.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/metrics" || r.URL.Path == "/mcp" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// clientGone reports whether err is the request's own cancellation: the client
// disconnected or gave up, which says nothing about the store.
func clientGone(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
