// Command benchscale is `make bench-scale`: it seeds an agent-trace server (SQLite) with N
// generated events (the storetest generator's mix: sessions of prompts, tool calls,
// usage, commits, spread over 90 days), then measures on that store
//
//   - ingest: one event per request and batches of 5 (4 clients, what live hooks send)
//     and batches of 500 (1 client), as events/s and server CPU per event;
//   - the floor: a bare SQLite insert of the same rows in the same run, and the
//     batch-500 rate's share of it;
//   - every read endpoint of the API and every dashboard page: p50, p95, p99;
//   - bytes per event on disk, and the server's RSS (peak while seeding, idle after);
//
// prints a table and writes the result as JSON, so that two runs can be compared
// (-compare old.json adds a column of ratios). With -original URL it also drives a
// running original agent-trace (Node.js) collector at URL with the same events, one
// envelope per request as its hooks send them, for the side-by-side rows.
//
//	go run ./scripts/benchscale -events 1000000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

func main() {
	var o options
	flag.IntVar(&o.Events, "events", 100_000, "events to seed the store with (sessions of 100 events)")
	flag.IntVar(&o.Phase, "phase-events", 10_000, "events each ingest measurement sends")
	flag.IntVar(&o.Requests, "requests", 50, "requests per read endpoint")
	flag.StringVar(&o.Server, "server", "", "agent-trace-server binary (default: built from ./cmd/agent-trace-server)")
	flag.StringVar(&o.ServerFlags, "server-flags", "", "more flags for the server, e.g. \"--memory-limit 150MiB\"")
	flag.StringVar(&o.Dir, "dir", "", "directory for the database (default: a temporary one, removed after)")
	flag.StringVar(&o.Out, "out", "", "write the result as JSON here (default .cache/bench-scale-<events>.json)")
	flag.StringVar(&o.Compare, "compare", "", "an earlier result (JSON) to show ratios against")
	flag.StringVar(&o.Original, "original", "", "collector URL of a running original agent-trace (e.g. http://127.0.0.1:9317), for side-by-side ingest rows")
	flag.Parse()
	if o.Out == "" {
		o.Out = filepath.Join(".cache", fmt.Sprintf("bench-scale-%d.json", o.Events))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		os.Exit(1)
	}
}

type options struct {
	Events, Phase, Requests int
	Server, Dir, Out        string
	ServerFlags             string
	Compare, Original       string
}

// Result is what a run measured; its JSON is what -compare reads.
type Result struct {
	Date         time.Time   `json:"date"`
	Events       int         `json:"events"`
	SeedEventsPS float64     `json:"seed_events_per_s"`
	Ingest       []IngestRow `json:"ingest"`
	FloorPS      float64     `json:"floor_events_per_s"` // bare SQLite insert, batches of 500
	Reads        []ReadRow   `json:"reads"`
	Disk         DiskRow     `json:"disk"`
	RSS          RSSRow      `json:"rss"`
	Original     []IngestRow `json:"original,omitempty"`
}

func run(ctx context.Context, o options, out *os.File) error {
	res, err := measure(ctx, o)
	if err != nil {
		return err
	}
	var old *Result
	if o.Compare != "" {
		old = &Result{}
		b, err := os.ReadFile(o.Compare)
		if err == nil {
			err = json.Unmarshal(b, old)
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", o.Compare, err)
		}
	}
	printResult(out, res, old)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.Out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nwrote %s\n", o.Out)
	return nil
}
