package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// teamSite is one team deployment under test: its databases and, while it runs, its server.
type teamSite struct {
	name, pg, ch, cluster string
	srv                   *running
	log                   syncBuffer // the server's warnings and errors
}

func (s *teamSite) start(t *testing.T, retentionDays int) {
	t.Helper()
	s.srv = mustStart(t, "", func(m *Main) {
		m.Postgres, m.ClickHouse, m.ClickHouseCluster, m.RetentionDays = s.pg, s.ch, s.cluster, retentionDays
		m.NoDashboard = true
		m.Logger = slog.New(slog.NewTextHandler(&s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
}

// shipped waits until the site's outbox is empty: ClickHouse has every committed change.
func (s *teamSite) shipped(t *testing.T) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var pending int64
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM ch_outbox`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d outbox rows not shipped after 60 s; server log:\n%s", s.name, pending, s.log.String())
		}
	}
}

// The same load on a 2-shard ClickHouse cluster (Replicated and Distributed tables,
// migrated by `migrate --clickhouse-cluster`) and on one ClickHouse server gives the same
// answer from every API endpoint, after ingest, after deleting sessions and after
// retention erased the old ones.
func TestClusterAnswersMatchOneServer(t *testing.T) {
	pgC, chC, cluster := clusterTeamURLs(t)
	pgS, chS := teamURLs(t)
	sites := []*teamSite{{name: "one server", pg: pgS, ch: chS}, {name: "cluster", pg: pgC, ch: chC, cluster: cluster}}
	if _, err := run(t, "migrate", "--postgres", pgC, "--clickhouse", chC, "--clickhouse-cluster", cluster); err != nil {
		t.Fatalf("migrate on the cluster: %v", err)
	}
	if _, err := run(t, "migrate", "--postgres", pgS, "--clickhouse", chS); err != nil {
		t.Fatal(err)
	}
	var sessions [][]event.Event
	for _, f := range storetest.Fixtures() {
		sessions = append(sessions, f.Events)
	}
	sessions = append(sessions, storetest.Generate(31, 40, 60)...)
	for _, s := range sites {
		s.start(t, 0)
		for _, batch := range batchesOf(sessions, 50) {
			if code := postBatch(s.srv.URL("collector"), batch, 30*time.Second); code != http.StatusOK {
				t.Fatalf("%s: post: %d", s.name, code)
			}
		}
		s.shipped(t)
	}
	sameAPIAnswers(t, "after ingest", sites)

	deleted := []string{sessions[0][0].SessionID, sessions[len(sessions)-1][0].SessionID}
	for _, s := range sites {
		for _, id := range deleted {
			req, _ := http.NewRequest(http.MethodDelete, s.srv.URL("api")+"/v1/sessions/"+id, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: delete %s: %d", s.name, id, resp.StatusCode)
			}
		}
		s.shipped(t)
	}
	sameAPIAnswers(t, "after deleting two sessions", sites)

	// Retention of 60 days: the generated sessions spread over the 90 days before
	// storetest.GenEnd, the fixtures are older still.
	before := sessionCount(t, sites[1])
	for _, s := range sites {
		s.srv.stop(t)
		s.start(t, 60)
	}
	for _, s := range sites {
		for deadline := time.Now().Add(30 * time.Second); sessionCount(t, s) == before; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: retention erased nothing in 30 s", s.name)
			}
		}
		s.shipped(t)
	}
	if after := sessionCount(t, sites[1]); after == 0 {
		t.Fatal("retention erased every session: the comparison would prove nothing")
	}
	sameAPIAnswers(t, "after retention", sites)
	checkClusterEmptyOfErased(t, sites[1], deleted)
}

func sessionCount(t *testing.T, s *teamSite) int {
	t.Helper()
	var page struct {
		Sessions []json.RawMessage `json:"sessions"`
	}
	if code := getJSON(t, s.srv.URL("api")+"/v1/sessions?limit=200&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", &page); code != 200 {
		t.Fatalf("%s: list sessions: %d", s.name, code)
	}
	return len(page.Sessions)
}

// apiPaths are the reads compared across deployments: every analytics endpoint with its
// groupings and ranges (a range that starts and ends inside a day too), the lists, and
// each session's detail.
func apiPaths(t *testing.T, s *teamSite) []string {
	const all = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
	paths := []string{
		"/v1/analytics/summary?" + all,
		"/v1/analytics/summary?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z",
		"/v1/analytics/tools?" + all,
		"/v1/sessions?limit=200&" + all,
		"/v1/commits?limit=200&" + all,
		"/v1/pull-requests?limit=200&" + all,
	}
	for _, g := range []string{"model", "user", "repo"} {
		paths = append(paths, "/v1/analytics/cost/daily?group_by="+g+"&"+all,
			"/v1/analytics/cost/daily?group_by="+g+"&from=2026-09-03T13:30:00Z&to=2026-11-20T07:15:00Z")
	}
	for _, by := range []string{"user", "team", "repo", "branch"} {
		paths = append(paths, "/v1/analytics/breakdown?by="+by+"&"+all)
	}
	var page struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	getJSON(t, s.srv.URL("api")+"/v1/sessions?limit=200&"+all, &page)
	for _, sess := range page.Sessions {
		paths = append(paths, "/v1/sessions/"+sess.ID)
	}
	return paths
}

// sameAPIAnswers checks that every site answers every apiPath alike. Fields that say
// when an answer was made (as_of) differ by nature and are left out.
func sameAPIAnswers(t *testing.T, when string, sites []*teamSite) {
	t.Helper()
	paths := apiPaths(t, sites[0])
	if len(paths) < 20 {
		t.Fatalf("%s: only %d paths to compare", when, len(paths))
	}
	for _, p := range paths {
		want := apiAnswer(t, sites[0], p)
		for _, s := range sites[1:] {
			if got := apiAnswer(t, s, p); !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("%s: GET %s differs:\n %-10s %.600s\n %-10s %.600s", when, p, s.name, g, sites[0].name, w)
			}
		}
	}
}

func apiAnswer(t *testing.T, s *teamSite, path string) any {
	t.Helper()
	resp, err := http.Get(s.srv.URL("api") + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: GET %s: %d %s", s.name, path, resp.StatusCode, body)
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return dropKeys(v, "as_of")
}

func dropKeys(v any, keys ...string) any {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range keys {
			delete(x, k)
		}
		for k, e := range x {
			x[k] = dropKeys(e, keys...)
		}
	case []any:
		for i, e := range x {
			x[i] = dropKeys(e, keys...)
		}
	}
	return v
}

// checkClusterEmptyOfErased checks on every shard's local tables that no row of an
// erased session is left: the mutations went to every shard, not just one.
func checkClusterEmptyOfErased(t *testing.T, s *teamSite, erased []string) {
	t.Helper()
	an, err := clickhouse.Open(t.Context(), s.ch, clickhouse.Options{Cluster: s.cluster})
	if err != nil {
		t.Fatal(err)
	}
	defer an.Close()
	quoted := make([]string, len(erased))
	for i, id := range erased {
		quoted[i] = fmt.Sprintf("'%s'", id)
	}
	sort.Strings(quoted)
	for _, table := range []string{"events_local", "usage_facts_local", "usage_session_days_local"} {
		var n uint64
		q := fmt.Sprintf("SELECT count() FROM cluster('%s', `%s`, %s) WHERE session_id IN (%s)", s.cluster, an.Database(), table,
			joinComma(quoted))
		if err := an.Conn().QueryRow(t.Context(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows of deleted sessions left on the shards", table, n)
		}
	}
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}
