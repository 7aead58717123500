package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/sqlstore"
	"github.com/agent-trace/agent-trace/internal/sqlstore/sqlstoretest"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// MustOpen opens a migrated store on a fresh file in t.TempDir().
func MustOpen(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	return sqlstoretest.Migrated(tb, s, err)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) agenttrace.Store { return MustOpen(t) })
}

func TestMigrateIsIdempotentAndCheckSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CheckSchema(t.Context()); !errors.Is(err, agenttrace.ErrSchemaOutdated) {
		t.Fatalf("CheckSchema on an empty file = %v, want ErrSchemaOutdated", err)
	}
	if !strings.Contains(fmt.Sprint(s.CheckSchema(t.Context())), "0001_init.sql") {
		t.Errorf("the error should name the missing migration: %v", s.CheckSchema(t.Context()))
	}
	for i := 0; i < 2; i++ {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
	}
	if err := s.CheckSchema(t.Context()); err != nil {
		t.Fatalf("CheckSchema after Migrate = %v", err)
	}
	// The data survives reopening.
	f := storetest.Fixtures()[0]
	storetest.MustIngest(t, s, f.Events)
	s.Close()
	s2, err := sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.CheckSchema(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := storetest.MustSession(t, s2, f.SessionID); got.ID != f.SessionID {
		t.Fatalf("reopened session id %q", got.ID)
	}
}

// TestReprojectAll re-prices stored sessions when the store is reopened with prices.
// (Refresh does it once per change of prices or rules.)
func TestReprojectAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := sqlite.Open(path) // no prices
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := storetest.Fixtures()[0]
	storetest.MustIngest(t, s, f.Events)
	if c := storetest.MustSession(t, s, f.SessionID).CostUSD; c != nil {
		t.Fatalf("cost without a pricer = %v, want null", *c)
	}
	s.Close()
	s, err = sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Refresh(t.Context(), "test-prices-1")
	if err != nil || n != 1 {
		t.Fatalf("Refresh with new prices = %d, %v; want 1", n, err)
	}
	storetest.EqualJSON(t, "re-priced session", storetest.MustSession(t, s, f.SessionID), projection.Project(f.Events, storetest.TestPricer{}))
	if n, err := s.Refresh(t.Context(), "test-prices-1"); err != nil || n != 0 {
		t.Errorf("Refresh with the same prices = %d, %v; want 0", n, err)
	}
	if n, err := s.ReprojectAll(t.Context()); err != nil || n != 1 {
		t.Errorf("ReprojectAll = %d, %v; want 1", n, err)
	}
}

