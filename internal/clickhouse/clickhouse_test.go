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
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
)

// layout is where a test's tables live: one server, or the 2-shard test cluster.
type layout struct{ name, url, cluster string }

// layouts are the layouts the services offer: one server always, the cluster when
// scripts/test-services.sh started one (in CI it must have).
func layouts(t *testing.T) []layout {
	t.Helper()
	base := os.Getenv("AGENT_TRACE_TEST_CLICKHOUSE")
	cluster, name := os.Getenv("AGENT_TRACE_TEST_CLICKHOUSE_CLUSTER"), os.Getenv("AGENT_TRACE_TEST_CLICKHOUSE_CLUSTER_NAME")
	if base == "" || (os.Getenv("CI") == "true" && cluster == "") {
		msg := "AGENT_TRACE_TEST_CLICKHOUSE(_CLUSTER) is not set: run scripts/test-services.sh and source .cache/test-services.env"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out := []layout{{name: "server", url: base}}
	if cluster != "" {
		out = append(out, layout{name: "cluster", url: cluster, cluster: name})
	}
	return out
}

// forLayouts runs test once on every layout.
func forLayouts(t *testing.T, test func(t *testing.T, l layout)) {
	for _, l := range layouts(t) {
		t.Run(l.name, func(t *testing.T) { test(t, l) })
	}
}

// open returns a migrated store on a database of its own, dropped when the test ends.
func open(t *testing.T, l layout, opts clickhouse.Options) *clickhouse.Store {
	t.Helper()
	u, err := url.Parse(l.url)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	u.Path = "/t_" + hex.EncodeToString(b)
	opts.Cluster = l.cluster
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

// DailyCost and UsageCost equal a brute-force sum over the latest version of every row,
// for ranges that start and end anywhere, after rows changed, moved and were taken back,
// and with every batch written twice (a shipper that crashed before acknowledging it).
func TestDailyCostMatchesBruteForce(t *testing.T) {
	forLayouts(t, func(t *testing.T, l layout) {
		for _, seed := range []int64{7, 8, 9} {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { checkDailyCostBruteForce(t, l, seed) })
		}
	})
}

func checkDailyCostBruteForce(t *testing.T, l layout, seed int64) {
	s := open(t, l, clickhouse.Options{})
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
		var changes []clickhouse.UsageRow
		// One change per response per version, as one re-projection makes.
		for _, n := range rng.Perm(400)[:300] {
			id := fmt.Sprintf("ev%d", n)
			old, had := live[id]
			switch {
			case had && round == 2 && rng.Intn(2) == 0:
				o := old.row
				o.Deleted, o.Version = true, version
				changes = append(changes, o)
				delete(live, id)
			default:
				r := newRow(id)
				r.Version = version
				changes = append(changes, r)
				live[id] = fact{r, version}
			}
		}
		// The rollup as the shipper writes it: every session's totals from the truth
		// (here, live), so groups that moved or emptied are zeroed by WriteSessionDays.
		sessions, days := rollup(live)
		for range 2 {
			if err := s.Write(t.Context(), nil, changes); err != nil {
				t.Fatal(err)
			}
			if err := s.WriteSessionDays(t.Context(), sessions, days, 1000+version); err != nil {
				t.Fatal(err)
			}
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
		var wantUsage agenttrace.Usage
		unpriced := map[string]bool{}
		for _, f := range live {
			at := time.UnixMilli(f.row.SessionStartedMS)
			if (!from.IsZero() && at.Before(from)) || (!to.IsZero() && !at.Before(to)) {
				continue
			}
			wantUsage = wantUsage.Add(f.row.Usage)
			if f.row.CostUSD != nil {
				wantCost += *f.row.CostUSD
			} else {
				unpriced[f.row.Model] = true
			}
		}
		got, err := s.UsageCost(t.Context(), from, to)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.CostUSD-wantCost) > 1e-9 || len(got.UnpricedModels) != len(unpriced) || got.Usage != wantUsage {
			t.Errorf("UsageCost [%v, %v) = %+v, want %v %v %+v", from, to, got, wantCost, unpriced, wantUsage)
		}
	}
}

