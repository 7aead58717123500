package sqlstore

import (
	"reflect"
	"testing"
	"time"
)

func TestSplitDays(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	var zero time.Time
	tests := []struct {
		name     string
		from, to time.Time
		want     DaySplit
	}{
		{"whole days", day(1, 0), day(4, 0), DaySplit{Whole: true, Lo: day(1, 0), Hi: day(4, 0)}},
		{"partial ends", day(1, 7), day(4, 5), DaySplit{Whole: true, Lo: day(2, 0), Hi: day(4, 0),
			Edges: [][2]time.Time{{day(1, 7), day(2, 0)}, {day(4, 0), day(4, 5)}}}},
		{"inside one day", day(1, 7), day(1, 9), DaySplit{Edges: [][2]time.Time{{day(1, 7), day(1, 9)}}}},
		{"across one midnight", day(1, 7), day(2, 9), DaySplit{Edges: [][2]time.Time{{day(1, 7), day(2, 9)}}}},
		{"open start", zero, day(4, 5), DaySplit{Whole: true, Hi: day(4, 0), Edges: [][2]time.Time{{day(4, 0), day(4, 5)}}}},
		{"open end", day(1, 7), zero, DaySplit{Whole: true, Lo: day(2, 0), Edges: [][2]time.Time{{day(1, 7), day(2, 0)}}}},
		{"open", zero, zero, DaySplit{Whole: true}},
		{"empty", day(1, 7), day(1, 7), DaySplit{Edges: [][2]time.Time{{day(1, 7), day(1, 7)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SplitDays(tt.from, tt.to); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitDays(%v, %v) = %+v, want %+v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}
