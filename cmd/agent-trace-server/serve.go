package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/api"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/connlimit"
	"github.com/agent-trace/agent-trace/internal/live"
	"github.com/agent-trace/agent-trace/internal/mcp"
	"github.com/agent-trace/agent-trace/internal/otlp"
	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/web"
	"github.com/agent-trace/agent-trace/internal/worker"
)

// DefaultMemoryLimit is the serve command's --memory-limit: at a million events the
// server then holds about 310 MiB instead of 800; one-event and small-batch ingest stay
// within about 10 % of the unbounded rate, batches of 500 are 12-30 % slower (make
// bench-scale).
const DefaultMemoryLimit = "256MiB"

// Main is one server process: the configuration, then the bound addresses once Run has
// started listening. Tests run it in-process on port 0 with a temporary database.
type Main struct {
	Bind          string // address all three listeners bind; default 127.0.0.1
	CollectorPort int
	APIPort       int
	DashboardPort int
	NoDashboard   bool // serve no dashboard listener
	DBPath        string
	PriceFile     string
	Postgres      string // team store: PostgreSQL connection string (replaces DBPath)
	ClickHouse    string // team store: ClickHouse URL, beside Postgres
	// ClickHouseCluster names the ClickHouse cluster the tables live on; empty for one server.
	ClickHouseCluster string
	RetentionDays     int
	// AuditRetentionDays is how many days audit entries are kept: 0 means the default
	// (worker.DefaultAuditRetention, 400 days), a negative value keeps them for ever.
	AuditRetentionDays int
	// BudgetInterval is how often budgets and spin rules are checked
	// (worker.DefaultBudgetInterval when 0); DashboardURL is the dashboard's address as
	// alert receivers should link it, none when empty.
	BudgetInterval time.Duration
	DashboardURL   string
	Auth           bool
	// OTLPPort is the OTLP receiver's port (gRPC and OTLP/HTTP on one listener); 0
	// serves no OTLP listener (the collector port still takes OTLP/HTTP), a negative
	// value binds any free port (tests).
	OTLPPort int
	// PrivacyTier is the tier applied to telemetry received over OTLP (1–3; 0 means 2).
	PrivacyTier int
	Insecure    bool // allow a non-loopback bind without auth
	// TrustedProxies are CIDRs or addresses of reverse proxies whose X-Forwarded-Proto
	// the dashboard believes when it marks the session cookie Secure.
	TrustedProxies []string
	Version        string

	// ShutdownTimeout bounds the wait for in-flight requests on shutdown; default 15 s.
	ShutdownTimeout time.Duration
	// IdleAfter is how long an active session may go without an event before it reads
	// as idle; agenttrace.DefaultIdleAfter when 0.
	IdleAfter time.Duration
	// ReadTimeout bounds reading one request, headers and body; default DefaultReadTimeout.
	ReadTimeout time.Duration
	// MaxConns bounds each listener's open connections (0: DefaultMaxConns), and
	// MaxConnsPerClient those of one client address (0: no bound; the serve command's
	// flag defaults to DefaultMaxConnsPerClient).
	MaxConns, MaxConnsPerClient int
	// MemoryLimit is the memory the server aims to stay within, in bytes (0: unbounded):
	// it sizes the SQLite store's caches (sqlite.WithMemory), and the Go heap's soft
	// limit (GOMEMLIMIT) is two thirds of it, the third left being SQLite's page caches.
	MemoryLimit int64

	Stdout io.Writer // one line per listener
	Logger *slog.Logger

	once  sync.Once
	ready chan struct{}
	mu    sync.Mutex
	addrs map[string]string
}

// Ready is closed once every listener is bound (or Run failed before that).
func (m *Main) Ready() <-chan struct{} {
	m.once.Do(func() { m.ready = make(chan struct{}) })
	return m.ready
}

// Addr returns the bound address ("127.0.0.1:8317") of the "collector", "api" or
// "dashboard" listener, or "" before it is bound.
func (m *Main) Addr(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addrs[name]
}

// URL is Addr as an http:// URL.
func (m *Main) URL(name string) string {
	if a := m.Addr(name); a != "" {
		return "http://" + a
	}
	return ""
}

// listener is one of the three HTTP servers.
type listener struct {
	name, what string
	port       int
	handler    http.Handler
	ln         net.Listener
	srv        *http.Server
}

