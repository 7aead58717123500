package mcp

import (
	"strings"
	"testing"
	"time"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"ééééé", 3, "ééé… [truncated 2 chars]"},
		{strings.Repeat("a", 2000), 1500, strings.Repeat("a", 1500) + "… [truncated 500 chars]"},
	}
	for _, tc := range tests {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"2026-11-20", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), false},
		{"2026-11-20T08:00:00+01:00", time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"2w", now.Add(-14 * 24 * time.Hour), false},
		{"36h", now.Add(-36 * time.Hour), false},
		{"last week", time.Time{}, true},
		{"-3h", time.Time{}, true},
	}
	for _, tc := range tests {
		got, err := parseWhen(tc.in, now)
		if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if _, _, err := parseRange("2026-11-20", "2026-11-19", now); err == nil {
		t.Error("parseRange: until before since: no error")
	}
}
