// Package clickhouse is the analytics half of the team store: the immutable event log and
// the priced usage facts, in ClickHouse (clickhouse-go/v2, native protocol). It is an
// agenttrace.AnalyticsBackend, a derived store: the store of record (PostgreSQL) keeps
// every change in an outbox and a shipper writes them here in batches; this package
// answers daily cost and summary usage and cost over any number of events, and can be
// emptied and refilled from PostgreSQL at any time. It knows no other adapter:
// cmd/agent-trace-server composes the two.
//
// Writes are idempotent: both tables are ReplacingMergeTree keyed by the row's identity
// with a version, and every query reads the latest version of a row (argMax), so a batch
// shipped twice (a shipper that crashed before recording its progress) changes nothing.
// The analytics read a rollup, usage_session_days: each session's absolute totals per day
// and group, computed from PostgreSQL's usage facts by the shipper for every session a
// batch touched. The former rollup of signed differences (usage_daily) counted a batch
// shipped twice twice, and ClickHouse 18.16 has no insert deduplication for
// non-replicated tables; absolute rows with versions are idempotent, and a batch whose
// rollup write failed is not acknowledged, so it is shipped again until both agree.
//
// The SQL runs on ClickHouse 18.16 (what Debian packages) as well as current releases: no
// DateTime64, LowCardinality, Map or table TTL; Int64 milliseconds and String only.
package clickhouse

import (
	"context"
	"embed"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configures a Store.
type Options struct {
	// RetentionDays, when positive, makes Migrate set a table TTL on the event log and the
	// usage facts, so ClickHouse drops old rows itself while merging. ClickHouse before
	// 19.6 (18.16 included) has no table TTL: there retention relies on the mutations
	// EraseSessions issues for every session the server's retention erases.
	RetentionDays int
	// Cluster names the ClickHouse cluster (a remote_servers entry of every node) the
	// tables live on; empty for one server. On a cluster each table is a
	// Replicated*MergeTree on every shard (name_local) behind a Distributed table of the
	// plain name, which reads and inserts use. The URL's cluster parameter sets it too.
	Cluster string
}

// The rows this store receives are the domain's; the short names read naturally in this
// package and its tests.
type (
	EventRow = agenttrace.EventRecord
	UsageRow = agenttrace.UsageRecord
)

// Store is a ClickHouse database holding the event log and usage facts: the
// agenttrace.AnalyticsBackend of the team store. It buffers nothing. Safe for concurrent use.
type Store struct {
	conn    driver.Conn
	db      string
	cluster string // Options.Cluster: empty for one server
	opts    Options
}

var _ agenttrace.AnalyticsBackend = (*Store)(nil)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open prepares a connection to the ClickHouse server at rawURL
// (clickhouse://[user[:password]@]host:port[,host:port…]/database[?cluster=NAME], native
// protocol). Several hosts are tried in order, so a node that is down fails over to the
// next. It does not connect: the servers need not be up (Ready says when they are), nor
// the database exist yet (Migrate creates it).
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
	cluster, err := clusterOf(u.Query().Get("cluster"), opts.Cluster)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	hosts := strings.Split(u.Host, ",")
	for _, h := range hosts {
		if h == "" {
			return nil, fmt.Errorf("open clickhouse: url %q names an empty host", rawURL)
		}
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
	// Every statement names db explicitly, so the session database is always "default":
	// the handshake fails for a database that Migrate has not created yet.
	conn, err := ch.Open(&ch.Options{
		Addr:             hosts,
		Settings:         clusterSettings(cluster),
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
	return &Store{conn: conn, db: db, cluster: cluster, opts: opts}, nil
}

// Database is the database the store's tables live in.
func (s *Store) Database() string { return s.db }

// Conn is the underlying connection (benchmarks load data with it).
func (s *Store) Conn() driver.Conn { return s.conn }

func (s *Store) table(name string) string { return "`" + s.db + "`." + name }

// Migrations lists the embedded migration names in the order they apply.
func Migrations() []string { return sqlstore.Migrations(migrationFS) }

// statements splits a migration file into its statements, dropping comment lines; {db}
// stays for ddl to fill in.
func statements(body string) []string {
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
			out = append(out, st)
		}
	}
	return out
}

// Migrate creates the database and applies every migration not yet recorded. Every
// statement is idempotent (IF NOT EXISTS), so a migration interrupted half-way, or run by
// two servers at once, is simply applied again. On a cluster every statement runs ON
// CLUSTER, which returns once every node has run it.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+s.db+"`"+s.onCluster()); err != nil {
		return fmt.Errorf("migrate clickhouse: create database %s: %w", s.db, err)
	}
	if err := s.conn.Exec(ctx, s.migrationsTable()); err != nil {
		return fmt.Errorf("migrate clickhouse: create schema_migrations: %w", err)
	}
	if err := s.checkLayout(ctx); err != nil {
		return fmt.Errorf("migrate clickhouse: %w", err)
	}
	applied, err := s.applied(ctx)
	if err != nil {
		return fmt.Errorf("migrate clickhouse: %w", err)
	}
	for _, name := range Migrations() {
		if applied[name] {
			continue
		}
		if err := s.apply(ctx, name); err != nil {
			return fmt.Errorf("migrate clickhouse %s: %w", name, err)
		}
	}
	if s.opts.RetentionDays > 0 {
		if err := s.applyTTL(ctx); err != nil {
			return err
		}
	}
	return nil
}