// Run opens the store, binds the listeners and serves until ctx ends, then shuts down
// gracefully: stop accepting, end live streams, wait for in-flight requests (so every
// acknowledged batch is committed), stop the background workers, publish pending
// changes, close the store.
func (m *Main) Run(ctx context.Context) (err error) {
	m.Ready()
	ready := m.ready
	readyClosed := false
	defer func() {
		if !readyClosed {
			close(ready)
		}
	}()
	logger, stdout, bind := m.defaults()
	if m.PrivacyTier != 0 && (m.PrivacyTier < 1 || m.PrivacyTier > 3) {
		return fmt.Errorf("privacy tier %d: must be 1, 2 or 3", m.PrivacyTier)
	}
	proxies, err := parsePrefixes(m.TrustedProxies)
	if err != nil {
		return fmt.Errorf("trusted proxies: %w", err)
	}

	if m.MemoryLimit < 0 {
		return fmt.Errorf("memory limit: AGENT_TRACE_MEMORY_LIMIT is not a size such as 150MiB or 2GiB")
	}
	if m.MemoryLimit > 0 {
		debug.SetMemoryLimit(m.MemoryLimit * 2 / 3)
	}
	store, err := openStore(ctx, storeConfig{DB: m.DBPath, PriceFile: m.PriceFile, Postgres: m.Postgres,
		ClickHouse: m.ClickHouse, ClickHouseCluster: m.ClickHouseCluster, RetentionDays: m.RetentionDays, IdleAfter: m.IdleAfter, Logger: logger,
		MemoryLimit: m.MemoryLimit}, false)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()

	hub := live.New()
	bus, stopBus, err := startLiveBus(ctx, store, hub, logger)
	if err != nil {
		return err
	}
	defer stopBus() // after the API's publisher has published what is pending
	a := api.New(store, hub, api.Options{Auth: m.Auth, Version: m.Version, Logger: logger, DashboardPort: m.DashboardPort,
		BodyReadTimeout: m.readTimeout(), Bus: bus})
	defer a.Close()
	a.Mount("/mcp", agenttrace.ScopeRead, mcp.HTTPHandler(store, mcp.Options{Version: m.Version, Logger: logger}))

	authOn, err := m.checkExposure(ctx, a, bind)
	if err != nil {
		return err
	}
	rcv := otlp.New(otlp.Options{Store: store, Tier: m.PrivacyTier, Authorize: a.AuthorizeHeader,
		Denied: a.DeniedOTLP, Notify: a.Publish, Sources: store, Logger: logger})
	lns, err := m.listen(bind, a, rcv, logger)
	if err != nil {
		return err
	}
	if err := m.mountDashboard(lns, store, hub, a, proxies, logger); err != nil {
		return err
	}
	m.announce(lns, authOn, stdout, logger)

	errc := serveAll(lns)
	stopWorkers := worker.Start(ctx, m.workers(store, a, logger)...)
	defer stopWorkers() // before the store closes: deferred calls run last first
	close(ready)
	readyClosed = true

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	return errors.Join(serveErr, m.shutdown(hub, lns))
}

// liveBusStore is a store several servers share (PostgreSQL): their live changes go
// through it, so each server's streams carry every server's changes.
type liveBusStore interface {
	OpenLiveBus(ctx context.Context, hub *live.Hub, opts postgres.LiveOptions) (*postgres.LiveBus, error)
}

// workers are the background jobs serve runs beside the listeners.
func (m *Main) workers(store agenttrace.Store, a *api.API, logger *slog.Logger) []worker.Worker {
	dashboard := m.DashboardURL
	if dashboard == "" {
		dashboard = m.URL("dashboard") // the bound address: right on this machine at least
	}
	workers := []worker.Worker{
		worker.NewRetention(store, m.RetentionDays,
			worker.WithLogger(logger), worker.WithAudit(a.Audit()), worker.WithAuditRetention(m.auditRetention()),
			worker.WithOnError(func(error) { a.RecordStoreError("retention") })),
		// Every replica runs one: the store's alert claim lets one of them fire each alert.
		worker.NewBudgets(store, worker.BudgetsConfig{Interval: m.BudgetInterval, DashboardURL: dashboard,
			Logger: logger, OnError: func(error) { a.RecordStoreError("budgets") }}),
	}
	if t, ok := store.(*teamStore); ok {
		// Every replica runs one; the one holding the lock ships, the others stand by.
		workers = append(workers, t.Shipper(logger, worker.WithShipperOnError(func(error) { a.RecordStoreError("clickhouse shipper") })))
	}
	return workers
}

