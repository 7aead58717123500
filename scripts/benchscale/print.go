package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// printResult writes res as tables; with old, a column of ratios against it (higher is
// better for rates, lower for times and sizes).
func printResult(w io.Writer, res, old *Result) {
	fmt.Fprintf(w, "agent-trace bench-scale: %d events seeded (%.0f events/s in batches of 500)\n\n", res.Events, res.SeedEventsPS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ingest\tclients\tevents/s\tserver µs/event\tvs before\t")
	for _, r := range res.Ingest {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.1f\t%s\t\n", r.Name, r.Clients, r.EventsPS, r.CPUPerEvUS, ratio(r.EventsPS, oldIngest(old, r.Name)))
	}
	for _, r := range res.Original {
		fmt.Fprintf(tw, "original: %s\t%d\t%.0f\t\t\t\n", r.Name, r.Clients, r.EventsPS)
	}
	if len(res.Ingest) > 0 {
		big := res.Ingest[len(res.Ingest)-1].EventsPS
		fmt.Fprintf(tw, "bare SQLite insert (floor)\t1\t%.0f\t\t%s\t\n", res.FloorPS, fmt.Sprintf("batch 500 at %.0f %%", 100*big/res.FloorPS))
	}
	for _, r := range res.Original {
		if r.Batch == 1 && len(res.Ingest) > 0 {
			fmt.Fprintf(tw, "one event per request vs original\t\t%.1f×\t\t\t\n", res.Ingest[0].EventsPS/r.EventsPS)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "read\tp50 ms\tp95 ms\tp99 ms\tp95 vs before\t")
	for _, r := range res.Reads {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%s\t\n", r.Name, r.P50, r.P95, r.P99, ratio(oldRead(old, r.Name), r.P95))
	}
	tw.Flush()
	fmt.Fprintf(w, "\ndisk: %.1f MiB, %.0f bytes per event\n", float64(res.Disk.Bytes)/(1<<20), res.Disk.BytesPerEvent)
	fmt.Fprintf(w, "server RSS: peak %.0f MiB, idle %.0f MiB\n", float64(res.RSS.PeakBytes)/(1<<20), float64(res.RSS.IdleBytes)/(1<<20))
}

// ratio is now/before as "1.23×" (above 1 is better), or "" without a before.
func ratio(now, before float64) string {
	if before <= 0 || now <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", now/before)
}

func oldIngest(old *Result, name string) float64 {
	if old == nil {
		return 0
	}
	for _, r := range old.Ingest {
		if r.Name == name {
			return r.EventsPS
		}
	}
	return 0
}

func oldRead(old *Result, name string) float64 {
	if old == nil {
		return 0
	}
	for _, r := range old.Reads {
		if r.Name == name {
			return r.P95
		}
	}
	return 0
}
