package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/progress"
)

const dbStatsHelp = `Show how the store uses its disk: every table's rows and the bytes of its data and
its indexes, largest first, then the database's size, the space free for reuse (after
deletions or retention; SQLite's VACUUM returns it to the file system) and the bytes per
stored event. On the team store PostgreSQL's tables come first, then ClickHouse's (which
must be up).

It counts every table's rows, so a large database takes a few seconds.`

// newDBCommand is `db`, the database's own commands (stats).
func newDBCommand(sf *storeFlags, stdout io.Writer) *cobra.Command {
	db := &cobra.Command{Use: "db", Short: "Inspect the database (stats)"}
	var asJSON bool
	stats := &cobra.Command{
		Use:   "stats",
		Short: "Rows and bytes per table, and bytes per event",
		Long:  dbStatsHelp,
		Args:  cobra.NoArgs,
		RunE: withStore(sf, func(ctx context.Context, s agenttrace.Store, _ []string) error {
			ds, ok := s.(agenttrace.DiskStatser)
			if !ok {
				return fmt.Errorf("db stats: this store cannot report its disk use")
			}
			d, err := ds.DiskStats(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return writeStatsJSON(stdout, d)
			}
			return printDiskStats(stdout, d)
		}),
	}
	stats.Flags().BoolVar(&asJSON, "json", false, "print JSON (with bytes_per_event) instead of a table")
	db.AddCommand(stats)
	return db
}

func writeStatsJSON(w io.Writer, d agenttrace.DiskStats) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		agenttrace.DiskStats
		BytesPerEvent float64 `json:"bytes_per_event"`
	}{d, d.BytesPerEvent()})
}

// printDiskStats prints d's tables, each store's largest first, and the totals.
func printDiskStats(w io.Writer, d agenttrace.DiskStats) error {
	tables := slices.Clone(d.Tables)
	slices.SortStableFunc(tables, func(a, b agenttrace.TableStats) int {
		if a.Store != b.Store {
			return 0 // keep the stores in the order the store gave them
		}
		return cmp.Compare(b.Bytes+b.IndexBytes, a.Bytes+a.IndexBytes)
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tTABLE\tROWS\tDATA\tINDEXES\tTOTAL\t")
	for _, t := range tables {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t\n", t.Store, t.Table, t.Rows, progress.Bytes(t.Bytes),
			progress.Bytes(t.IndexBytes), progress.Bytes(t.Bytes+t.IndexBytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s in all (%s free for reuse), %d events: %.0f bytes an event\n",
		progress.Bytes(d.Bytes), progress.Bytes(d.FreeBytes), d.Events, d.BytesPerEvent())
	return err
}