// startLiveBus starts the store's live bus, if it has one, feeding hub; stop ends it.
// A SQLite server has none: its publisher publishes to its own hub.
func startLiveBus(ctx context.Context, store agenttrace.Store, hub *live.Hub, logger *slog.Logger) (bus live.Bus, stop func(), err error) {
	s, ok := store.(liveBusStore)
	if !ok {
		return nil, func() {}, nil
	}
	b, err := s.OpenLiveBus(ctx, hub, postgres.LiveOptions{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { b.Run(bctx); close(done) }()
	return b, func() { cancel(); <-done }, nil
}

// defaults fills in what the configuration left empty: a discarding logger and output,
// and the loopback bind.
func (m *Main) defaults() (logger *slog.Logger, stdout io.Writer, bind string) {
	logger = m.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	stdout = m.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	bind = m.Bind
	if bind == "" {
		bind = "127.0.0.1"
	}
	return logger, stdout, bind
}

// checkExposure reports whether auth is on, and refuses to serve beyond this machine
// without it unless the user said the network is trusted.
func (m *Main) checkExposure(ctx context.Context, a *api.API, bind string) (authOn bool, err error) {
	authOn, err = a.AuthEnabled(ctx)
	if err != nil {
		return false, fmt.Errorf("check tokens: %w", err)
	}
	if !isLoopback(bind) && !authOn && !m.Insecure {
		return false, fmt.Errorf("refusing to listen on %s without authentication: create a token (agent-trace-server token create), pass --auth, or pass --insecure if the network is trusted", bind)
	}
	return authOn, nil
}

// listen binds the collector, API and (unless disabled) dashboard listeners; the
// dashboard's handler is mounted later. On failure nothing stays bound.
func (m *Main) listen(bind string, a *api.API, rcv *otlp.Receiver, logger *slog.Logger) ([]*listener, error) {
	// The collector port also takes OTLP/HTTP and answers /v1/otlp/status, so one URL
	// serves hooks and telemetry alike.
	col := http.NewServeMux()
	rcv.Register(col)
	col.Handle("/", a.CollectorHandler())
	lns := []*listener{
		{name: "collector", what: "POST /v1/hooks, OTLP/HTTP", port: m.CollectorPort, handler: col},
		{name: "api", what: "/v1, /openapi.json, /docs, /mcp", port: m.APIPort, handler: a.Handler()},
	}
	if !m.NoDashboard {
		lns = append(lns, &listener{name: "dashboard", what: "sessions", port: m.DashboardPort})
	}
	if m.OTLPPort != 0 {
		lns = append(lns, &listener{name: "otlp", what: "OTLP gRPC and HTTP", port: max(m.OTLPPort, 0),
			handler: rcv.Handler(rcv.GRPCServer())})
	}
	for _, l := range lns {
		if l.handler != nil { // the dashboard's comes later and reads r.RemoteAddr itself
			l.handler = audit.Remotes(l.handler) // the peer, for the audit of refused requests
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(l.port)))
		if err != nil {
			closeListeners(lns)
			return nil, fmt.Errorf("listen for %s: %w", l.name, err)
		}
		l.ln = connlimit.New(ln, m.maxConns(), m.maxConnsPerClient())
		l.srv = &http.Server{
			Handler:           l.handler,
			ReadHeaderTimeout: 10 * time.Second,
			// The whole request, body included: a client that trickles a body byte by
			// byte would otherwise hold its connection (and a descriptor) forever.
			ReadTimeout: m.readTimeout(),
			IdleTimeout: 2 * time.Minute,
			ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		if l.name == "otlp" {
			// Claude Code's gRPC exporter speaks cleartext HTTP/2 with prior knowledge.
			l.srv.Protocols = new(http.Protocols)
			l.srv.Protocols.SetHTTP1(true)
			l.srv.Protocols.SetUnencryptedHTTP2(true)
		}
	}
	return lns, nil
}

// auditRetention is how long audit entries are kept; 0 keeps them for ever.
func (m *Main) auditRetention() time.Duration {
	switch {
	case m.AuditRetentionDays == 0:
		return worker.DefaultAuditRetention
	case m.AuditRetentionDays < 0:
		return 0
	}
	return time.Duration(m.AuditRetentionDays) * 24 * time.Hour
}

// Connection bounds per listener: far above what a team's hooks and dashboards hold, far
// below the file descriptors a process may open.
const (
	DefaultMaxConns          = 1024
	DefaultMaxConnsPerClient = 128
)

func (m *Main) maxConns() int {
	if m.MaxConns > 0 {
		return m.MaxConns
	}
	return DefaultMaxConns
}

func (m *Main) maxConnsPerClient() int { return max(m.MaxConnsPerClient, 0) }

// DefaultReadTimeout bounds reading one request, headers and body: a full ingest batch
// over a slow link fits well within it.
const DefaultReadTimeout = time.Minute

func (m *Main) readTimeout() time.Duration {
	if m.ReadTimeout > 0 {
		return m.ReadTimeout
	}
	return DefaultReadTimeout
}

// closeListeners closes every listener bound so far.
func closeListeners(lns []*listener) {
	for _, l := range lns {
		if l.ln != nil {
			l.ln.Close()
		}
	}
}

// mountDashboard builds the dashboard once the listeners are bound, so its setup hints
// show the collector's real address. It guards pages with the API's read scope.
func (m *Main) mountDashboard(lns []*listener, store agenttrace.Store, hub *live.Hub, a *api.API,
	proxies []netip.Prefix, logger *slog.Logger) error {
	if m.NoDashboard {
		return nil
	}
	dash, err := web.New(web.Options{
		Store:          store,
		Live:           hub,
		Authenticate:   a.ReadContext,
		VerifySecret:   a.VerifySecret,
		Sessions:       a.Sessions(),
		Audit:          a.Audit(),
		CookieName:     auth.CookieName,
		TrustedProxies: proxies,
		CollectorURL:   "http://" + lns[0].ln.Addr().String(),
		Logger:         logger,
	})
	if err != nil {
		closeListeners(lns)
		return fmt.Errorf("build dashboard: %w", err)
	}
	lns[2].srv.Handler = dash
	return nil
}

// announce records the bound addresses for Addr and prints one line per listener.
func (m *Main) announce(lns []*listener, authOn bool, stdout io.Writer, logger *slog.Logger) {
	m.mu.Lock()
	m.addrs = map[string]string{}
	for _, l := range lns {
		m.addrs[l.name] = l.ln.Addr().String()
	}
	m.mu.Unlock()
	if !authOn && exposed(lns) {
		// On loopback alone, no token is the solo default and nothing to warn about.
		logger.Warn("auth is off: anyone who can reach these addresses can read and write; create a token to turn it on")
	}
	for _, l := range lns {
		fmt.Fprintf(stdout, "%-9s http://%s  (%s)\n", l.name, l.ln.Addr(), l.what)
	}
}

// serveAll serves every listener in the background; the channel carries the first
// failures other than a shutdown.
func serveAll(lns []*listener) <-chan error {
	errc := make(chan error, len(lns))
	for _, l := range lns {
		go func() {
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", l.name, err)
			}
		}()
	}
	return errc
}

// shutdown ends the live streams and shuts every listener down, waiting up to
// ShutdownTimeout for in-flight requests.
func (m *Main) shutdown(hub *live.Hub, lns []*listener) error {
	// SSE responses never end by themselves; end them so Shutdown is not held up.
	hub.Close()
	timeout := m.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	shutdownErrs := make([]error, len(lns))
	for i, l := range lns {
		wg.Go(func() {
			if err := l.srv.Shutdown(sctx); err != nil {
				shutdownErrs[i] = fmt.Errorf("shut down %s: %w", l.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(shutdownErrs...)
}

// parsePrefixes reads CIDRs ("10.0.0.0/8") and single addresses ("10.0.0.1", a /32 or
// /128).
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range list {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an address", v)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// isLoopback reports whether host only accepts connections from this machine.
// exposed reports whether any listener is reachable from beyond this machine.
func exposed(lns []*listener) bool {
	for _, l := range lns {
		if a, ok := l.ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
