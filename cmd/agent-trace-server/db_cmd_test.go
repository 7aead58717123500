package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

type statsJSON struct {
	agenttrace.DiskStats
	BytesPerEvent float64 `json:"bytes_per_event"`
}

func dbStats(t *testing.T, args ...string) statsJSON {
	t.Helper()
	out, err := run(t, append([]string{"db", "stats", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("db stats: %v", err)
	}
	var st statsJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("db stats --json: %v in %q", err, out)
	}
	return st
}

func table(st statsJSON, store, name string) (agenttrace.TableStats, bool) {
	for _, tb := range st.Tables {
		if tb.Store == store && tb.Table == name {
			return tb, true
		}
	}
	return agenttrace.TableStats{}, false
}

// db stats counts a SQLite store's events and rows per table, divides its bytes by
// the events, and shows the space a deletion frees.
func TestDBStatsSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	s, err := sqlite.Open(db, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, evs := range storetest.Generate(3, 20, 200) {
		events += storetest.MustIngest(t, s, evs).Stored
	}
	s.Close()

	st := dbStats(t, "--db", db)
	ev, ok := table(st, "sqlite", "events")
	if st.Events != int64(events) || !ok || ev.Rows != int64(events) || ev.Bytes == 0 || ev.IndexBytes == 0 {
		t.Errorf("events %d, table %+v; want %d events with data and index bytes", st.Events, ev, events)
	}
	if ud, ok := table(st, "sqlite", "usage_daily"); !ok || ud.Rows == 0 {
		t.Errorf("usage_daily %+v, want rows", ud)
	}
	if st.Bytes == 0 || st.BytesPerEvent != float64(st.Bytes)/float64(events) {
		t.Errorf("%d bytes, %.1f an event for %d events", st.Bytes, st.BytesPerEvent, events)
	}
	if s, err = sqlite.Open(db); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteBefore(t.Context(), time.Now().AddDate(1, 0, 0)); err != nil { // what retention runs
		t.Fatal(err)
	}
	s.Close()
	after := dbStats(t, "--db", db)
	if after.Events != 0 || after.FreeBytes < st.Bytes/2 {
		t.Errorf("after deleting every session: %d events, %d of %d bytes free; want 0 events, half free", after.Events,
			after.FreeBytes, after.Bytes)
	}
	out, err := run(t, "db", "stats", "--db", db)
	if err != nil || !strings.Contains(out, "usage_daily") || !strings.Contains(out, "free for reuse") {
		t.Errorf("db stats: %v\n%s", err, out)
	}
}

// On the team store, db stats lists PostgreSQL's tables and then ClickHouse's.
func TestDBStatsTeam(t *testing.T) {
	pg, ch := migratedTeam(t)
	st := dbStats(t, "--postgres", pg, "--clickhouse", ch)
	for _, want := range [][2]string{{"postgres", "events"}, {"postgres", "ch_outbox"}, {"clickhouse", "schema_migrations"}} {
		if _, ok := table(st, want[0], want[1]); !ok {
			t.Errorf("no %s table %s in %+v", want[0], want[1], st.Tables)
		}
	}
	if st.Bytes == 0 {
		t.Errorf("team store: 0 bytes")
	}
}