// rollup totals the live facts per session, day and group, as PostgreSQL does for the
// shipper, and names every session the test uses.
func rollup(live map[string]fact) ([]string, []agenttrace.SessionDay) {
	type key struct {
		session, model string
		day, started   int64
		priced         bool
	}
	sums := map[key]*agenttrace.SessionDay{}
	for _, f := range live {
		r := f.row
		k := key{r.SessionID, r.Model, r.TimeMS / 86400000, r.SessionStartedMS, r.CostUSD != nil}
		d := sums[k]
		if d == nil {
			d = &agenttrace.SessionDay{SessionID: r.SessionID, Day: k.day, Model: r.Model, User: r.User, Repo: r.Repo,
				SessionStartedMS: r.SessionStartedMS, Priced: k.priced}
			sums[k] = d
		}
		d.Rows++
		d.Usage = d.Usage.Add(r.Usage)
		if r.CostUSD != nil {
			d.CostUSD += *r.CostUSD
		}
	}
	var days []agenttrace.SessionDay
	for _, d := range sums {
		days = append(days, *d)
	}
	return []string{"s0", "s1", "s2", "s3", "s4"}, days
}

// Events written twice count once; Clear empties a range, then everything; Open needs no
// server, and Ready says when there is none.
func TestWriteTwiceClearAndReady(t *testing.T) { forLayouts(t, checkWriteTwiceClearAndReady) }

func checkWriteTwiceClearAndReady(t *testing.T, l layout) {
	s := open(t, l, clickhouse.Options{})
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	var rows []clickhouse.EventRow
	for i := range 10 {
		rows = append(rows, clickhouse.EventRow{ID: fmt.Sprintf("e%d", i), SessionID: "s", Kind: "hook",
			TimeMS: day.Add(time.Duration(i%2) * 24 * time.Hour).UnixMilli(), Body: []byte("{}")})
	}
	for range 2 {
		if err := s.Write(t.Context(), rows, nil); err != nil {
			t.Fatal(err)
		}
	}
	counts := func() []agenttrace.DayCounts {
		c, err := s.DailyCounts(t.Context(), time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if got, want := counts(), []agenttrace.DayCounts{{Day: "2026-11-02", Events: 5}, {Day: "2026-11-03", Events: 5}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("counts after writing twice = %+v, want %+v", got, want)
	}
	if err := s.Clear(t.Context(), day, day.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A mutation: applied in the background, promptly on an idle server.
	for deadline := time.Now().Add(10 * time.Second); len(counts()) != 1 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got, want := counts(), []agenttrace.DayCounts{{Day: "2026-11-03", Events: 5}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("counts after clearing the first day = %+v, want %+v", got, want)
	}
	if err := s.Clear(t.Context(), time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := counts(); len(got) != 0 {
		t.Fatalf("counts after clearing all = %+v, want none", got)
	}
	if err := s.Ready(t.Context()); err != nil {
		t.Fatalf("Ready on a migrated database: %v", err)
	}
	down, err := clickhouse.Open(t.Context(), "clickhouse://127.0.0.1:1/x", clickhouse.Options{})
	if err != nil {
		t.Fatalf("Open with no server: %v", err)
	}
	defer down.Close()
	if err := down.Ready(t.Context()); err == nil {
		t.Fatal("Ready with no server: no error")
	}
}

func TestMigrateTwiceAndCheckSchema(t *testing.T) {
	forLayouts(t, func(t *testing.T, l layout) {
		// With retention: a TTL where the server has table TTLs, nothing (and no error) on 18.16.
		s := open(t, l, clickhouse.Options{RetentionDays: 30})
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if err := s.CheckSchema(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}