// TestConcurrentIngestAndRead ingests several sessions from parallel goroutines while
// others read: no call fails on a lock, and every session ends up whole.
func TestConcurrentIngestAndRead(t *testing.T) {
	s := MustOpen(t)
	gen := storetest.Generate(42, 8, 120)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, evs := range gen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(evs); i += 15 {
				if _, err := s.Ingest(t.Context(), evs[i:min(i+15, len(evs))]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 3; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.ListSessions(t.Context(), agenttrace.SessionFilter{Desc: true}); err != nil {
					errs <- err
					return
				}
				if _, err := s.Summary(t.Context(), time.Time{}, time.Time{}); err != nil {
					errs <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, evs := range gen {
		storetest.EqualJSON(t, "session", storetest.MustSession(t, s, evs[0].SessionID), projection.Project(evs, storetest.TestPricer{}))
	}
}

// TestMigrationKeepsPrompts upgrades a database written at 0001 and finds its prompt
// text through the 0002 text index.
func TestMigrationKeepsPrompts(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.MigrateUpTo(t.Context(), "0001_init.sql"); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(t.Context()); !errors.Is(err, agenttrace.ErrSchemaOutdated) {
		t.Fatalf("CheckSchema at 0001 = %v, want ErrSchemaOutdated", err)
	}
	if _, err := s.DB().Exec(`INSERT INTO prompts (session_id, prompt_id, idx, started_ms, text)
		VALUES ('s1', 'p1', 0, 1, 'Refactor the Config loader')`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var sid string
	if err := s.DB().QueryRow(`SELECT p.session_id FROM prompts p JOIN prompts_fts f ON f.rowid = p.id
		WHERE prompts_fts MATCH '"config load"'`).Scan(&sid); err != nil || sid != "s1" {
		t.Fatalf("prompt after upgrade: %q, %v", sid, err)
	}
}

// TestTextSearchPlansAgree runs text queries through the trigram index and through the
// per-session scan: both find the same sessions.
func TestTextSearchPlansAgree(t *testing.T) {
	s := MustOpen(t)
	for _, evs := range storetest.Generate(3, 30, 40) {
		storetest.MustIngest(t, s, evs)
	}
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, s, f.Events)
	}
	for _, q := range []string{"pagination", "PAGINATION", "with a subagent", "the", "no prompt says this", `a "quoted" 100%`} {
		var got [2][]string
		for i, limit := range []int{1 << 30, -1} {
			s.SetRareTextLimit(limit)
			page, err := s.ListSessions(t.Context(), agenttrace.SessionFilter{Query: q, Limit: 200})
			if err != nil {
				t.Fatalf("query %q: %v", q, err)
			}
			for _, sum := range page.Sessions {
				got[i] = append(got[i], sum.ID)
			}
		}
		if strings.Join(got[0], ",") != strings.Join(got[1], ",") {
			t.Errorf("query %q: index finds %v, scan finds %v", q, got[0], got[1])
		}
		if q == "pagination" && len(got[0]) == 0 {
			t.Errorf("query %q found nothing", q)
		}
	}
}

// TestNoSecretsOnDisk ingests the fixtures and finds none of their secrets in any byte of
// the database file or its write-ahead log.
func TestNoSecretsOnDisk(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(filepath.Join(dir, "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, f := range storetest.Fixtures() {
		storetest.MustIngest(t, s, f.Events)
	}
	files, err := filepath.Glob(filepath.Join(dir, "data.db*"))
	if err != nil || len(files) < 2 {
		t.Fatalf("database files %v, %v", files, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range storetest.FixtureSecrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains %q", filepath.Base(name), secret)
			}
		}
	}
	// Event bodies and prompt details are stored compressed, where no byte search can
	// see a secret: read them back as JSON too.
	for _, q := range []string{`SELECT body FROM events`, `SELECT detail FROM prompts`} {
		rows, err := s.DB().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var blob []byte
			if err := rows.Scan(&blob); err != nil {
				t.Fatal(err)
			}
			js, err := sqlstore.DecompressBlob(blob)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(js, blob) {
				n++
			}
			for _, secret := range storetest.FixtureSecrets {
				if bytes.Contains(js, []byte(secret)) {
					t.Errorf("%s: a row contains %q", q, secret)
				}
			}
		}
		rows.Close()
		if n == 0 {
			t.Errorf("%s: no row is compressed", q)
		}
	}
}

// Upgrading to the users table records the users that tokens already name, with their
// team, so user list and user disable know them.
func TestUsersMigrationKeepsTokenUsers(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.MigrateUpTo(t.Context(), "0009_token_users.sql"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []agenttrace.Token{
		{ID: "t1", Name: "hook", Scope: agenttrace.ScopeIngest, User: "alice", Team: "a"},
		{ID: "t2", Name: "old", Scope: agenttrace.ScopeRead},
	} {
		if err := s.CreateToken(t.Context(), tok, "hash-"+tok.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	users, err := s.Users(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Name != "alice" || users[0].Team != "a" || users[0].DisabledAt != nil {
		t.Errorf("users after upgrade = %+v, want alice of team a", users)
	}
}

// TestReprojectAllBesideIngest rebuilds every projection while new events arrive, on a
// store just opened (its statements not yet prepared): neither waits on the other for
// ever, and every session ends up whole.
func TestReprojectAllBesideIngest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	sessions := storetest.Generate(31, 24, 60)
	for _, evs := range sessions[:12] {
		storetest.MustIngest(t, s, evs)
	}
	s.Close()
	for round := range 5 {
		s, err := sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 2)
		go func() { _, err := s.ReprojectAll(context.Background()); done <- err }()
		go func() {
			evs := sessions[12+round*2]
			for off := 0; off < len(evs); off += 5 {
				if _, err := s.Ingest(context.Background(), evs[off:min(off+5, len(evs))]); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for range 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: ReprojectAll beside ingest still running after 30 s", round)
			}
		}
		evs := sessions[12+round*2]
		want := projection.Project(evs, storetest.TestPricer{})
		agenttrace.MarkIdle(&want.SessionSummary, time.Now().Add(-agenttrace.DefaultIdleAfter)) // days old
		storetest.EqualJSON(t, "session ingested beside ReprojectAll", storetest.MustSession(t, s, evs[0].SessionID), want)
		s.Close()
	}
}

// TestRollupsFollowFacts holds each rollup to its definition (usage_daily is usage_facts
// grouped by session, day, model, user and repository; tool_daily is tool_calls grouped
// by day, user, tool and server): after the upgrade that creates them from rows already
// stored, after shuffled and repeated batches, after every projection is rebuilt, and
// after retention deletes the older half.
func TestRollupsFollowFacts(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	sessions := storetest.Generate(41, 40, 50)
	for _, evs := range sessions[:20] {
		storetest.MustIngest(t, s, evs)
	}
	undoRollups(t, s.DB())
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkRollups(t, s, "after the upgrade", 20)
	rest := storetest.Flatten(sessions[20:])
	rest = append(rest, rest[:len(rest)/3]...)
	rand.New(rand.NewSource(5)).Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	storetest.IngestInBatches(t, s, rest, 7)
	checkRollups(t, s, "after shuffled batches", 40)
	if _, err := s.ReprojectAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkRollups(t, s, "after ReprojectAll", 40)
	n, err := s.DeleteBefore(t.Context(), storetest.GenEnd.AddDate(0, 0, -45))
	if err != nil || n == 0 || n == 40 {
		t.Fatalf("DeleteBefore: %d sessions, %v; want some of 40", n, err)
	}
	checkRollups(t, s, "after DeleteBefore", 40-n)
}

// undoRollups takes a database back to before the migrations that made the rollups
// (0015 and 0018), keeping the rows stored since, as an older release left it.
func undoRollups(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, q := range []string{
		`DROP TRIGGER usage_daily_insert`, `DROP TRIGGER usage_daily_delete`, `DROP TRIGGER usage_daily_update`,
		`DROP TRIGGER tool_daily_insert`, `DROP TRIGGER tool_daily_delete`, `DROP TRIGGER tool_daily_update`,
		`DROP TRIGGER tool_calls_follow_user`, `DROP TABLE usage_daily`, `DROP TABLE tool_daily`,
		`DROP INDEX tool_calls_durations`, `DROP INDEX tool_calls_server_durations`,
		`ALTER TABLE tool_calls DROP COLUMN user`,
		`DELETE FROM schema_migrations WHERE name IN ('0015_usage_daily.sql', '0018_tool_daily.sql')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// checkRollups checks usage_daily and tool_daily, for the number of sessions given.
func checkRollups(t *testing.T, s *sqlite.Store, when string, sessions int) {
	t.Helper()
	checkUsageDaily(t, s, when, sessions)
	const rollup = `SELECT day, user, name, mcp_server, calls, errors, rejected, timed FROM tool_daily`
	const calls = `SELECT started_ms / 86400000, user, name, mcp_server, count(*), SUM(status = 'error'),
		SUM(status = 'rejected'), SUM(status IN ('ok', 'error')) FROM tool_calls GROUP BY 1, 2, 3, 4`
	var extra, missing, n, stale int
	db := s.DB()
	for q, dst := range map[string]*int{
		`SELECT count(*) FROM (` + rollup + ` EXCEPT ` + calls + `)`:                                      &extra,
		`SELECT count(*) FROM (` + calls + ` EXCEPT ` + rollup + `)`:                                      &missing,
		`SELECT count(*) FROM tool_daily`:                                                                 &n,
		`SELECT count(*) FROM tool_calls c JOIN sessions s ON s.id = c.session_id WHERE c.user <> s.user`: &stale,
	} {
		if err := db.QueryRow(q).Scan(dst); err != nil {
			t.Fatal(err)
		}
	}
	if extra != 0 || missing != 0 || n == 0 || stale != 0 {
		t.Errorf("%s: tool_daily has %d rows the calls do not, lacks %d, of %d; %d calls with another user than their session's",
			when, extra, missing, n, stale)
	}
}

// checkUsageDaily fails unless usage_daily holds exactly usage_facts grouped, for the
// number of sessions given.
func checkUsageDaily(t *testing.T, s *sqlite.Store, when string, sessions int) {
	t.Helper()
	const rollup = `SELECT session_id, day, model, user, repo, facts, unpriced, ROUND(cost_usd, 9),
		input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
		cache_read_tokens, web_search_requests FROM usage_daily`
	const facts = `SELECT session_id, day, model, user, repo, count(*), SUM(cost_usd IS NULL),
		ROUND(COALESCE(SUM(cost_usd), 0), 9), SUM(input_tokens), SUM(output_tokens), SUM(cache_creation_tokens),
		SUM(cache_creation_5m_tokens), SUM(cache_creation_1h_tokens), SUM(cache_read_tokens), SUM(web_search_requests)
		FROM usage_facts GROUP BY session_id, day, model, user, repo`
	var extra, missing, n int
	db := s.DB()
	if err := db.QueryRow(`SELECT count(*) FROM (` + rollup + ` EXCEPT ` + facts + `)`).Scan(&extra); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM (` + facts + ` EXCEPT ` + rollup + `)`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(DISTINCT session_id) FROM usage_daily`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if extra != 0 || missing != 0 || n != sessions {
		t.Errorf("%s: usage_daily has %d rows the facts do not, lacks %d; %d sessions, want %d", when, extra, missing, n, sessions)
	}
}

// Rows written before bodies and details were compressed (plain JSON) read as before,
// beside compressed ones.
func TestPlainBlobsStillRead(t *testing.T) {
	s := MustOpen(t)
	f := storetest.Fixtures()[0]
	storetest.MustIngest(t, s, f.Events)
	for _, table := range []struct{ name, col, key string }{{"events", "body", "id"}, {"prompts", "detail", "idx"}} {
		rows, err := s.DB().Query(`SELECT `+table.key+`, `+table.col+` FROM `+table.name+` WHERE session_id = ?`, f.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		plain := map[any][]byte{}
		for rows.Next() {
			var key any
			var blob []byte
			if err := rows.Scan(&key, &blob); err != nil {
				t.Fatal(err)
			}
			if plain[key], err = sqlstore.DecompressBlob(blob); err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
		n := 0
		for key, js := range plain {
			if n++; n%2 == 0 { // every other row plain, as an older server wrote it
				continue
			}
			if _, err := s.DB().Exec(`UPDATE `+table.name+` SET `+table.col+` = ? WHERE session_id = ? AND `+table.key+` = ?`,
				js, f.SessionID, key); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.ReprojectAll(t.Context()); err != nil { // reads every stored body
		t.Fatal(err)
	}
	storetest.EqualJSON(t, "session", storetest.MustSession(t, s, f.SessionID), projection.Project(f.Events, storetest.TestPricer{}))
	page, err := s.Events(t.Context(), f.SessionID, "", 1000)
	ids := map[string]bool{}
	for _, e := range f.Events {
		ids[e.ID] = true
	}
	if err != nil || len(page.Events) != len(ids) {
		t.Fatalf("events: %d, %v; want %d", len(page.Events), err, len(ids))
	}
	storetest.MustIngest(t, s, f.Events) // duplicates compared with the stored copies
}
