// Package clickhouse is the analytics half of the team store: the immutable event log and
// the priced usage facts, in ClickHouse (clickhouse-go/v2, native protocol). It is an
// agenttrace.AnalyticsBackend: the store of record (PostgreSQL) stays the source of truth
// for projections and hands it derived rows; this package answers daily cost and summary
// cost over any number of events. It knows no other adapter: cmd/agent-trace-server
// composes the two.
//
// The SQL runs on ClickHouse 18.16 (what Debian packages) as well as current releases: no
// DateTime64, LowCardinality, Map or table TTL; Int64 milliseconds and String only.
// Writes are batched: rows wait in a buffer flushed when it holds FlushRows rows, at most
// FlushInterval after the first row arrived, on Flush and on Close.
package clickhouse

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Defaults for Options.
const (
	DefaultFlushRows     = 5000
	DefaultFlushInterval = time.Second
)

// Options configures a Store.
type Options struct {
	FlushRows     int           // rows that trigger a flush; DefaultFlushRows when 0
	FlushInterval time.Duration // longest a row waits in the buffer; DefaultFlushInterval when 0
	// RetentionDays, when positive, makes Migrate set a table TTL on the event log and the
	// usage facts, so ClickHouse drops old rows itself while merging. ClickHouse before
	// 19.6 (18.16 included) has no table TTL: there retention relies on the mutations
	// EraseSessions issues for every session the server's retention erases.
	RetentionDays int
	// OnFlushError receives errors of background flushes (the rows stay buffered and are
	// retried on the next flush). Nil drops them.
	OnFlushError func(error)
}

// The rows this store receives are the domain's (agenttrace.UsageLog); the short names
// read naturally in this package and its tests.
type (
	EventRow    = agenttrace.EventRecord
	UsageRow    = agenttrace.UsageRecord
	UsageChange = agenttrace.UsageChange
)

// dailyRow is a signed difference for the usage_daily rollup.
type dailyRow struct {
	sign int64
	r    *UsageRow
}

// Store is a ClickHouse database holding the event log and usage facts: the
// agenttrace.AnalyticsBackend of the team store. Safe for concurrent use.
type Store struct {
	conn driver.Conn
	db   string
	opts Options

	mu      sync.Mutex
	events  []EventRow
	usage   []UsageRow
	daily   []dailyRow
	timer   *time.Timer
	flushMu sync.Mutex // one flush at a time, so rows are sent in buffer order
	closed  bool
}

var _ agenttrace.AnalyticsBackend = (*Store)(nil)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects to the ClickHouse server at rawURL (clickhouse://[user[:password]@]host:port/database,
// native protocol). The database need not exist yet: Migrate creates it.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: parse url: %w", err)
	}
	if u.Scheme != "clickhouse" && u.Scheme != "tcp" {
		return nil, fmt.Errorf("open clickhouse: url scheme %q: want clickhouse:// (native protocol)", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("open clickhouse: url %q has no host", rawURL)
	}
	db := strings.Trim(u.Path, "/")
	if db == "" {
		db = "default"
	}
	if !identRE.MatchString(db) {
		return nil, fmt.Errorf("open clickhouse: database name %q: letters, digits and _ only", db)
	}
	auth := ch.Auth{Database: "default", Username: "default"}
	if u.User != nil {
		auth.Username = u.User.Username()
		auth.Password, _ = u.User.Password()
	}
	if v := u.Query().Get("username"); v != "" {
		auth.Username = v
	}
	if v := u.Query().Get("password"); v != "" {
		auth.Password = v
	}
	if opts.FlushRows <= 0 {
		opts.FlushRows = DefaultFlushRows
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	// Every statement names db explicitly, so the session database is always "default":
	// the handshake fails for a database that Migrate has not created yet.
	conn, err := ch.Open(&ch.Options{
		Addr:             []string{u.Host},
		Protocol:         ch.Native,
		Auth:             auth,
		DialTimeout:      5 * time.Second,
		ReadTimeout:      60 * time.Second,
		Compression:      &ch.Compression{Method: ch.CompressionLZ4},
		MaxOpenConns:     8,
		MaxIdleConns:     4,
		ConnMaxLifetime:  time.Hour,
		ConnOpenStrategy: ch.ConnOpenInOrder,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", u.Host, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open clickhouse %s: %w", u.Host, err)
	}
	return &Store{conn: conn, db: db, opts: opts}, nil
}

// Database is the database the store's tables live in.
func (s *Store) Database() string { return s.db }

// Conn is the underlying connection (benchmarks load data with it).
func (s *Store) Conn() driver.Conn { return s.conn }

func (s *Store) table(name string) string { return "`" + s.db + "`." + name }

// Migrations lists the embedded migration names in the order they apply.
func Migrations() []string { return sqlstore.Migrations(migrationFS) }

// statements splits a migration file into its statements, dropping comment lines.
func statements(body, db string) []string {
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			continue
		}
		lines = append(lines, l)
	}
	var out []string
	for _, st := range strings.Split(strings.Join(lines, "\n"), ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, strings.ReplaceAll(st, "{db}", "`"+db+"`"))
		}
	}
	return out
}

