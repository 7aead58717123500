package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/sqlite"
)

func mustStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return st
}

func allEntries(tb testing.TB, st *sqlite.Store) []agenttrace.AuditEntry {
	tb.Helper()
	var out []agenttrace.AuditEntry
	f := agenttrace.AuditFilter{Limit: 200}
	for {
		page, err := st.Audit(context.Background(), f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, page.Entries...)
		if f.Cursor = page.NextCursor; f.Cursor == "" {
			return out
		}
	}
}

func TestRecordFillsInTimeOutcomeAndActor(t *testing.T) {
	st := mustStore(t)
	rec := audit.New(st, nil)
	tok := &agenttrace.Token{ID: "tok_1", Name: "dash", User: "ann"}
	if err := rec.Record(context.Background(), audit.Actor(agenttrace.AuditEntry{Action: agenttrace.AuditSessionDelete, Target: "s1"}, tok)); err != nil {
		t.Fatal(err)
	}
	got := allEntries(t, st)
	if len(got) != 1 || got[0].Time.IsZero() || got[0].Outcome != agenttrace.AuditOK || got[0].Count != 1 ||
		got[0].Actor != "tok_1" || got[0].ActorName != "dash" || got[0].ActorUser != "ann" {
		t.Errorf("entries = %+v", got)
	}
	var nilRec *audit.Recorder
	if err := nilRec.Record(context.Background(), agenttrace.AuditEntry{}); err != nil {
		t.Errorf("nil recorder: %v", err)
	}
	nilRec.Denied(nil, "", "", "", "")
}

// A flood of refused requests is written as one entry per (actor, address, reason) a
// minute, and distinct sources past MaxDenialKeys share one overflow entry: the rows
// written are bounded whatever the flood, and the counts add up to every request.
func TestDenialsAreAggregatedAndBounded(t *testing.T) {
	tests := []struct {
		name     string
		requests int
		sources  int
		entries  int
	}{
		{"one client hammering", 10_000, 1, 1},
		{"three clients", 9_000, 3, 3},
		{"a spray of addresses", 5_000, 5_000, audit.MaxDenialKeys + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := mustStore(t)
			rec := audit.New(st, nil)
			for i := range tt.requests {
				remote := fmt.Sprintf("198.51.%d.%d:%d", (i%tt.sources)/256, (i%tt.sources)%256, 40000+i%100)
				rec.Denied(nil, remote, agenttrace.AuditRequestDenied, "GET /v1/sessions", "no valid credentials")
			}
			if err := rec.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := allEntries(t, st)
			total := 0
			for _, e := range got {
				total += e.Count
				if e.Outcome != agenttrace.AuditDenied || e.Action != agenttrace.AuditRequestDenied {
					t.Errorf("entry %+v", e)
				}
			}
			if len(got) != tt.entries || total != tt.requests {
				t.Errorf("%d entries counting %d requests, want %d counting %d", len(got), total, tt.entries, tt.requests)
			}
			// The next window starts empty.
			if err := rec.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := len(allEntries(t, st)); n != tt.entries {
				t.Errorf("a second flush wrote %d more entries", n-tt.entries)
			}
		})
	}
}

// Different tokens and reasons from one address are kept apart.
func TestDenialKeys(t *testing.T) {
	st := mustStore(t)
	rec := audit.New(st, nil)
	read := &agenttrace.Token{ID: "tok_r", Name: "r"}
	for range 3 {
		rec.Denied(read, "192.0.2.1:1", agenttrace.AuditRequestDenied, "GET /v1/audit", "scope")
		rec.Denied(nil, "192.0.2.1:2", agenttrace.AuditRequestDenied, "GET /v1/audit", "no valid credentials")
		rec.Denied(nil, "192.0.2.1:3", agenttrace.AuditDashboardLogin, "POST /login", "login refused")
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range allEntries(t, st) {
		got[e.Actor+"|"+e.Action+"|"+e.Remote] += e.Count
	}
	want := map[string]int{"tok_r|request.denied|192.0.2.1": 3, "|request.denied|192.0.2.1": 3, "|dashboard.login|192.0.2.1": 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entries = %v, want %v", got, want)
	}
}
