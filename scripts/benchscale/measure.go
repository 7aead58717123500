package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// DiskRow is the database's size after the run, all of it and per event stored.
type DiskRow struct {
	Bytes         int64   `json:"bytes"`
	BytesPerEvent float64 `json:"bytes_per_event"`
}

// RSSRow is the server's resident memory: the peak while seeding and measuring, and
// what it holds idle afterwards.
type RSSRow struct {
	PeakBytes int64 `json:"peak_bytes"`
	IdleBytes int64 `json:"idle_bytes"`
}

// measure runs the whole benchmark against a server of its own.
func measure(ctx context.Context, o options) (*Result, error) {
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "bench-scale-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	bin := o.Server
	if bin == "" {
		fmt.Fprintln(os.Stderr, "building agent-trace-server …")
		b, err := buildServer(ctx, dir)
		if err != nil {
			return nil, err
		}
		bin = b
	}
	s, err := startServer(ctx, bin, dir, strings.Fields(o.ServerFlags)...)
	if err != nil {
		return nil, err
	}
	defer s.cmd.Process.Kill()
	res := &Result{Date: time.Now().UTC(), Events: o.Events}
	if err := measureServer(ctx, o, s, res); err != nil {
		return nil, err
	}
	if err := s.stop(); err != nil {
		return nil, err
	}
	res.Disk.Bytes = dirSize(s.db)
	res.Disk.BytesPerEvent = float64(res.Disk.Bytes) / float64(o.Events+3*o.Phase)
	fmt.Fprintln(os.Stderr, "bare-insert floor …")
	if res.FloorPS, err = floor(ctx, filepath.Join(dir, "floor.db"), flatten(phaseSessions(o.Phase, 1, 9_300_000))); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	if o.Original != "" {
		if res.Original, err = driveOriginal(ctx, o); err != nil {
			return nil, fmt.Errorf("original: %w", err)
		}
	}
	return res, nil
}

// measureServer seeds s, measures its ingest and reads, and reads its memory.
func measureServer(ctx context.Context, o options, s *server, res *Result) error {
	pid := s.cmd.Process.Pid
	fmt.Fprintf(os.Stderr, "seeding %d events …\n", o.Events)
	var err error
	if res.SeedEventsPS, err = seed(ctx, s.collector, o.Events); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	send := func(ctx context.Context, b []event.Event) error { return post(ctx, s.collector, b) }
	for i, ph := range []struct {
		name           string
		clients, batch int
	}{{"one event per request", 4, 1}, {"batches of 5", 4, 5}, {"batches of 500", 1, 500}} {
		fmt.Fprintf(os.Stderr, "ingest, %s …\n", ph.name)
		row, err := ingest(ctx, ph.name, phaseSessions(o.Phase, ph.clients, int64(9_000_000+i*100_000)), ph.batch, pid, send)
		if err != nil {
			return fmt.Errorf("ingest %s: %w", ph.name, err)
		}
		res.Ingest = append(res.Ingest, row)
	}
	fmt.Fprintln(os.Stderr, "reads …")
	if res.Reads, err = reads(ctx, s, o.Requests); err != nil {
		return fmt.Errorf("reads: %w", err)
	}
	time.Sleep(2 * time.Second) // idle
	res.RSS.IdleBytes, res.RSS.PeakBytes, err = memory(pid)
	return err
}

func flatten(per [][]event.Event) []event.Event {
	var out []event.Event
	for _, evs := range per {
		out = append(out, evs...)
	}
	return out
}

// dirSize is the size of the database and its -wal and -shm files.
func dirSize(db string) int64 {
	var n int64
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
