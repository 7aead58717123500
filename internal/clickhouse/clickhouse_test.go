package clickhouse_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	mrand "math/rand"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
)

// open returns a migrated store on a database of its own, dropped when the test ends.
func open(t *testing.T, opts clickhouse.Options) *clickhouse.Store {
	t.Helper()
	base := os.Getenv("AGENT_TRACE_TEST_CLICKHOUSE")
	if base == "" {
		msg := "AGENT_TRACE_TEST_CLICKHOUSE is not set: run scripts/test-services.sh and source .cache/test-services.env"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	u.Path = "/t_" + hex.EncodeToString(b)
	s, err := clickhouse.Open(t.Context(), u.String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.DropDatabase(context.Background())
		s.Close()
	})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func cost(f float64) *float64 { return &f }

// fact is a usage row as the brute-force reference keeps it.
type fact struct {
	row     clickhouse.UsageRow
	version uint64
}

// DailyCost and Cost equal a brute-force sum over the latest version of every row, for
// ranges that start and end anywhere inside days (answered from the deduplicated facts)
// as well as on midnights (the rollup), after rows changed, moved and were taken back.
func TestDailyCostMatchesBruteForce(t *testing.T) {
	for _, seed := range []int64{7, 8, 9} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { checkDailyCostBruteForce(t, seed) })
	}
}

func checkDailyCostBruteForce(t *testing.T, seed int64) {
	s := open(t, clickhouse.Options{})
	rng := mrand.New(mrand.NewSource(seed))
	day0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	models := []string{"m-a", "m-b", "m-c"}
	live := map[string]fact{}
	version := uint64(0)
	newRow := func(id string) clickhouse.UsageRow {
		r := clickhouse.UsageRow{EventID: id, SessionID: fmt.Sprintf("s%d", rng.Intn(5)),
			TimeMS:           day0.Add(time.Duration(rng.Int63n(int64(6 * 24 * time.Hour)))).UnixMilli(),
			SessionStartedMS: day0.Add(time.Duration(rng.Intn(6)) * 24 * time.Hour).UnixMilli(),
			Model:            models[rng.Intn(len(models))], User: "u", Repo: "r",
			Usage: agenttrace.Usage{InputTokens: int64(rng.Intn(1000)), OutputTokens: int64(rng.Intn(100)),
				WebSearchRequests: int64(rng.Intn(2))}}
		if rng.Intn(5) > 0 {
			r.CostUSD = cost(float64(rng.Intn(100000)) / 1e6)
		}
		return r
	}
	// Three rounds: new rows, then changes (new values, new times), removals.
	for round := 0; round < 3; round++ {
		version++
		var changes []clickhouse.UsageChange
		// One change per response per version, as one re-projection makes.
		for _, n := range rng.Perm(400)[:300] {
			id := fmt.Sprintf("ev%d", n)
			old, had := live[id]
			switch {
			case had && round == 2 && rng.Intn(2) == 0:
				o := old.row
				changes = append(changes, clickhouse.UsageChange{Old: &o, Version: version})
				delete(live, id)
			default:
				r := newRow(id)
				c := clickhouse.UsageChange{New: &r, Version: version}
				if had {
					o := old.row
					c.Old = &o
				}
				changes = append(changes, c)
				live[id] = fact{r, version}
			}
		}
		s.Add(nil, changes)
		if err := s.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	ranges := [][2]time.Time{
		{{}, {}},
		{day0, day0.Add(7 * 24 * time.Hour)},
		{day0.Add(30 * time.Hour), day0.Add(100 * time.Hour)},
		{day0.Add(30 * time.Hour), day0.Add(40 * time.Hour)}, // inside one day
		{day0.Add(30 * time.Hour), day0.Add(48 * time.Hour)},
		{day0.Add(24 * time.Hour), day0.Add(61*time.Hour + 7*time.Minute)},
		{day0.Add(61 * time.Hour), {}},
		{{}, day0.Add(61 * time.Hour)},
		{day0.Add(50 * time.Hour), day0.Add(50 * time.Hour)}, // empty
	}
	for _, rg := range ranges {
		from, to := rg[0], rg[1]
		for _, group := range []string{agenttrace.GroupBySession, agenttrace.GroupByModel} {
			type key struct{ day, key string }
			want := map[key]agenttrace.DailyCost{}
			for _, f := range live {
				r := f.row
				at := time.UnixMilli(r.TimeMS)
				if (!from.IsZero() && at.Before(from)) || (!to.IsZero() && !at.Before(to)) {
					continue
				}
				k := key{at.UTC().Format("2006-01-02"), r.SessionID}
				if group == agenttrace.GroupByModel {
					k.key = r.Model
				}
				d := want[k]
				d.Day, d.Key, d.Usage = k.day, k.key, d.Usage.Add(r.Usage)
				if r.CostUSD != nil {
					d.CostUSD += *r.CostUSD
				}
				want[k] = d
			}
			got, err := s.DailyCost(t.Context(), from, to, group)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("[%v, %v) by %s: %d rows, want %d", from, to, group, len(got), len(want))
			}
			if !sort.SliceIsSorted(got, func(i, j int) bool {
				return got[i].Day < got[j].Day || (got[i].Day == got[j].Day && got[i].Key < got[j].Key)
			}) {
				t.Errorf("[%v, %v) by %s: rows not in day, key order", from, to, group)
			}
			for _, d := range got {
				w := want[key{d.Day, d.Key}]
				if d.Usage != w.Usage || math.Abs(d.CostUSD-w.CostUSD) > 1e-9 {
					t.Errorf("[%v, %v) by %s %s %s: %+v, want %+v", from, to, group, d.Day, d.Key, d, w)
				}
			}
		}
		var wantCost float64
		unpriced := map[string]bool{}
		for _, f := range live {
			at := time.UnixMilli(f.row.SessionStartedMS)
			if (!from.IsZero() && at.Before(from)) || (!to.IsZero() && !at.Before(to)) {
				continue
			}
			if f.row.CostUSD != nil {
				wantCost += *f.row.CostUSD
			} else {
				unpriced[f.row.Model] = true
			}
		}
		gotCost, gotUnpriced, err := s.Cost(t.Context(), from, to)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(gotCost-wantCost) > 1e-9 || len(gotUnpriced) != len(unpriced) {
			t.Errorf("Cost [%v, %v) = %v %v, want %v %v", from, to, gotCost, gotUnpriced, wantCost, unpriced)
		}
	}
}

