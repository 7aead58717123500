package main

import (
	"context"
	"database/sql"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	_ "github.com/agent-trace/agent-trace/internal/sqlite" // its driver
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// kill -9 of a SQLite server three times while eight clients send live-sized batches
// (five events, so concurrent requests share group commits) and retry what was not
// acknowledged: afterwards the database holds exactly the events acknowledged, per
// session. A client never sends an acknowledged batch again, so an acknowledgement given
// before its group's commit was durable would show here as a missing event.
func TestFaultKillSQLiteMidBurst(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	p := newPorts(t)
	srv := startProc(t, p, "--db", db)
	batches := batchesOf(storetest.Generate(61, 40, 100), 5) // 4,000 events
	var a acked
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	const clients = 8
	errs := make(chan error, clients)
	for c := range clients {
		var mine [][]event.Event
		for i := c; i < len(batches); i += clients {
			mine = append(mine, batches[i])
		}
		go func() { errs <- deliverAll(ctx, srv.collector, mine, &a) }()
	}
	const kills = 3
	for kill := 1; kill <= kills; kill++ {
		for total(a.counts()) < int64(kill*4000/(kills+1)) && ctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
		}
		srv.kill()
		srv = startProc(t, p, "--db", db)
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	srv.stop(t)
	conn, err := sql.Open("sqlite", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(t.Context(), `SELECT session_id, count(*) FROM events GROUP BY session_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		stored[s] = n
	}
	if want := a.counts(); !maps.Equal(stored, want) || total(want) != 4000 {
		t.Errorf("events per session:\n acknowledged %v\n stored       %v", want, stored)
	}
}