// apply runs one migration's statements and records it.
func (s *Store) apply(ctx context.Context, name string) error {
	body, err := migrationFS.ReadFile("migrations/" + name)
	if err != nil {
		return err
	}
	for _, raw := range statements(string(body)) {
		sts, err := s.ddl(raw)
		if err != nil {
			return err
		}
		for _, st := range sts {
			if err := s.conn.Exec(ctx, st); err != nil {
				return err
			}
		}
	}
	// A batch, not Exec with arguments: 18.16 never answers the latter's INSERT.
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.table("schema_migrations")+` (name, applied_ms)`)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if err := b.Append(name, time.Now().UnixMilli()); err != nil {
		b.Abort()
		return fmt.Errorf("record: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// applyTTL sets the retention TTL where the server supports table TTLs (19.6 and later).
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
		q := fmt.Sprintf("ALTER TABLE %s%s MODIFY TTL toDateTime(intDiv(time_ms, 1000)) + toIntervalDay(%d)",
			s.local(t), s.onCluster(), s.opts.RetentionDays)
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
	if err := s.checkLayout(ctx); err != nil {
		return fmt.Errorf("check clickhouse schema: %w", err)
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

// Write inserts event log rows and usage records, one batch each, synchronously. Rows
// sent again are harmless: the latest version of each wins.
func (s *Store) Write(ctx context.Context, events []EventRow, usage []UsageRow) error {
	if len(events) > 0 {
		b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.table("events")+
			` (id, session_id, kind, time_ms, user, repo, model, body, version)`)
		if err != nil {
			return fmt.Errorf("write events: %w", err)
		}
		for _, e := range events {
			if err := b.Append(e.ID, e.SessionID, e.Kind, e.TimeMS, e.User, e.Repo, e.Model, string(e.Body), e.Version); err != nil {
				b.Abort()
				return fmt.Errorf("write events: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("write events: %w", err)
		}
	}
	if len(usage) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.table("usage_facts")+` (event_id, session_id, time_ms,
		session_started_ms, model, user, repo, input_tokens, output_tokens, cache_creation_tokens,
		cache_creation_5m_tokens, cache_creation_1h_tokens, cache_read_tokens, web_search_requests, cost_usd, priced, deleted, version)`)
	if err != nil {
		return fmt.Errorf("write usage: %w", err)
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
			return fmt.Errorf("write usage: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("write usage: %w", err)
	}
	return nil
}

// Clear empties the tables for a rebuild: all of them when from and to are zero, else
// the rows with a time in [from, to) (the rollup's rows of the days it touches) (a mutation: it applies to the rows written before
// it, so a rebuild may start writing at once).
func (s *Store) Clear(ctx context.Context, from, to time.Time) error {
	lo, hi := msBounds(from, to)
	for _, t := range []string{"events", "usage_facts", "usage_session_days"} {
		q := `TRUNCATE TABLE ` + s.local(t) + s.onCluster()
		switch {
		case from.IsZero() && to.IsZero():
		case t == "usage_session_days":
			// Whole days: the rebuild rewrites every session with usage on them.
			q = fmt.Sprintf(`ALTER TABLE %s%s DELETE WHERE day >= %d AND day < %d`, s.local(t), s.onCluster(),
				floorDiv(lo, dayMS), ceilDiv(hi, dayMS))
		default:
			q = fmt.Sprintf(`ALTER TABLE %s%s DELETE WHERE time_ms >= %d AND time_ms < %d`, s.local(t), s.onCluster(), lo, hi)
		}
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("clear %s: %w", t, err)
		}
	}
	return nil
}

// Ready reports whether ClickHouse answers and its schema is current.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	return s.CheckSchema(ctx)
}

// dayKey names a rollup row: everything but its totals.
type dayKey struct {
	session, model, user, repo string
	day, started               int64
	priced                     bool
}

// WriteSessionDays replaces the rollup of sessions with days at version: the rows in
// days, and an emptied row (n = 0) for every group of theirs ClickHouse has that days
// lacks (usage moved to another day, re-priced, erased).
func (s *Store) WriteSessionDays(ctx context.Context, sessions []string, days []agenttrace.SessionDay, version uint64) error {
	if len(sessions) == 0 {
		return nil
	}
	have := make(map[dayKey]bool, len(days))
	for _, d := range days {
		have[dayKey{d.SessionID, d.Model, d.User, d.Repo, d.Day, d.SessionStartedMS, d.Priced}] = true
	}
	quoted := make([]string, len(sessions))
	for i, id := range sessions {
		quoted[i] = quote(id)
	}
	rows, err := s.conn.Query(ctx, `SELECT session_id, day, model, user, repo, session_started_ms, priced FROM (`+
		s.liveDays("WHERE session_id IN ("+strings.Join(quoted, ", ")+")")+`) WHERE n != 0`)
	if err != nil {
		return fmt.Errorf("write session days: %w", err)
	}
	for rows.Next() {
		var k dayKey
		var priced uint8
		if err := rows.Scan(&k.session, &k.day, &k.model, &k.user, &k.repo, &k.started, &priced); err != nil {
			rows.Close()
			return fmt.Errorf("write session days: %w", err)
		}
		if k.priced = priced == 1; !have[k] {
			days = append(days, agenttrace.SessionDay{SessionID: k.session, Day: k.day, Model: k.model, User: k.user,
				Repo: k.repo, SessionStartedMS: k.started, Priced: k.priced})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("write session days: %w", err)
	}
	if len(days) == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, `INSERT INTO `+s.table("usage_session_days")+` (session_id, day, model, user, repo,
		session_started_ms, priced, n, input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens,
		cache_creation_1h_tokens, cache_read_tokens, web_search_requests, cost_usd, version)`)
	if err != nil {
		return fmt.Errorf("write session days: %w", err)
	}
	for _, d := range days {
		var priced uint8
		if d.Priced {
			priced = 1
		}
		u := d.Usage
		if err := b.Append(d.SessionID, d.Day, d.Model, d.User, d.Repo, d.SessionStartedMS, priced, d.Rows,
			u.InputTokens, u.OutputTokens, u.CacheCreationInputTokens, u.CacheCreation5mTokens, u.CacheCreation1hTokens,
			u.CacheReadInputTokens, u.WebSearchRequests, d.CostUSD, version); err != nil {
			b.Abort()
			return fmt.Errorf("write session days: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("write session days: %w", err)
	}
	return nil
}

// liveDays is the rollup deduplicated at query time: the latest version of every row
// (emptied ones have n = 0). pre filters rows before deduplication; it may only test key
// columns.
func (s *Store) liveDays(pre string) string {
	return `SELECT session_id, day, model, user, repo, session_started_ms, priced, argMax(n, version) AS n,
		argMax(input_tokens, version) AS input_tokens, argMax(output_tokens, version) AS output_tokens,
		argMax(cache_creation_tokens, version) AS cache_creation_tokens,
		argMax(cache_creation_5m_tokens, version) AS cache_creation_5m_tokens,
		argMax(cache_creation_1h_tokens, version) AS cache_creation_1h_tokens,
		argMax(cache_read_tokens, version) AS cache_read_tokens,
		argMax(web_search_requests, version) AS web_search_requests, argMax(cost_usd, version) AS cost_usd
		FROM ` + s.table("usage_session_days") + ` ` + pre + `
		GROUP BY session_id, day, model, user, repo, session_started_ms, priced`
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

// msBounds is [from, to) in Unix milliseconds, zero times unbounded.
func msBounds(from, to time.Time) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = from.UnixMilli()
	}
	if !to.IsZero() {
		hi = to.UnixMilli()
	}
	return lo, hi
}

// DailyCost returns spend per UTC day in [from, to) per group key, days ascending.
//
// Whole days come from the usage_session_days rollup; a range edge inside a day is
// answered from usage_facts, deduplicated at query time, which only reads that day.
func (s *Store) DailyCost(ctx context.Context, from, to time.Time, groupBy string) ([]agenttrace.DailyCost, error) {
	col, err := sqlstore.GroupColumn(groupBy, "user")
	if err != nil {
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
			FROM (%s) WHERE n != 0 GROUP BY day, key ORDER BY day, key`,
			col, s.liveDays("WHERE day >= ? AND day < ?")), fromDay, toDay)
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
		dayMS, col, s.liveUsage("WHERE event_id "+s.globalIn()+" (SELECT event_id FROM "+s.table("usage_facts")+
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

// UsageCost totals the usage and priced cost of sessions that started in [from, to) and
// lists the models that could not be priced, from the usage_session_days rollup.
func (s *Store) UsageCost(ctx context.Context, from, to time.Time) (agenttrace.UsageCost, error) {
	var uc agenttrace.UsageCost
	u := &uc.Usage
	lo, hi := msBounds(from, to)
	err := s.conn.QueryRow(ctx, `SELECT sumIf(cost_usd, priced = 1), sum(input_tokens), sum(output_tokens),
		sum(cache_creation_tokens), sum(cache_creation_5m_tokens), sum(cache_creation_1h_tokens), sum(cache_read_tokens),
		sum(web_search_requests), arraySort(groupUniqArrayIf(model, priced = 0))
		FROM (`+s.liveDays("WHERE session_started_ms >= ? AND session_started_ms < ?")+`) WHERE n != 0`, lo, hi).
		Scan(&uc.CostUSD, &u.InputTokens, &u.OutputTokens, &u.CacheCreationInputTokens, &u.CacheCreation5mTokens,
			&u.CacheCreation1hTokens, &u.CacheReadInputTokens, &u.WebSearchRequests, &uc.UnpricedModels)
	if err != nil {
		return uc, fmt.Errorf("usage and cost: %w", err)
	}
	if len(uc.UnpricedModels) == 0 {
		uc.UnpricedModels = nil
	}
	uc.CostUSD = sqlstore.Round9(uc.CostUSD)
	return uc, nil
}

// DailyCounts counts distinct events and live usage facts per UTC day in [from, to),
// and the rollup's tokens of those days, days ascending, for comparison with the store
// of record: the tokens check the rollup, the counts the tables it summarises.
func (s *Store) DailyCounts(ctx context.Context, from, to time.Time) ([]agenttrace.DayCounts, error) {
	lo, hi := msBounds(from, to)
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT day, sum(e), sum(u), sum(t) FROM (
		SELECT intDiv(time_ms, %[1]d) AS day, uniqExact(id) AS e, toUInt64(0) AS u, toInt64(0) AS t FROM %[2]s
			WHERE time_ms >= ? AND time_ms < ? GROUP BY day
		UNION ALL
		SELECT intDiv(time_ms, %[1]d) AS day, toUInt64(0) AS e, count() AS u, toInt64(0) AS t
			FROM (%[3]s) WHERE deleted = 0 AND time_ms >= ? AND time_ms < ? GROUP BY day
		UNION ALL
		SELECT day, toUInt64(0) AS e, toUInt64(0) AS u,
			sum(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens) AS t
			FROM (%[4]s) WHERE n != 0 GROUP BY day)
		GROUP BY day ORDER BY day`, dayMS, s.table("events"), s.liveUsage("WHERE time_ms >= ? AND time_ms < ?"),
		s.liveDays("WHERE day >= ? AND day < ?")),
		lo, hi, lo, hi, lo, hi, floorDiv(lo, dayMS), ceilDiv(hi, dayMS))
	if err != nil {
		return nil, fmt.Errorf("daily counts: %w", err)
	}
	defer rows.Close()
	var out []agenttrace.DayCounts
	for rows.Next() {
		var day int64
		var e, u uint64
		var t int64
		if err := rows.Scan(&day, &e, &u, &t); err != nil {
			return nil, fmt.Errorf("daily counts: %w", err)
		}
		out = append(out, agenttrace.DayCounts{Day: time.UnixMilli(day * dayMS).UTC().Format(time.DateOnly),
			Events: int64(e), UsageRows: int64(u), Tokens: t})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("daily counts: %w", err)
	}
	return out, nil
}

// EraseSessions removes the sessions' events and usage rows for good, and returns once
// ClickHouse has. A mutation is applied in the background, part by part, and it removes
// the tombstones that hide the rows too: a read while one runs could find a row whose
// tombstone's part was already rewritten and its own not yet (a deleted session's usage
// still counted). So the erasure is done only when no mutation of these tables is left.
func (s *Store) EraseSessions(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.mutate(ctx, ids); err != nil {
		return err
	}
	return s.awaitMutations(ctx, erasedTables...)
}

// erasedTables are the tables that hold a session's rows.
var erasedTables = []string{"events", "usage_facts", "usage_session_days"}

// mutationPoll is how often awaitMutations asks whether the mutations are done.
const mutationPoll = 20 * time.Millisecond

// awaitMutations waits until no mutation of the tables is left to apply, on any shard.
func (s *Store) awaitMutations(ctx context.Context, tables ...string) error {
	quoted := make([]string, len(tables))
	for i, t := range tables {
		if s.cluster != "" {
			t += "_local"
		}
		quoted[i] = quote(t)
	}
	for {
		var pending uint64
		if err := s.conn.QueryRow(ctx, `SELECT count() FROM `+s.allNodes("mutations")+` WHERE database = `+quote(s.db)+
			` AND table IN (`+strings.Join(quoted, ", ")+`) AND is_done = 0`).Scan(&pending); err != nil {
			return fmt.Errorf("erase sessions: wait for the mutations: %w", err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("erase sessions: %d mutations still running: %w", pending, ctx.Err())
		case <-time.After(mutationPoll):
		}
	}
}

// mutate starts the mutations that delete the sessions' rows, a thousand sessions a
// statement.
func (s *Store) mutate(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		chunk := ids[:n]
		ids = ids[n:]
		quoted := make([]string, len(chunk))
		for i, id := range chunk {
			quoted[i] = quote(id)
		}
		in := strings.Join(quoted, ", ")
		for _, t := range erasedTables {
			if err := s.conn.Exec(ctx, `ALTER TABLE `+s.local(t)+s.onCluster()+` DELETE WHERE session_id IN (`+in+`)`); err != nil {
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

// Close closes the connection.
func (s *Store) Close() error { return s.conn.Close() }

// DropDatabase drops the store's database (tests).
func (s *Store) DropDatabase(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+s.db+"`"+s.onCluster()); err != nil {
		return fmt.Errorf("drop database %s: %w", s.db, err)
	}
	return nil
}
