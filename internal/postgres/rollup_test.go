package postgres_test

import (
	"encoding/json"
	"math/rand"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agent-trace/agent-trace/internal/postgres"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// usage_daily equals a recomputation from usage_facts whatever path wrote the facts: the
// migration's backfill of facts stored before it, shuffled batches with duplicates (late
// and out-of-order events, upserts that change facts), re-projecting everything, and
// retention's deletion.
func TestUsageDailyFollowsFacts(t *testing.T) {
	s := openPostgres(t, freshDatabase(t))
	sessions := storetest.Generate(41, 40, 50)
	for _, evs := range sessions[:20] {
		storetest.MustIngest(t, s, evs)
	}
	undoUsageDaily(t, s.Pool())
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkUsageDaily(t, s, "after the upgrade")
	rest := storetest.Flatten(sessions[20:])
	rest = append(rest, rest[:len(rest)/3]...)
	rand.New(rand.NewSource(5)).Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	storetest.IngestInBatches(t, s, rest, 7)
	checkUsageDaily(t, s, "after shuffled batches")
	if _, err := s.ReprojectAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkUsageDaily(t, s, "after ReprojectAll")
	n, err := s.DeleteBefore(t.Context(), storetest.GenEnd.AddDate(0, 0, -45))
	if err != nil || n == 0 || n == 40 {
		t.Fatalf("DeleteBefore: %d sessions, %v; want some of 40", n, err)
	}
	checkUsageDaily(t, s, "after DeleteBefore")
}

// undoUsageDaily takes a database back to before migration 0013, keeping the facts.
func undoUsageDaily(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for _, q := range []string{
		`DROP TABLE usage_daily`, `DROP TRIGGER usage_daily_insert ON usage_facts`,
		`DROP TRIGGER usage_daily_delete ON usage_facts`, `DROP TRIGGER usage_daily_update_1_old ON usage_facts`,
		`DROP TRIGGER usage_daily_update_2_new ON usage_facts`, `DROP FUNCTION usage_daily_insert()`,
		`DROP FUNCTION usage_daily_delete()`,
		`DELETE FROM schema_migrations WHERE name = '0013_usage_daily.sql'`,
	} {
		if _, err := pool.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// checkUsageDaily compares usage_daily with usage_facts grouped now: every key and count
// exactly, the cost to a billionth of a dollar (float sums in another order).
func checkUsageDaily(t *testing.T, s *postgres.Store, when string) {
	t.Helper()
	const recomputed = `SELECT session_id, time_ms / 86400000 AS day, model, "user", repo, session_started_ms,
		cost_usd IS NOT NULL AS priced, count(*) AS facts, sum(input_tokens) AS i, sum(output_tokens) AS o,
		sum(cache_creation_tokens) AS cc, sum(cache_creation_5m_tokens) AS c5, sum(cache_creation_1h_tokens) AS c1,
		sum(cache_read_tokens) AS cr, sum(web_search_requests) AS ws, COALESCE(sum(cost_usd), 0) AS cost
		FROM usage_facts GROUP BY 1, 2, 3, 4, 5, 6, 7`
	var rows, facts, differ int
	err := s.Pool().QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM usage_daily), (SELECT count(*) FROM usage_facts),
		(SELECT count(*) FROM usage_daily d FULL JOIN (`+recomputed+`) r
			ON (d.session_id, d.day, d.model, d."user", d.repo, d.session_started_ms, d.priced) =
				(r.session_id, r.day, r.model, r."user", r.repo, r.session_started_ms, r.priced)
			WHERE r.session_id IS NULL OR d.session_id IS NULL
				OR (d.facts, d.input_tokens, d.output_tokens, d.cache_creation_tokens, d.cache_creation_5m_tokens,
					d.cache_creation_1h_tokens, d.cache_read_tokens, d.web_search_requests) IS DISTINCT FROM
					(r.facts, r.i, r.o, r.cc, r.c5, r.c1, r.cr, r.ws)
				OR abs(d.cost_usd - r.cost) > 1e-9)`).Scan(&rows, &facts, &differ)
	if err != nil {
		t.Fatal(err)
	}
	if facts == 0 || rows == 0 {
		t.Fatalf("%s: %d facts, %d rollup rows: nothing to compare", when, facts, rows)
	}
	if differ != 0 {
		t.Errorf("%s: %d of %d usage_daily rows differ from usage_facts grouped now", when, differ, rows)
	}
}

// EventRecordOf reads user, repository and model as event.Event names them, for every
// kind the generator makes.
func TestEventRecordOfMatchesEvent(t *testing.T) {
	var repos, models int
	for _, e := range storetest.Flatten(storetest.Generate(8, 5, 60)) {
		body, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got := postgres.EventRecordOf(e.ID, e.SessionID, e.Kind, 0, 0, body)
		want := [3]string{e.User, "", ""}
		if e.Git != nil {
			want[1] = e.Git.Remote
		}
		if e.Usage != nil {
			want[2] = e.Usage.Model
		}
		if [3]string{got.User, got.Repo, got.Model} != want {
			t.Fatalf("%s event %s: user, repo, model = %q, want %q", e.Kind, e.ID, [3]string{got.User, got.Repo, got.Model}, want)
		}
		if want[1] != "" {
			repos++
		}
		if want[2] != "" {
			models++
		}
	}
	if repos == 0 || models == 0 {
		t.Fatalf("%d events with a repository, %d with a model: the test checks too little", repos, models)
	}
}
