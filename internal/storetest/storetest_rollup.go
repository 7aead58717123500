package storetest

import (
	"math"
	"math/rand"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// testAnalyticsAnyOrder is the rollups' property test: whatever order, duplication and
// lateness the events of many sessions arrive in (with earlier, smaller readings of some
// API responses), daily cost and summaries equal a recomputation from every event at
// once, over whole days and partial ones, and still do after a deletion.
func testAnalyticsAnyOrder(t *testing.T, s agenttrace.Store) {
	sessions := append(Generate(31, 12, 60), fixtureEvents()...)
	odd := usageEvent("s-odd-rollup", "odd1", time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC), 10, 10)
	odd.Usage.Model = "mystery-model" // unpriced: counts tokens, lists the model
	sessions = append(sessions, []event.Event{odd})
	rng := rand.New(rand.NewSource(14))
	for _, batch := range scramble(rng, sessions) {
		MustIngest(t, s, batch)
	}
	want := recompute(sessions)
	checkAnalytics(t, s, want, "scrambled")

	gone := sessions[3][0].SessionID
	if err := s.DeleteSession(ctx(t), gone); err != nil {
		t.Fatal(err)
	}
	delete(want.sessions, gone)
	want.usages = slices.DeleteFunc(want.usages, func(u sessionUsage) bool { return u.session.ID == gone })
	checkAnalytics(t, s, want, "after a deletion")
}

// fixtureEvents is every fixture session's events.
func fixtureEvents() [][]event.Event {
	var out [][]event.Event
	for _, f := range Fixtures() {
		out = append(out, f.Events)
	}
	return out
}

// scramble returns the events of sessions as batches of 1 to 20 events mixed across
// sessions: a third of them sent twice, a tenth held back to the end, and some API
// responses first as a smaller reading (the larger one replaces it).
func scramble(rng *rand.Rand, sessions [][]event.Event) [][]event.Event {
	var all, late []event.Event
	for _, evs := range sessions {
		for _, e := range evs {
			if e.Kind == event.KindUsage && e.Usage != nil && rng.Intn(4) == 0 {
				small := e
				u := *e.Usage
				u.OutputTokens /= 2
				small.Usage = &u
				all = append(all, small)
			}
			switch {
			case rng.Intn(10) == 0:
				late = append(late, e)
			case rng.Intn(3) == 0:
				all = append(all, e, e)
			default:
				all = append(all, e)
			}
		}
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	all = append(all, late...)
	var out [][]event.Event
	for len(all) > 0 {
		n := min(len(all), 1+rng.Intn(20))
		out = append(out, all[:n])
		all = all[n:]
	}
	return out
}

type sessionUsage struct {
	session *agenttrace.Session
	agenttrace.PricedUsage
}

type analyticsWant struct {
	sessions map[string]*agenttrace.Session
	usages   []sessionUsage
}

// recompute projects each session from all its events at once.
func recompute(sessions [][]event.Event) analyticsWant {
	w := analyticsWant{sessions: map[string]*agenttrace.Session{}}
	for _, evs := range sessions {
		sess, us := projection.ProjectWithUsage(evs, TestPricer{})
		w.sessions[sess.ID] = sess
		for _, u := range us {
			w.usages = append(w.usages, sessionUsage{sess, u})
		}
	}
	return w
}

// checkAnalytics compares the store's daily cost (every grouping) and summary over the
// whole span and over one cut 7 hours into its first day and 5 hours into its last.
func checkAnalytics(t *testing.T, s agenttrace.Store, want analyticsWant, when string) {
	t.Helper()
	lo, hi := want.usages[0].Time, want.usages[0].Time
	for _, u := range want.usages {
		if u.Time.Before(lo) {
			lo = u.Time
		}
		if u.Time.After(hi) {
			hi = u.Time
		}
	}
	from, to := lo.UTC().Truncate(24*time.Hour), hi.UTC().Truncate(24*time.Hour).Add(24*time.Hour)
	for _, r := range [][2]time.Time{{from, to}, {from.Add(7 * time.Hour), to.Add(-19 * time.Hour)}, {}} {
		for _, group := range []string{agenttrace.GroupBySession, agenttrace.GroupByModel, agenttrace.GroupByUser, agenttrace.GroupByRepo} {
			got, err := s.DailyCost(ctx(t), r[0], r[1], group)
			if err != nil {
				t.Fatal(err)
			}
			compareDaily(t, when+" "+group, got, wantDaily(want, r[0], r[1], group))
		}
		got, err := s.Summary(ctx(t), r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		compareSummary(t, when, got, wantSummary(want, r[0], r[1]))
		checkToolsIn(t, s, want, when, r[0], r[1])
	}
}

// checkToolsIn compares the store's tool report over [from, to) with the calls of the
// recomputed sessions that started in it.
func checkToolsIn(t *testing.T, s agenttrace.Store, want analyticsWant, when string, from, to time.Time) {
	t.Helper()
	got, err := s.Tools(ctx(t), from, to)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]*toolWant{}
	for _, sess := range want.sessions {
		for _, p := range sess.Prompts {
			addCalls(calls, p.ToolCalls, func(c agenttrace.ToolCall) bool { return inRange(c.StartedAt, from, to) })
		}
	}
	if len(calls) == 0 {
		t.Fatalf("%s: no tool calls in range: the test proves less", when)
	}
	checkToolStats(t, when+" tools", got.Tools, calls, "")
	checkToolStats(t, when+" servers", got.MCPServers, calls, "server ")
}

func inRange(at, from, to time.Time) bool {
	return (from.IsZero() || !at.Before(from)) && (to.IsZero() || at.Before(to))
}

func wantDaily(want analyticsWant, from, to time.Time, group string) []agenttrace.DailyCost {
	type key struct{ day, key string }
	sums := map[key]*agenttrace.DailyCost{}
	for _, u := range want.usages {
		if !inRange(u.Time, from, to) {
			continue
		}
		k := key{u.Time.UTC().Format(time.DateOnly), map[string]string{agenttrace.GroupBySession: u.session.ID,
			agenttrace.GroupByModel: u.Model, agenttrace.GroupByUser: u.User, agenttrace.GroupByRepo: u.session.Repo}[group]}
		d := sums[k]
		if d == nil {
			d = &agenttrace.DailyCost{Day: k.day, Key: k.key}
			sums[k] = d
		}
		d.Usage = d.Usage.Add(u.Usage)
		if u.CostUSD != nil {
			d.CostUSD += *u.CostUSD
		}
	}
	out := []agenttrace.DailyCost{}
	for _, d := range sums {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Day < out[j].Day || out[i].Day == out[j].Day && out[i].Key < out[j].Key
	})
	return out
}

