package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// Opener returns an empty, migrated store that prices usage with TestPricer. The suite
// calls it once per subtest and closes the store itself.
type Opener func(t *testing.T) agenttrace.Store

// Run runs the conformance suite against the stores open returns.
//
// Beyond the agenttrace.Store docs, the suite fixes these details so every backend answers
// alike: a zero From/To (or from/to) is an open end; a zero Limit is the backend's default
// page size and a limit outside 1..200 (1..1000 for Events) is ErrInvalid, as is a cursor
// the store did not make or one made for another sort order; session cost sorts with
// unknown (null) cost as -1; the prompt text query is a case-insensitive substring match
// in which % and _ are literal.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s agenttrace.Store)
	}{
		{"IngestFixtures", testIngestFixtures},
		{"OTelSession", testOTelSession},
		{"Idempotent", testIdempotent},
		{"OutOfOrderAndDuplicates", testOutOfOrder},
		{"RecaptureKeepsFirstCopy", testRecaptureKeepsFirstCopy},
		{"UsageReplaceWhenLarger", testUsageReplace},
		{"SameIDDifferentContent", testSameIDDifferentContent},
		{"UsageSidechainReplay", testUsageSidechainReplay},
		{"Invalid", testInvalid},
		{"UnknownKindsStored", testUnknownKinds},
		{"NoSecretsStored", testNoSecrets},
		{"Session", testSessionNotFound},
		{"Events", testEvents},
		{"ListPagination", testListPagination},
		{"ListCursorConcurrentInserts", testCursorConcurrentInserts},
		{"ListFilters", testListFilters},
		{"FacetsFollowSmallBatches", testFacetsFollowSmallBatches},
		{"IdleSessions", testIdleSessions},
		{"ListSorts", testListSorts},
		{"Commits", testCommits},
		{"PullRequests", testPullRequests},
		{"DailyCost", testDailyCost},
		{"Summary", testSummary},
		{"AnalyticsAnyOrder", testAnalyticsAnyOrder},
		{"SummaryGenerated", testSummaryGenerated},
		{"Breakdown", testBreakdown},
		{"Tools", testTools},
		{"DeleteSession", testDeleteSession},
		{"DeleteBefore", testDeleteBefore},
		{"Tokens", testTokens},
		{"TelemetrySources", testTelemetrySources},
		{"TokenUsers", testTokenUsers},
		{"SessionUsers", testSessionUsers},
		{"VisibleUsers", testVisibleUsers},
		{"Users", testUsers},
		{"DashboardSessions", testDashboardSessions},
		{"Audit", testAudit},
		{"Budgets", testBudgets},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// MustIngest ingests events or fails the test.
func MustIngest(tb testing.TB, s agenttrace.Store, events []event.Event) agenttrace.IngestResult {
	tb.Helper()
	res, err := s.Ingest(context.Background(), events)
	if err != nil {
		tb.Fatalf("ingest %d events: %v", len(events), err)
	}
	return res
}

// MustSession reads a session or fails the test.
func MustSession(tb testing.TB, s agenttrace.Store, id string) *agenttrace.Session {
	tb.Helper()
	sess, err := s.Session(context.Background(), id)
	if err != nil {
		tb.Fatalf("session %s: %v", id, err)
	}
	return sess
}

// EqualJSON fails the test when got and want encode differently, showing where.
func EqualJSON(tb testing.TB, what string, got, want any) {
	tb.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		tb.Fatalf("%s: encode got: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		tb.Fatalf("%s: encode want: %v", what, err)
	}
	if string(g) == string(w) {
		return
	}
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	from := max(0, i-120)
	tb.Fatalf("%s differs at byte %d:\n got: …%s…\nwant: …%s…", what, i, g[from:min(len(g), i+120)], w[from:min(len(w), i+120)])
}

func uniqueCount(events []event.Event) int {
	ids := map[string]bool{}
	for _, e := range events {
		ids[e.ID] = true
	}
	return len(ids)
}

func testIngestFixtures(t *testing.T, s agenttrace.Store) {
	for _, f := range Fixtures() {
		res := MustIngest(t, s, f.Events)
		if got, want := res.Stored, uniqueCount(f.Events); got != want {
			t.Errorf("%s: stored %d, want %d", f.Name, got, want)
		}
		if got, want := strings.Join(res.Sessions, ","), f.SessionID; got != want {
			t.Errorf("%s: sessions %q, want %q", f.Name, got, want)
		}
		got := MustSession(t, s, f.SessionID)
		EqualJSON(t, f.Name+" session", got, projection.Project(f.Events, TestPricer{}))

		// The acceptance numbers: Claude Code's own token totals exactly, its cost within
		// $0.0001.
		var want agenttrace.Usage
		for _, mu := range f.CostState.ModelUsage {
			want.InputTokens += mu.InputTokens
			want.OutputTokens += mu.OutputTokens
			want.CacheCreationInputTokens += mu.CacheCreationInputTokens
			want.CacheReadInputTokens += mu.CacheReadInputTokens
		}
		u := got.Usage
		if u.InputTokens != want.InputTokens || u.OutputTokens != want.OutputTokens ||
			u.CacheCreationInputTokens != want.CacheCreationInputTokens || u.CacheReadInputTokens != want.CacheReadInputTokens {
			t.Errorf("%s: usage %+v, want Claude Code's %+v", f.Name, u, want)
		}
		if got.CostUSD == nil || abs(*got.CostUSD-f.CostState.TotalCostUSD) > 0.0001 {
			t.Errorf("%s: cost %v, want %v", f.Name, got.CostUSD, f.CostState.TotalCostUSD)
		}
	}
	page, err := s.ListSessions(ctx(t), agenttrace.SessionFilter{Desc: true, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(page.Sessions), len(Fixtures()); got != want {
		t.Fatalf("listed %d sessions, want %d", got, want)
	}
	for _, sum := range page.Sessions {
		full := MustSession(t, s, sum.ID)
		EqualJSON(t, sum.ID+" summary", sum, full.SessionSummary)
	}
}

// testOTelSession: a session reported by OTel reads back as projected, its API
// errors, OTel cost, rejected call and request rows included, in the list too.
func testOTelSession(t *testing.T, s agenttrace.Store) {
	evs := OTelSession()
	MustIngest(t, s, evs)
	got := MustSession(t, s, OTelSessionID)
	want := projection.Project(evs, TestPricer{})
	agenttrace.MarkIdle(&want.SessionSummary, time.Now().Add(-agenttrace.DefaultIdleAfter)) // no SessionEnd
	EqualJSON(t, "otel session", got, want)
	if got.Usage.InputTokens != 3000 || got.APIErrorCount != 1 || got.OTelCostUSD == nil || *got.OTelCostUSD != 0.05 {
		t.Errorf("usage %+v, api errors %d, otel cost %v; want 3000 input tokens, 1, 0.05",
			got.Usage, got.APIErrorCount, got.OTelCostUSD)
	}
	if len(got.Subagents) != 1 || got.Subagents[0].ToolUses != 2 {
		t.Errorf("subagents %+v, want agent-1 with 2 tool uses", got.Subagents)
	}
	if len(got.Prompts) != 1 || len(got.Prompts[0].Requests) != 3 {
		t.Fatalf("prompts %+v, want one with two requests and an error", got.Prompts)
	}
	page, err := s.ListSessions(ctx(t), agenttrace.SessionFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Sessions) != 1 {
		t.Fatalf("listed %d sessions, want 1", len(page.Sessions))
	}
	EqualJSON(t, "otel summary", page.Sessions[0], got.SessionSummary)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func testIdempotent(t *testing.T, s agenttrace.Store) {
	f := Fixtures()[0]
	MustIngest(t, s, f.Events)
	before := MustSession(t, s, f.SessionID)
	res := MustIngest(t, s, f.Events)
	if res.Stored != 0 || res.Duplicates != len(f.Events) || len(res.Sessions) != 0 {
		t.Errorf("second ingest: %+v, want 0 stored, %d duplicates, no sessions", res, len(f.Events))
	}
	EqualJSON(t, "session after re-ingest", MustSession(t, s, f.SessionID), before)
	evs, err := s.Events(ctx(t), f.SessionID, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(evs.Events), uniqueCount(f.Events); got != want {
		t.Errorf("stored events %d, want %d", got, want)
	}
}

func testOutOfOrder(t *testing.T, s agenttrace.Store) {
	rng := rand.New(rand.NewSource(7))
	for _, f := range Fixtures() {
		// Every event twice, shuffled, in batches of random size.
		evs := append(append([]event.Event(nil), f.Events...), f.Events...)
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		for len(evs) > 0 {
			n := 1 + rng.Intn(5)
			if n > len(evs) {
				n = len(evs)
			}
			MustIngest(t, s, evs[:n])
			evs = evs[n:]
		}
		EqualJSON(t, f.Name, MustSession(t, s, f.SessionID), projection.Project(f.Events, TestPricer{}))
	}
}

func usageEvent(session, msg string, at time.Time, in, out int64) event.Event {
	return event.Event{
		ID: event.ID(event.KindUsage, session, msg, "req_"+msg), Kind: event.KindUsage, SessionID: session,
		Time: at, Tier: event.TierFull, User: "u",
		Usage: &event.Usage{MessageID: msg, RequestID: "req_" + msg, Model: "claude-opus-5-5", InputTokens: in, OutputTokens: out},
	}
}

func testUsageReplace(t *testing.T, s agenttrace.Store) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	small := usageEvent("s-usage", "m1", at, 100, 1)
	large := usageEvent("s-usage", "m1", at, 100, 50)
	MustIngest(t, s, []event.Event{small})
	res := MustIngest(t, s, []event.Event{large})
	if res.Duplicates != 1 || len(res.Sessions) != 1 {
		t.Errorf("larger reading: %+v, want a duplicate that changed the session", res)
	}
	if got := MustSession(t, s, "s-usage").Usage.OutputTokens; got != 50 {
		t.Errorf("output tokens after larger reading = %d, want 50", got)
	}
	res = MustIngest(t, s, []event.Event{small})
	if len(res.Sessions) != 0 {
		t.Errorf("smaller reading changed sessions %v", res.Sessions)
	}
	if got := MustSession(t, s, "s-usage").Usage.OutputTokens; got != 50 {
		t.Errorf("output tokens after smaller reading = %d, want 50", got)
	}
}

// testSameIDDifferentContent sends two copies of one event: whichever arrives first, the
// store keeps the one Project keeps (projection.PreferEvent): the richer live hook payload
// over a poorer rebuilt one, and a lower tier over a higher one.
func testSameIDDifferentContent(t *testing.T, s agenttrace.Store) {
	f := Fixtures()[0]
	var orig event.Event
	for _, e := range f.Events {
		if e.HookEvent == "UserPromptSubmit" {
			orig = e
		}
	}
	// What a transcript import rebuilds: fewer fields, a different time.
	var m map[string]any
	if err := json.Unmarshal(orig.Payload, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "permission_mode")
	poorer := orig
	poorer.Time = orig.Time.Add(-time.Second)
	poorer.Payload, _ = json.Marshal(m)
	// The same prompt captured at tier 1: no text.
	delete(m, "prompt")
	tier1 := orig
	tier1.Tier = event.TierMetadata
	tier1.Payload, _ = json.Marshal(m)

	rest := make([]event.Event, 0, len(f.Events))
	for _, e := range f.Events {
		if e.ID != orig.ID {
			rest = append(rest, e)
		}
	}
	MustIngest(t, s, rest)
	for _, step := range []struct {
		name     string
		send     event.Event
		changes  bool
		wantText string
	}{
		{"poorer copy first", poorer, true, projection.Project(append(rest, poorer), TestPricer{}).Prompts[0].Text},
		{"richer copy replaces it", orig, true, projection.Project(f.Events, TestPricer{}).Prompts[0].Text},
		{"poorer copy again", poorer, false, projection.Project(f.Events, TestPricer{}).Prompts[0].Text},
		{"lower tier wins", tier1, true, ""},
		{"higher tier again", orig, false, ""},
	} {
		res := MustIngest(t, s, []event.Event{step.send})
		first := step.name == "poorer copy first"
		if (res.Stored == 1) != first || (res.Duplicates == 1) == first || (len(res.Sessions) == 1) != step.changes {
			t.Errorf("%s: %+v, want stored %v, session changed %v", step.name, res, first, step.changes)
		}
		got := MustSession(t, s, f.SessionID)
		if got.Prompts[0].Text != step.wantText {
			t.Errorf("%s: prompt text %q, want %q", step.name, got.Prompts[0].Text, step.wantText)
		}
	}
	EqualJSON(t, "session", MustSession(t, s, f.SessionID), projection.Project(append(rest, orig, poorer, tier1), TestPricer{}))
}

// testRecaptureKeepsFirstCopy: a spool delivered twice (the same payloads captured again,
// later) changes nothing, in whichever order the copies arrive, also within one batch.
// RFC 3339 drops trailing zeros, so a later clock reading can encode longer; a store that
// took the longer encoding for the richer copy would move the first prompt after the
// second.
func testRecaptureKeepsFirstCopy(t *testing.T, s agenttrace.Store) {
	var f Fixture
	for _, fx := range Fixtures() {
		if fx.Name == "multi-prompt" {
			f = fx
		}
	}
	if f.SessionID == "" {
		t.Fatal("no multi-prompt fixture")
	}
	base := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	first := make([]event.Event, len(f.Events))
	again := make([]event.Event, len(f.Events))
	for i, e := range f.Events {
		// Whole milliseconds first, nanosecond digits on the recapture, an hour later.
		e.Time = base.Add(time.Duration(i) * time.Millisecond)
		first[i] = e
		e.Time = e.Time.Add(time.Hour + 123456789)
		again[i] = e
	}
	want := projection.Project(first, TestPricer{})
	for _, tc := range []struct {
		name    string
		batches [][]event.Event
	}{
		{"first, then the recapture", [][]event.Event{first, again}},
		{"recapture, then the first", [][]event.Event{again, first}},
		{"both in one batch", [][]event.Event{append(append([]event.Event{}, again...), first...)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s
			if err := st.DeleteSession(context.Background(), f.SessionID); err != nil && !errors.Is(err, agenttrace.ErrNotFound) {
				t.Fatal(err)
			}
			for _, b := range tc.batches {
				MustIngest(t, st, b)
			}
			got := MustSession(t, st, f.SessionID)
			for i, p := range got.Prompts {
				if p.ID != want.Prompts[i].ID || !p.StartedAt.Equal(want.Prompts[i].StartedAt) {
					t.Errorf("prompt %d = %s at %v, want %s at %v", i, p.ID, p.StartedAt, want.Prompts[i].ID, want.Prompts[i].StartedAt)
				}
			}
			EqualJSON(t, "session", got, want)
		})
	}
}

// testUsageSidechainReplay: a /btw side question's transcript replays a parent response
// with the same message.id under a new requestId (a new event ID). The response counts
// once, as the main chain read it, in the session and in the analytics.
func testUsageSidechainReplay(t *testing.T, s agenttrace.Store) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i, order := range []string{"replay first", "main first"} {
		session := fmt.Sprintf("s-btw-%d", i)
		main := usageEvent(session, "m1", at, 100, 10)
		replay := usageEvent(session, "m1", at.Add(time.Second), 100, 99)
		replay.ID = event.ID(event.KindUsage, session, "m1", "req_btw")
		replay.Usage.RequestID = "req_btw"
		replay.Usage.Sidechain = true
		other := usageEvent(session, "m2", at.Add(2*time.Second), 5, 1)
		batches := [][]event.Event{{replay}, {main, other}}
		if i == 1 {
			batches = [][]event.Event{{main}, {other, replay}}
		}
		for _, b := range batches {
			MustIngest(t, s, b)
		}
		got := MustSession(t, s, session)
		if got.Usage.OutputTokens != 11 || got.Usage.InputTokens != 105 {
			t.Errorf("%s: usage %+v, want the main chain's m1 (10 out) plus m2 (1 out)", order, got.Usage)
		}
	}
	rows, err := s.DailyCost(ctx(t), at.Truncate(24*time.Hour), at.Add(24*time.Hour), agenttrace.GroupBySession)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rows {
		if d.Usage.OutputTokens != 11 {
			t.Errorf("daily cost of %s: %+v, want 11 output tokens", d.Key, d.Usage)
		}
	}
	if len(rows) != 2 {
		t.Errorf("daily cost rows %+v, want one per session", rows)
	}
}

func testInvalid(t *testing.T, s agenttrace.Store) {
	good := Fixtures()[0].Events[0]
	for _, bad := range []func(e *event.Event){
		func(e *event.Event) { e.ID = "" },
		func(e *event.Event) { e.SessionID = "" },
		func(e *event.Event) { e.Tier = 9 },
		func(e *event.Event) { e.Time = time.Time{} },
		func(e *event.Event) { e.Payload = json.RawMessage(`{"broken"`) },
		func(e *event.Event) { e.Kind = event.KindUsage; e.Usage = nil },
	} {
		e := good
		e.ID = "evt_bad"
		bad(&e)
		_, err := s.Ingest(ctx(t), []event.Event{good, e})
		if !errors.Is(err, agenttrace.ErrInvalid) {
			t.Errorf("ingest invalid event: %v, want ErrInvalid", err)
		}
	}
	page, err := s.ListSessions(ctx(t), agenttrace.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Sessions) != 0 {
		t.Errorf("a rejected batch stored %d sessions", len(page.Sessions))
	}
	if _, err := s.Session(ctx(t), good.SessionID); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("session of a rejected batch: %v, want ErrNotFound", err)
	}
	res, err := s.Ingest(ctx(t), nil)
	if err != nil || res.Stored != 0 {
		t.Errorf("empty ingest: %+v, %v", res, err)
	}
}

// testUnknownKinds: events of kinds (or hook events) the server does not know yet are
// stored and listed, and counted, but change nothing else in the projection.
func testUnknownKinds(t *testing.T, s agenttrace.Store) {
	f := Fixtures()[0]
	at := f.Events[0].Time
	for _, e := range f.Events {
		if e.Time.Before(at) {
			at = e.Time
		}
	}
	at = at.Add(time.Millisecond) // inside the session, so its times stay as they were
	future := event.Event{ID: "evt_future_1", Kind: "telepathy", SessionID: f.SessionID, Time: at, Tier: event.TierFull,
		Payload: json.RawMessage(`{"thought":"ship it"}`)}
	hook := event.Event{ID: "evt_future_2", Kind: event.KindHook, HookEvent: "MindRead", SessionID: f.SessionID,
		Time: at, Tier: event.TierFull, Payload: json.RawMessage(`{"hook_event_name":"MindRead"}`)}
	MustIngest(t, s, append(append([]event.Event(nil), f.Events...), future, hook))
	got := MustSession(t, s, f.SessionID)
	want := projection.Project(f.Events, TestPricer{})
	if got.EventCount != want.EventCount+2 {
		t.Errorf("event_count %d, want %d", got.EventCount, want.EventCount+2)
	}
	got.EventCount = want.EventCount
	EqualJSON(t, "session", got, want)
	page, err := s.Events(ctx(t), f.SessionID, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range page.Events {
		if e.ID == future.ID || e.ID == hook.ID {
			found++
			EqualJSON(t, "stored unknown event", e, map[string]event.Event{future.ID: future, hook.ID: hook}[e.ID])
		}
	}
	if found != 2 {
		t.Errorf("found %d of the 2 unknown events in the timeline", found)
	}
}

// FixtureSecrets are the secrets the `secrets` fixture's session handled. The hook redacts
// them before anything is stored; no store may return them.
var FixtureSecrets = []string{"AKIAIOSFODNN7EXAMPLE", "hunter2"}

// testNoSecrets reads back everything the fixtures stored, through every listing, and
// finds none of the fixture's secrets.
func testNoSecrets(t *testing.T, s agenttrace.Store) {
	var raw strings.Builder
	for _, f := range Fixtures() {
		for _, h := range f.Hooks {
			raw.Write(h)
		}
	}
	for _, secret := range FixtureSecrets {
		if !strings.Contains(raw.String(), secret) {
			t.Fatalf("the recorded payloads lack %q; the test proves nothing", secret)
		}
	}
	all := ingestFixtures(t, s)
	var out []any
	for id := range all {
		out = append(out, MustSession(t, s, id))
		page, err := s.Events(ctx(t), id, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page)
	}
	list, err := s.ListSessions(ctx(t), agenttrace.SessionFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	commits, err := s.Commits(ctx(t), agenttrace.CommitFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	prs, err := s.PullRequests(ctx(t), agenttrace.CommitFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, list, commits, prs)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range FixtureSecrets {
		if strings.Contains(string(b), secret) {
			t.Errorf("the store returns the secret %q", secret)
		}
	}
}

func testSessionNotFound(t *testing.T, s agenttrace.Store) {
	if _, err := s.Session(ctx(t), "nope"); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("Session(nope) = %v, want ErrNotFound", err)
	}
	if _, err := s.Events(ctx(t), "nope", "", 10); !errors.Is(err, agenttrace.ErrNotFound) {
		t.Errorf("Events(nope) = %v, want ErrNotFound", err)
	}
}

// testTelemetrySources: the last arrival per source survives, a late record of an
// earlier time does not move it back, and "" answers the newest of any source.
func testTelemetrySources(t *testing.T, s agenttrace.Store) {
	c := ctx(t)
	if got, err := s.TelemetrySeen(c, ""); err != nil || !got.IsZero() {
		t.Fatalf("before any: %v, %v; want zero", got, err)
	}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range []struct {
		source string
		at     time.Time
	}{
		{"dev-a", t0}, {"dev-b", t0.Add(time.Minute)}, {"dev-a", t0.Add(2 * time.Minute)},
		{"dev-a", t0.Add(time.Second)}, // late and earlier: ignored
	} {
		if err := s.SawTelemetry(c, r.source, r.at); err != nil {
			t.Fatalf("saw %s: %v", r.source, err)
		}
	}
	for _, tt := range []struct {
		source string
		want   time.Time
	}{
		{"dev-a", t0.Add(2 * time.Minute)}, {"dev-b", t0.Add(time.Minute)},
		{"", t0.Add(2 * time.Minute)}, {"dev-c", time.Time{}},
	} {
		got, err := s.TelemetrySeen(c, tt.source)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("seen %q = %v, %v; want %v", tt.source, got, err, tt.want)
		}
	}
}

func testPing(t *testing.T, s agenttrace.Store) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("ping: %v", err)
	}
}
