package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/progress"
)

// rangeFlags are the --from/--to of the clickhouse commands.
type rangeFlags struct{ from, to string }

func (r *rangeFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&r.from, "from", "", "start of the range, a UTC day (2026-11-01) or an RFC 3339 time; default: the beginning")
	fs.StringVar(&r.to, "to", "", "end of the range, exclusive, same forms; default: no end")
}

// parse returns the range; zero times are unbounded.
func (r *rangeFlags) parse() (from, to time.Time, err error) {
	parse := func(name, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			return t, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return t, fmt.Errorf("--%s %q: want a day (2026-11-01) or an RFC 3339 time", name, v)
		}
		return t, nil
	}
	if from, err = parse("from", r.from); err != nil {
		return
	}
	if to, err = parse("to", r.to); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		err = fmt.Errorf("--from %s is not before --to %s", r.from, r.to)
	}
	return
}

// openTeamForCommand opens the team store the flags name, with ClickHouse up.
func openTeamForCommand(ctx context.Context, sf *storeFlags) (*teamStore, error) {
	if sf.postgres == "" || sf.clickhouse == "" {
		return nil, errors.New("needs the team store: --postgres (POSTGRES_CONNECTION_STRING) and --clickhouse (CLICKHOUSE_URL)")
	}
	s, err := openStore(ctx, sf.config(), false)
	if err != nil {
		return nil, err
	}
	t := s.(*teamStore)
	if err := t.analytics.Ready(ctx); err != nil {
		t.Close()
		return nil, fmt.Errorf("clickhouse is not ready: %w", err)
	}
	return t, nil
}