// Rows wait in the buffer until it is full or the interval passes, and Close sends the rest.
func TestFlushBySizeIntervalAndClose(t *testing.T) {
	count := func(s *clickhouse.Store) uint64 {
		var n uint64
		if err := s.Conn().QueryRow(context.Background(), "SELECT count() FROM `"+s.Database()+"`.events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows := func(n int, prefix string) []clickhouse.EventRow {
		out := make([]clickhouse.EventRow, n)
		for i := range out {
			out[i] = clickhouse.EventRow{ID: fmt.Sprintf("%s%d", prefix, i), SessionID: "s", Kind: "hook",
				TimeMS: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC).UnixMilli(), Body: []byte("{}")}
		}
		return out
	}
	waitCount := func(s *clickhouse.Store, want uint64, within time.Duration) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if count(s) == want {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return count(s) == want
	}

	t.Run("size", func(t *testing.T) {
		s := open(t, clickhouse.Options{FlushRows: 100, FlushInterval: time.Hour})
		s.Add(rows(99, "a"), nil)
		time.Sleep(200 * time.Millisecond)
		if n := count(s); n != 0 {
			t.Fatalf("%d rows sent before the buffer was full", n)
		}
		s.Add(rows(1, "b"), nil)
		if !waitCount(s, 100, 10*time.Second) {
			t.Fatalf("a full buffer was not flushed: %d rows", count(s))
		}
	})
	t.Run("interval", func(t *testing.T) {
		s := open(t, clickhouse.Options{FlushInterval: 300 * time.Millisecond})
		s.Add(rows(5, "a"), nil)
		if !waitCount(s, 5, 10*time.Second) {
			t.Fatalf("rows not flushed after the interval: %d", count(s))
		}
	})
	t.Run("close", func(t *testing.T) {
		s := open(t, clickhouse.Options{FlushInterval: time.Hour})
		other, err := clickhouse.Open(t.Context(), "clickhouse://"+hostOf(t)+"/"+s.Database(), clickhouse.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		defer other.DropDatabase(context.Background())
		s.Add(rows(7, "a"), nil)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if n := count(other); n != 7 {
			t.Fatalf("after Close: %d rows, want 7", n)
		}
	})
}

func hostOf(t *testing.T) string {
	u, err := url.Parse(os.Getenv("AGENT_TRACE_TEST_CLICKHOUSE"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestMigrateTwiceAndCheckSchema(t *testing.T) {
	// With retention: a TTL where the server has table TTLs, nothing (and no error) on 18.16.
	s := open(t, clickhouse.Options{RetentionDays: 30})
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := s.CheckSchema(t.Context()); err != nil {
		t.Fatal(err)
	}
}
