package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/storetest"
	_ "modernc.org/sqlite" // the floor's bare inserts
)

// IngestRow is one ingest measurement.
type IngestRow struct {
	Name       string  `json:"name"`
	Clients    int     `json:"clients"`
	Batch      int     `json:"batch"`
	EventsPS   float64 `json:"events_per_s"`
	CPUPerEvUS float64 `json:"server_cpu_us_per_event,omitempty"`
}

// seed posts n generated events (sessions of 100, 90 days) in batches of 500 from two
// clients, and returns events/s.
func seed(ctx context.Context, collector string, n int) (float64, error) {
	batches := make(chan []event.Event, 4)
	go func() {
		defer close(batches)
		var batch []event.Event
		for done := 0; done < n; done += 100 * 100 {
			for _, evs := range storetest.Generate(int64(5000+done), min(100, (n-done+99)/100), 100) {
				for _, e := range evs {
					if batch = append(batch, e); len(batch) == 500 {
						batches <- batch
						batch = nil
					}
				}
			}
		}
		if len(batch) > 0 {
			batches <- batch
		}
	}()
	start := time.Now()
	err := fanOut(2, func() error {
		for b := range batches {
			if err := post(ctx, collector, b); err != nil {
				return err
			}
		}
		return nil
	})
	return float64(n) / time.Since(start).Seconds(), err
}

// fanOut runs f in k goroutines and returns the first error.
func fanOut(k int, f func() error) error {
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for range k {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- f() }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var client = &http.Client{Timeout: 2 * time.Minute}

// post sends one batch to the collector and fails unless it is acknowledged.
func post(ctx context.Context, collector string, batch []event.Event) error {
	body, err := json.Marshal(event.Batch{Events: batch})
	if err != nil {
		return err
	}
	return postBody(ctx, collector+"/v1/hooks", body)
}

func postBody(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, msg)
	}
	return nil
}

// phaseSessions is a measurement's own sessions of 200 events (so none is in the seed),
// split among clients by session: each client sends its sessions in order, as hooks do.
func phaseSessions(n, clients int, seed int64) [][]event.Event {
	per := make([][]event.Event, clients)
	for i, evs := range storetest.Generate(seed, max(n/200, clients), 200) {
		per[i%clients] = append(per[i%clients], evs...)
	}
	return per
}

// ingest sends each client's events in batches of size batch with send and measures
// events/s and, when pid is set, that process's CPU per event.
func ingest(ctx context.Context, name string, per [][]event.Event, batch, pid int, send func(context.Context, []event.Event) error) (IngestRow, error) {
	row := IngestRow{Name: name, Clients: len(per), Batch: batch}
	total := 0
	for _, evs := range per {
		total += len(evs)
	}
	var before time.Duration
	if pid != 0 {
		before, _ = cpu(pid)
	}
	start := time.Now()
	next := make(chan []event.Event, len(per))
	for _, evs := range per {
		next <- evs
	}
	close(next)
	err := fanOut(len(per), func() error {
		for evs := range next {
			for i := 0; i < len(evs); i += batch {
				if err := send(ctx, evs[i:min(i+batch, len(evs))]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	row.EventsPS = float64(total) / time.Since(start).Seconds()
	if pid != 0 {
		after, _ := cpu(pid)
		row.CPUPerEvUS = float64((after - before).Microseconds()) / float64(total)
	}
	return row, err
}

// floor inserts the events into a bare SQLite table (id, session, kind, time, body) in
// transactions of 500, with the server's durability settings: what no ingest can beat.
func floor(ctx context.Context, path string, events []event.Event) (float64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE events (id TEXT, session_id TEXT, kind TEXT, time_ns INTEGER,
		body BLOB, PRIMARY KEY (session_id, id)) WITHOUT ROWID`); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < len(events); i += 500 {
		if err := insertBare(ctx, db, events[i:min(i+500, len(events))]); err != nil {
			return 0, err
		}
	}
	return float64(len(events)) / time.Since(start).Seconds(), nil
}

func insertBare(ctx context.Context, db *sql.DB, events []event.Event) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO events VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, e := range events {
		body, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, e.ID, e.SessionID, e.Kind, e.Time.UnixNano(), body); err != nil {
			return err
		}
	}
	return tx.Commit()
}