func compareDaily(t *testing.T, what string, got, want []agenttrace.DailyCost) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Day != w.Day || g.Key != w.Key || g.Usage != w.Usage || math.Abs(g.CostUSD-w.CostUSD) > 1e-8 {
			t.Errorf("%s: row %d is %+v, want %+v", what, i, g, w)
		}
	}
}

// wantSummary totals the sessions that started in [from, to) and their usage's cost.
func wantSummary(want analyticsWant, from, to time.Time) agenttrace.Summary {
	var sum agenttrace.Summary
	for _, sess := range want.sessions {
		if inRange(sess.StartedAt, from, to) {
			sum.Sessions++
			sum.Prompts += sess.PromptCount
			sum.ToolCalls += sess.ToolCallCount
			sum.Commits += sess.CommitCount
			sum.Usage = sum.Usage.Add(sess.Usage)
		}
	}
	for _, u := range want.usages {
		if !inRange(u.session.StartedAt, from, to) {
			continue
		}
		if u.CostUSD == nil {
			if !contains(sum.UnpricedModels, u.Model) {
				sum.UnpricedModels = append(sum.UnpricedModels, u.Model)
			}
			continue
		}
		sum.CostUSD += *u.CostUSD
	}
	sort.Strings(sum.UnpricedModels)
	return sum
}

func compareSummary(t *testing.T, what string, got, want agenttrace.Summary) {
	t.Helper()
	if got.Sessions != want.Sessions || got.Prompts != want.Prompts || got.ToolCalls != want.ToolCalls ||
		got.Commits != want.Commits || got.Usage != want.Usage || math.Abs(got.CostUSD-want.CostUSD) > 1e-8 ||
		!slices.Equal(got.UnpricedModels, want.UnpricedModels) {
		t.Errorf("%s summary: %+v, want %+v", what, got, want)
	}
}
