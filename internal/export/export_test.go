package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// pages is a Reader whose session list comes in pages of two, failing at page failAt.
type pages struct {
	n, failAt int
	calls     int
}

func (p *pages) ListSessions(_ context.Context, f agenttrace.SessionFilter) (agenttrace.SessionPage, error) {
	p.calls++
	if p.calls == p.failAt {
		return agenttrace.SessionPage{}, errors.New("store gone")
	}
	start := 0
	fmt.Sscan(f.Cursor, &start)
	var out agenttrace.SessionPage
	for i := start; i < min(start+2, p.n); i++ {
		cost := float64(i) / 4
		out.Sessions = append(out.Sessions, agenttrace.SessionSummary{ID: fmt.Sprintf("s%d", i), CostUSD: &cost,
			StartedAt: time.Date(2026, 5, 1, 12, i, 0, 0, time.UTC), Models: []string{"m1", "m2"}})
	}
	if start+2 < p.n {
		out.NextCursor = fmt.Sprint(start + 2)
	}
	return out, nil
}

func (p *pages) Session(context.Context, string) (*agenttrace.Session, error) {
	return nil, agenttrace.ErrNotFound
}
func (p *pages) Commits(context.Context, agenttrace.CommitFilter) (agenttrace.CommitPage, error) {
	return agenttrace.CommitPage{}, nil
}
func (p *pages) DailyCost(context.Context, time.Time, time.Time, string) ([]agenttrace.DailyCost, error) {
	return nil, nil
}

func TestWritePagesAndFormats(t *testing.T) {
	for _, tt := range []struct {
		name, format string
		n, failAt    int
		wantLines    int
		wantErr      bool
	}{
		{"csv, five pages", CSV, 9, 0, 10, false},
		{"jsonl, five pages", JSONL, 9, 0, 9, false},
		{"csv, none", CSV, 0, 0, 1, false},
		// Rows are buffered (32 KiB): a failure before the buffer first fills writes
		// nothing, so the caller can still answer with an error instead of a 200.
		{"jsonl, fails on page three", JSONL, 9, 3, 0, true},
		{"csv, fails on page one", CSV, 9, 1, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Write(context.Background(), &out, &pages{n: tt.n, failAt: tt.failAt}, Request{Table: "sessions", Format: tt.format})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			if len(lines) != tt.wantLines {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), tt.wantLines, out.String())
			}
			if tt.format == JSONL && len(lines) > 1 {
				var row map[string]any
				if err := json.Unmarshal([]byte(lines[1]), &row); err != nil {
					t.Fatal(err)
				}
				if row["session_id"] != "s1" || row["cost_usd"] != 0.25 || row["ended_at"] != nil ||
					row["started_at"] != "2026-05-01T12:01:00Z" || fmt.Sprint(row["models"]) != "[m1 m2]" {
					t.Errorf("row = %v", row)
				}
				if !strings.HasPrefix(lines[0], `{"session_id":"s0","started_at":`) {
					t.Errorf("keys out of column order: %s", lines[0])
				}
			}
			if tt.format == CSV && len(lines) > 2 && !strings.HasPrefix(lines[2], "s1,2026-05-01T12:01:00Z,,") {
				t.Errorf("CSV row = %q", lines[2])
			}
		})
	}
}

func TestCell(t *testing.T) {
	one := 1.5
	for _, tt := range []struct {
		in   any
		want string
	}{
		{"=1+2", "'=1+2"}, {"-rm", "'-rm"}, {"@SUM(A1)", "'@SUM(A1)"}, {"plain", "plain"}, {"", ""},
		{[]string{"a", "b"}, "a;b"}, {(*float64)(nil), ""}, {&one, "1.5"}, {int64(-3), "-3"},
		{time.Time{}, ""}, {time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), "2026-01-02T02:04:05Z"},
	} {
		if got := cell(tt.in); got != tt.want {
			t.Errorf("cell(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, req := range []Request{{Table: "x", Format: CSV}, {Table: "sessions", Format: "xlsx"}} {
		if err := Check(req); !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("Check(%+v) = %v, want ErrInvalid", req, err)
		}
	}
}