// Migrate creates the database and applies every migration not yet recorded. Every
// statement is idempotent (IF NOT EXISTS), so a migration interrupted half-way, or run by
// two servers at once, is simply applied again.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+s.db+"`"); err != nil {
		return fmt.Errorf("migrate clickhouse: create database %s: %w", s.db, err)
	}
	if err := s.conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table("schema_migrations")+
		` (name String, applied_ms Int64) ENGINE = ReplacingMergeTree ORDER BY name`); err != nil {
		return fmt.Errorf("migrate clickhouse: create schema_migrations: %w", err)
	}
	applied, err := s.applied(ctx)
	if err != nil {
		return fmt.Errorf("migrate clickhouse: %w", err)
	}
	for _, name := range Migrations() {
		if applied[name] {
			continue
		}
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return fmt.Errorf("migrate clickhouse %s: %w", name, err)
		}
		for _, st := range statements(string(body), s.db) {
			if err := s.conn.Exec(ctx, st); err != nil {
				return fmt.Errorf("migrate clickhouse %s: %w", name, err)
			}
		}
		// A batch, not Exec with arguments: 18.16 never answers the latter's INSERT.
		b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.table("schema_migrations")+` (name, applied_ms)`)
		if err != nil {
			return fmt.Errorf("migrate clickhouse %s: record: %w", name, err)
		}
		if err := b.Append(name, time.Now().UnixMilli()); err != nil {
			b.Abort()
			return fmt.Errorf("migrate clickhouse %s: record: %w", name, err)
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("migrate clickhouse %s: record: %w", name, err)
		}
	}
	if s.opts.RetentionDays > 0 {
		if err := s.applyTTL(ctx); err != nil {
			return err
		}
	}
	return nil
}

// applyTTL sets the retention TTL where the server supports table TTLs (19.6 and later).
// The usage rollup keeps no TTL: its rows are per day and tiny, and erased sessions net to
// zero there.
func (s *Store) applyTTL(ctx context.Context) error {
	var major, minor uint64
	if err := s.conn.QueryRow(ctx, `SELECT toUInt64(splitByChar('.', version())[1]), toUInt64(splitByChar('.', version())[2])`).
		Scan(&major, &minor); err != nil {
		return fmt.Errorf("migrate clickhouse: server version: %w", err)
	}
	if major < 19 || (major == 19 && minor < 6) {
		return nil
	}
	for _, t := range []string{"events", "usage_facts"} {
		q := fmt.Sprintf("ALTER TABLE %s MODIFY TTL toDateTime(intDiv(time_ms, 1000)) + toIntervalDay(%d)",
			s.table(t), s.opts.RetentionDays)
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("migrate clickhouse: retention TTL on %s: %w", t, err)
		}
	}
	return nil
}

// CheckSchema returns an error wrapping agenttrace.ErrSchemaOutdated when migrations are missing.
func (s *Store) CheckSchema(ctx context.Context) error {
	var n uint64
	if err := s.conn.QueryRow(ctx, `SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'`,
		s.db).Scan(&n); err != nil {
		return fmt.Errorf("check clickhouse schema: %w", err)
	}
	applied := map[string]bool{}
	if n > 0 {
		var err error
		if applied, err = s.applied(ctx); err != nil {
			return fmt.Errorf("check clickhouse schema: %w", err)
		}
	}
	return sqlstore.CheckApplied("clickhouse database "+s.db, Migrations(), applied)
}

