package sqlstore

import (
	"context"
	"strings"
	"time"
)

// DaySplit is a time range [from, to) cut at UTC midnights, for reads that take whole
// days from a daily rollup and only the rest from the facts: Whole says whether any
// whole day lies inside, Lo and Hi bound them (a zero one where the range is open), and
// Edges are the at most two pieces shorter than a day left at either end.
type DaySplit struct {
	Whole  bool
	Lo, Hi time.Time
	Edges  [][2]time.Time
}

// SplitDays cuts [from, to) (a zero end is open) into whole UTC days and edges.
func SplitDays(from, to time.Time) DaySplit {
	var lo, hi time.Time
	if !from.IsZero() {
		lo = from.UTC().Truncate(24 * time.Hour)
		if lo.Before(from) {
			lo = lo.Add(24 * time.Hour)
		}
	}
	if !to.IsZero() {
		hi = to.UTC().Truncate(24 * time.Hour)
	}
	if !lo.IsZero() && !hi.IsZero() && !lo.Before(hi) {
		return DaySplit{Edges: [][2]time.Time{{from, to}}}
	}
	d := DaySplit{Whole: true, Lo: lo, Hi: hi}
	if !from.IsZero() && from.Before(lo) {
		d.Edges = append(d.Edges, [2]time.Time{from, lo})
	}
	if !to.IsZero() && hi.Before(to) {
		d.Edges = append(d.Edges, [2]time.Time{hi, to})
	}
	return d
}

// Union describes a read over a daily rollup and its facts (see SplitUnion).
type Union struct {
	From, To      time.Time
	TimeCol       string              // the facts' time column, Unix milliseconds
	UserCol       string              // the user column of both, for the reader's visible users
	Day           func(time.Time) any // a UTC midnight as the rollup's day column holds it
	Rollup, Facts string              // the two SELECTs, without their WHERE
	Dollar        bool                // $n placeholders (PostgreSQL) instead of ?
}

// SplitUnion is the UNION ALL of u's rollup for the whole UTC days in [From, To) and of
// its facts for the partial days at either end, each part kept to the visible users,
// and its arguments.
func SplitUnion(ctx context.Context, u Union) (string, []any) {
	var parts []string
	var args []any
	split := SplitDays(u.From, u.To)
	if split.Whole {
		var w Where
		if !split.Lo.IsZero() {
			w.Add("day >= ?", u.Day(split.Lo))
		}
		if !split.Hi.IsZero() {
			w.Add("day < ?", u.Day(split.Hi))
		}
		Visible(ctx, &w, u.UserCol)
		parts = append(parts, u.Rollup+w.SQL())
		args = append(args, w.Args...)
	}
	for _, e := range split.Edges {
		var w Where
		w.TimeRange(u.TimeCol, e[0], e[1])
		Visible(ctx, &w, u.UserCol)
		parts = append(parts, u.Facts+w.SQL())
		args = append(args, w.Args...)
	}
	q := strings.Join(parts, " UNION ALL ")
	if u.Dollar {
		q = Dollars(q)
	}
	return q, args
}