func newClickHouseCommand(sf *storeFlags, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clickhouse",
		Short: "Rebuild or check the team store's ClickHouse from PostgreSQL, its source of truth",
		Long: `PostgreSQL holds every event; ClickHouse holds a copy for analytics that the servers
ship from PostgreSQL's outbox. These commands refill that copy and compare the two.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newRebuildCommand(sf, stdout, stderr), newCheckCommand(sf, stdout))
	return cmd
}

func newRebuildCommand(sf *storeFlags, stdout, stderr io.Writer) *cobra.Command {
	var r rangeFlags
	var noProgress bool
	var batch int
	cmd := &cobra.Command{
		Use:   "rebuild",
		Short: "Empty ClickHouse (or a time range of it) and refill it from PostgreSQL",
		Long: `rebuild deletes ClickHouse's events and usage rows, all of them or those with a time in
[--from, --to), copies PostgreSQL's in their place and rewrites the daily usage rollup
of every session with usage on the days the range touches. Servers may keep running and
ingesting: what they ship meanwhile carries newer versions than the copy and wins.
Use it after restoring PostgreSQL from a backup, after losing ClickHouse's data, or when
` + "`clickhouse check`" + ` finds days that differ.`,
		Example: `  agent-trace-server clickhouse rebuild
  agent-trace-server clickhouse rebuild --from 2026-11-01 --to 2026-11-08`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, to, err := r.parse()
			if err != nil {
				return err
			}
			t, err := openTeamForCommand(cmd.Context(), sf)
			if err != nil {
				return err
			}
			defer t.Close()
			bar := &progress.Bar{W: stderr, Off: noProgress, Label: "rebuilding"}
			n, err := rebuild(cmd.Context(), t, from, to, batch, bar)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "rebuilt ClickHouse from PostgreSQL: %d events, %d usage rows\n", n[0], n[1])
			return nil
		},
	}
	r.add(cmd.Flags())
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "draw no progress bar")
	cmd.Flags().IntVar(&batch, "batch", 5000, "rows read and written at a time")
	return cmd
}

// rebuild clears ClickHouse's rows in [from, to) and copies PostgreSQL's; it returns the
// events and usage rows copied.
func rebuild(ctx context.Context, t *teamStore, from, to time.Time, batch int, bar *progress.Bar) ([2]int64, error) {
	var n [2]int64
	// Clear first, then read: whatever PostgreSQL committed before the read is copied.
	if err := t.analytics.Clear(ctx, from, to); err != nil {
		return n, fmt.Errorf("rebuild: %w", err)
	}
	events, usage, err := t.CountDerived(ctx, from, to)
	if err != nil {
		return n, fmt.Errorf("rebuild: %w", err)
	}
	total := events + usage
	bar.Update(0, total)
	err = t.ScanDerived(ctx, from, to, max(batch, 1), func(ev []agenttrace.EventRecord, us []agenttrace.UsageRecord) error {
		if err := t.analytics.Write(ctx, ev, us); err != nil {
			return err
		}
		n[0], n[1] = n[0]+int64(len(ev)), n[1]+int64(len(us))
		bar.Update(n[0]+n[1], total)
		return nil
	})
	bar.Done()
	if err != nil {
		return n, fmt.Errorf("rebuild: %w", err)
	}
	if err := rebuildRollup(ctx, t, from, to, batch); err != nil {
		return n, fmt.Errorf("rebuild: %w", err)
	}
	return n, nil
}

// rebuildRollup rewrites the usage rollup of every session with usage on the days
// [from, to) touches (Clear emptied those whole days).
func rebuildRollup(ctx context.Context, t *teamStore, from, to time.Time, batch int) error {
	day := 24 * time.Hour
	if !from.IsZero() {
		from = from.UTC().Truncate(day)
	}
	if !to.IsZero() && !to.UTC().Truncate(day).Equal(to) {
		to = to.UTC().Truncate(day).Add(day)
	}
	for after := ""; ; {
		sessions, err := t.UsageSessions(ctx, from, to, after, max(batch/10, 1))
		if err != nil || len(sessions) == 0 {
			return err
		}
		days, version, err := t.SessionDays(ctx, sessions)
		if err != nil {
			return err
		}
		if err := t.analytics.WriteSessionDays(ctx, sessions, days, version); err != nil {
			return err
		}
		after = sessions[len(sessions)-1]
	}
}

func newCheckCommand(sf *storeFlags, stdout io.Writer) *cobra.Command {
	var r rangeFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Compare per-day event and usage counts between PostgreSQL and ClickHouse",
		Long: `check counts, per UTC day, the events, the usage rows and their tokens in PostgreSQL and
in ClickHouse, lists the days that differ and exits with an error when any does. Rows
still waiting in the outbox (not yet shipped) explain a difference on recent days: the
pending count is shown; check again once it is 0, or run ` + "`clickhouse rebuild`" + ` for
the days that stay different.`,
		Example: `  agent-trace-server clickhouse check --from 2026-11-01`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, to, err := r.parse()
			if err != nil {
				return err
			}
			t, err := openTeamForCommand(cmd.Context(), sf)
			if err != nil {
				return err
			}
			defer t.Close()
			return check(cmd.Context(), t, from, to, stdout)
		},
	}
	r.add(cmd.Flags())
	return cmd
}

// check prints the days whose counts differ and returns an error when any does.
func check(ctx context.Context, t *teamStore, from, to time.Time, stdout io.Writer) error {
	lag, err := t.AnalyticsLag(ctx)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	pg, err := t.DailyCounts(ctx, from, to)
	if err != nil {
		return fmt.Errorf("check: postgres: %w", err)
	}
	ch, err := t.analytics.DailyCounts(ctx, from, to)
	if err != nil {
		return fmt.Errorf("check: clickhouse: %w", err)
	}
	byDay := map[string][2]agenttrace.DayCounts{}
	var days []string
	for i, side := range [][]agenttrace.DayCounts{pg, ch} {
		for _, c := range side {
			v, seen := byDay[c.Day]
			if !seen {
				days = append(days, c.Day)
			}
			v[i] = c
			byDay[c.Day] = v
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	differ := 0
	var total agenttrace.DayCounts
	slices.Sort(days)
	for _, d := range days {
		v := byDay[d]
		total.Events, total.UsageRows = total.Events+v[0].Events, total.UsageRows+v[0].UsageRows
		if v[0].Events == v[1].Events && v[0].UsageRows == v[1].UsageRows && v[0].Tokens == v[1].Tokens {
			continue
		}
		if differ == 0 {
			fmt.Fprintln(tw, "DAY\tEVENTS PG\tEVENTS CH\tUSAGE PG\tUSAGE CH\tTOKENS PG\tTOKENS CH")
		}
		differ++
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", d, v[0].Events, v[1].Events, v[0].UsageRows, v[1].UsageRows, v[0].Tokens, v[1].Tokens)
	}
	tw.Flush()
	if differ > 0 {
		return fmt.Errorf("%d of %d days differ (%d outbox rows not shipped yet)", differ, len(days), lag.PendingRows)
	}
	fmt.Fprintf(stdout, "ClickHouse matches PostgreSQL: %d days, %d events, %d usage rows (%d outbox rows not shipped yet)\n",
		len(days), total.Events, total.UsageRows, lag.PendingRows)
	return nil
}