func (s *Store) applied(ctx context.Context) (map[string]bool, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT name FROM `+s.table("schema_migrations"))
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	return sqlstore.AppliedSet(rows)
}

// Add buffers rows for the next flush; it never blocks on ClickHouse. A full buffer is
// flushed in the background.
func (s *Store) Add(events []EventRow, changes []UsageChange) {
	if len(events) == 0 && len(changes) == 0 {
		return
	}
	s.mu.Lock()
	s.events = append(s.events, events...)
	for _, c := range changes {
		switch {
		case c.New != nil:
			r := *c.New
			r.Version, r.Deleted = c.Version, false
			s.usage = append(s.usage, r)
			s.daily = append(s.daily, dailyRow{1, &r})
		case c.Old != nil:
			r := *c.Old
			r.Version, r.Deleted = c.Version, true
			s.usage = append(s.usage, r)
		}
		if c.Old != nil {
			s.daily = append(s.daily, dailyRow{-1, c.Old})
		}
	}
	full := len(s.events)+len(s.usage) >= s.opts.FlushRows
	if !full && s.timer == nil && !s.closed {
		s.timer = time.AfterFunc(s.opts.FlushInterval, s.backgroundFlush)
	}
	s.mu.Unlock()
	if full {
		go s.backgroundFlush()
	}
}

func (s *Store) backgroundFlush() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil && s.opts.OnFlushError != nil {
		s.opts.OnFlushError(err)
	}
}

// Buffered is how many rows wait for a flush.
func (s *Store) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events) + len(s.usage) + len(s.daily)
}

// Flush sends every buffered row. Rows that fail to send go back to the front of the
// buffer, so a later flush retries them.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	events, usage, daily := s.events, s.usage, s.daily
	s.events, s.usage, s.daily = nil, nil, nil
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.mu.Unlock()
	sent, err := s.send(ctx, events, usage, daily)
	if err != nil {
		// Put back what did not go; a part already sent is not sent twice, as the
		// rollup's differences would then count twice.
		s.mu.Lock()
		if sent < 1 {
			s.events = append(events, s.events...)
		}
		if sent < 2 {
			s.usage = append(usage, s.usage...)
		}
		s.daily = append(daily, s.daily...)
		if s.timer == nil && !s.closed {
			s.timer = time.AfterFunc(s.opts.FlushInterval, s.backgroundFlush)
		}
		s.mu.Unlock()
	}
	return err
}

// send inserts the three kinds of rows, one batch each, and returns how many of the
// batches (in order: events, usage, daily) went in.
func (s *Store) send(ctx context.Context, events []EventRow, usage []UsageRow, daily []dailyRow) (int, error) {
	if len(events) > 0 {
		b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.table("events")+
			` (id, session_id, kind, time_ms, user, repo, model, body, version)`)
		if err != nil {
			return 0, fmt.Errorf("flush events: %w", err)
		}
		for _, e := range events {
			if err := b.Append(e.ID, e.SessionID, e.Kind, e.TimeMS, e.User, e.Repo, e.Model, string(e.Body), e.Version); err != nil {
				b.Abort()
				return 0, fmt.Errorf("flush events: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return 0, fmt.Errorf("flush events: %w", err)
		}
	}
	if len(usage) > 0 {
		b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.table("usage_facts")+` (event_id, session_id, time_ms,
			session_started_ms, model, user, repo, input_tokens, output_tokens, cache_creation_tokens,
			cache_creation_5m_tokens, cache_creation_1h_tokens, cache_read_tokens, web_search_requests, cost_usd, priced, deleted, version)`)
		if err != nil {
			return 1, fmt.Errorf("flush usage: %w", err)
		}
		for _, r := range usage {
			var cost float64
			var priced, deleted uint8
			if r.CostUSD != nil {
				cost, priced = *r.CostUSD, 1
			}
			if r.Deleted {
				deleted = 1
			}
			u := r.Usage
			if err := b.Append(r.EventID, r.SessionID, r.TimeMS, r.SessionStartedMS, r.Model, r.User, r.Repo,
				u.InputTokens, u.OutputTokens, u.CacheCreationInputTokens, u.CacheCreation5mTokens,
				u.CacheCreation1hTokens, u.CacheReadInputTokens, u.WebSearchRequests, cost, priced, deleted, r.Version); err != nil {
				b.Abort()
				return 1, fmt.Errorf("flush usage: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return 1, fmt.Errorf("flush usage: %w", err)
		}
	}
	if len(daily) > 0 {
		b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.table("usage_daily")+` (day, session_id, session_started_ms,
			model, user, repo, priced, n, input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens,
			cache_creation_1h_tokens, cache_read_tokens, web_search_requests, cost_usd)`)
		if err != nil {
			return 2, fmt.Errorf("flush daily usage: %w", err)
		}
		for _, d := range daily {
			r, k := d.r, d.sign
			var cost float64
			var priced uint8
			if r.CostUSD != nil {
				cost, priced = *r.CostUSD, 1
			}
			u := r.Usage
			if err := b.Append(r.TimeMS/86400000, r.SessionID, r.SessionStartedMS, r.Model, r.User, r.Repo, priced, k,
				k*u.InputTokens, k*u.OutputTokens, k*u.CacheCreationInputTokens, k*u.CacheCreation5mTokens,
				k*u.CacheCreation1hTokens, k*u.CacheReadInputTokens, k*u.WebSearchRequests, float64(k)*cost); err != nil {
				b.Abort()
				return 2, fmt.Errorf("flush daily usage: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return 2, fmt.Errorf("flush daily usage: %w", err)
		}
	}
	return 3, nil
}

// liveUsage is the query-time deduplicated usage: the latest version of every response,
// tombstones dropped. pre filters raw rows before deduplication (a cheap partition prune).
func (s *Store) liveUsage(pre string) string {
	return `SELECT event_id, argMax(session_id, version) AS session_id, argMax(time_ms, version) AS time_ms,
		argMax(session_started_ms, version) AS session_started_ms, argMax(model, version) AS model,
		argMax(user, version) AS user, argMax(repo, version) AS repo,
		argMax(input_tokens, version) AS input_tokens, argMax(output_tokens, version) AS output_tokens,
		argMax(cache_creation_tokens, version) AS cache_creation_tokens,
		argMax(cache_creation_5m_tokens, version) AS cache_creation_5m_tokens,
		argMax(cache_creation_1h_tokens, version) AS cache_creation_1h_tokens,
		argMax(cache_read_tokens, version) AS cache_read_tokens,
		argMax(web_search_requests, version) AS web_search_requests, argMax(cost_usd, version) AS cost_usd,
		argMax(priced, version) AS priced, argMax(deleted, version) AS deleted
		FROM (SELECT * FROM ` + s.table("usage_facts") + ` ` + pre + `) GROUP BY event_id`
}

const dayMS = 86400000

// DailyCost returns spend per UTC day in [from, to) per group key, days ascending. It
// sees every row this process buffered (it flushes first) and every row other processes
// flushed.
//
// Whole days come from the usage_daily rollup; a range edge inside a day is answered
// from usage_facts, deduplicated at query time, which only reads that day.
func (s *Store) DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]agenttrace.DailyCost, error) {
	col, err := sqlstore.GroupColumn(groupBy, "user")
	if err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	if err := s.Flush(ctx); err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	// [fromDay, toDay) are the whole days in the range, in day numbers.
	const inf = int64(1) << 40
	fromDay, toDay := -inf, inf
	var fromMS, toMS int64
	if !from.IsZero() {
		fromMS = from.UnixMilli()
		fromDay = ceilDiv(fromMS, dayMS)
	}
	if !to.IsZero() {
		toMS = to.UnixMilli()
		toDay = floorDiv(toMS, dayMS)
	}
	var out []agenttrace.DailyCost
	if !from.IsZero() && fromMS < fromDay*dayMS && (to.IsZero() || fromMS < toMS) {
		end := min(fromDay*dayMS, toMSOr(to, math.MaxInt64))
		rows, err := s.partialDay(ctx, col, fromMS, end)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	if fromDay < toDay {
		rows, err := s.dailyQuery(ctx, fmt.Sprintf(`SELECT day, %s AS key, sumIf(cost_usd, priced = 1), sum(input_tokens),
			sum(output_tokens), sum(cache_creation_tokens), sum(cache_creation_5m_tokens), sum(cache_creation_1h_tokens),
			sum(cache_read_tokens), sum(web_search_requests)
			FROM %s WHERE day >= ? AND day < ? GROUP BY day, key HAVING sum(n) != 0 ORDER BY day, key`,
			col, s.table("usage_daily")), fromDay, toDay)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	if !to.IsZero() && toMS > toDay*dayMS && toDay >= fromDay {
		rows, err := s.partialDay(ctx, col, toDay*dayMS, toMS)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	if out == nil {
		out = []agenttrace.DailyCost{}
	}
	return out, nil
}

func toMSOr(t time.Time, def int64) int64 {
	if t.IsZero() {
		return def
	}
	return t.UnixMilli()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// partialDay answers [fromMS, toMS), within one day, from the deduplicated usage rows.
func (s *Store) partialDay(ctx context.Context, col string, fromMS, toMS int64) ([]agenttrace.DailyCost, error) {
	// A response's versions can carry different times (a re-read, a moved session): the
	// responses with any version in range are deduplicated whole, then kept when their
	// latest version is in range.
	return s.dailyQuery(ctx, fmt.Sprintf(`SELECT intDiv(time_ms, %d) AS day, %s AS key, sumIf(cost_usd, priced = 1),
		sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens), sum(cache_creation_5m_tokens),
		sum(cache_creation_1h_tokens), sum(cache_read_tokens), sum(web_search_requests)
		FROM (%s) WHERE deleted = 0 AND time_ms >= ? AND time_ms < ? GROUP BY day, key ORDER BY day, key`,
		dayMS, col, s.liveUsage("WHERE event_id IN (SELECT event_id FROM "+s.table("usage_facts")+
			" WHERE time_ms >= ? AND time_ms < ?)")), fromMS, toMS, fromMS, toMS)
}

func (s *Store) dailyQuery(ctx context.Context, q string, args ...any) ([]agenttrace.DailyCost, error) {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	defer rows.Close()
	out, err := sqlstore.DailyCosts(rows, true)
	if err != nil {
		return nil, fmt.Errorf("daily cost: %w", err)
	}
	return out, nil
}

// Cost totals the priced cost of sessions that started in [from, to) and lists the models
// that could not be priced, from the usage_daily rollup.
func (s *Store) Cost(ctx context.Context, from, to time.Time) (float64, []string, error) {
	if err := s.Flush(ctx); err != nil {
		return 0, nil, fmt.Errorf("cost: %w", err)
	}
	where, args := sqlstore.RangeWhere("session_started_ms", from, to)
	var cost float64
	var unpriced []string
	// Unpriced models: those whose unpriced rows have not all been taken back.
	err := s.conn.QueryRow(ctx, `SELECT sum(c), arraySort(groupArrayIf(model, priced = 0 AND rows != 0)) FROM (
		SELECT model, priced, sumIf(cost_usd, priced = 1) AS c, sum(n) AS rows FROM `+s.table("usage_daily")+` `+where+`
		GROUP BY model, priced)`, args...).Scan(&cost, &unpriced)
	if err != nil {
		return 0, nil, fmt.Errorf("cost: %w", err)
	}
	if len(unpriced) == 0 {
		unpriced = nil
	}
	return sqlstore.Round9(cost), unpriced, nil
}

// EraseSessions removes the sessions' events and usage rows for good. It is a ClickHouse
// mutation, applied in the background; callers hide the rows at once with tombstones.
func (s *Store) EraseSessions(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		chunk := ids[:n]
		ids = ids[n:]
		quoted := make([]string, len(chunk))
		for i, id := range chunk {
			quoted[i] = quote(id)
		}
		in := strings.Join(quoted, ", ")
		// usage_daily needs no mutation: the sessions' rows there net to zero, and
		// SummingMergeTree drops zero rows when it merges.
		for _, t := range []string{"events", "usage_facts"} {
			if err := s.conn.Exec(ctx, `ALTER TABLE `+s.table(t)+` DELETE WHERE session_id IN (`+in+`)`); err != nil {
				return fmt.Errorf("erase sessions from %s: %w", t, err)
			}
		}
	}
	return nil
}

// quote makes a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Ping reports whether ClickHouse answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

// Close flushes what is buffered and closes the connection. Rows that cannot be sent are
// reported in the error.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ferr error
	if err := s.Flush(ctx); err != nil {
		ferr = fmt.Errorf("close clickhouse: %d rows not sent: %w", s.Buffered(), err)
	}
	return errors.Join(ferr, s.conn.Close())
}

// DropDatabase drops the store's database (tests).
func (s *Store) DropDatabase(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+s.db+"`"); err != nil {
		return fmt.Errorf("drop database %s: %w", s.db, err)
	}
	return nil
}
