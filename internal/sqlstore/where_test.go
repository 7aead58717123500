package sqlstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

func TestWherePlaceholders(t *testing.T) {
	from := time.UnixMilli(1000)
	for _, tc := range []struct {
		dollar bool
		want   string
	}{
		{false, " WHERE t >= ? AND (a, b) < (?, ?) AND c = 0"},
		{true, " WHERE t >= $1 AND (a, b) < ($2, $3) AND c = 0"},
	} {
		w := Where{Dollar: tc.dollar}
		w.TimeRange("t", from, time.Time{})
		w.Add("(a, b) < (?, ?)", 1, "x")
		w.Add("c = 0")
		if got := w.SQL(); got != tc.want {
			t.Errorf("dollar %v: SQL = %q, want %q", tc.dollar, got, tc.want)
		}
		if got, want := w.Args, []any{int64(1000), 1, "x"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Args = %v, want %v", got, want)
		}
	}
	if got, args := RangeWhere("t", time.Time{}, time.Time{}); got != "" || args != nil {
		t.Errorf("open RangeWhere = %q, %v", got, args)
	}
	if got, want := func() string { s, _ := RangeWhere("t", from, from); return s }(), "WHERE t >= ? AND t < ?"; got != want {
		t.Errorf("RangeWhere = %q, want %q", got, want)
	}
}

func TestSessionPlanCursor(t *testing.T) {
	p, err := PlanSessions(agenttrace.SessionFilter{Sort: "cost", Desc: true})
	if err != nil {
		t.Fatal(err)
	}
	var w Where
	if err := p.After(&w, p.Next("0.25", true, "s9"), FloatKey); err != nil {
		t.Fatal(err)
	}
	if got, want := w.SQL(), " WHERE (cost_key, id) < (?, ?)"; got != want {
		t.Errorf("SQL = %q, want %q", got, want)
	}
	other, _ := PlanSessions(agenttrace.SessionFilter{Sort: "duration"})
	if err := other.After(&w, p.Next("0.25", true, "s9"), AnyKey); err == nil {
		t.Error("a cursor of another sort order was accepted")
	}
	for _, f := range []agenttrace.SessionFilter{{Sort: "nope"}, {Status: "nope"}, {Limit: 201}} {
		if _, err := PlanSessions(f); err == nil {
			t.Errorf("PlanSessions(%+v) accepted", f)
		}
	}
}

func TestReaderSQL(t *testing.T) {
	q := `SELECT 1 FROM t WHERE a = ? AND b = ?`
	if got := (Reader{}).sql(q); got != q {
		t.Errorf("? dialect: %q", got)
	}
	if got, want := (Reader{Dollar: true}).sql(q), `SELECT 1 FROM t WHERE a = $1 AND b = $2`; got != want {
		t.Errorf("$ dialect: %q, want %q", got, want)
	}
}
