package sqlstore

import (
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
