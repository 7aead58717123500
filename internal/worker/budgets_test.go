package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
	"github.com/agent-trace/agent-trace/internal/worker"
)

// receiver is a real HTTP webhook receiver that fails its first failFirst requests
// with a 503 and records the bodies of the ones it accepts.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	failFirst int
	requests  int
	bodies    []map[string]any
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{failFirst: failFirst}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if r.requests <= r.failFirst {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("webhook body is not JSON: %s", raw)
		}
		r.bodies = append(r.bodies, body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() (requests int, bodies []map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, append([]map[string]any(nil), r.bodies...)
}

// dollars is an API response of user costing usd (TestPricer: $20 per million output tokens).
func dollars(session, user, msg string, at time.Time, usd float64) event.Event {
	return event.Event{
		ID: event.ID(event.KindUsage, session, msg, "req_"+msg), Kind: event.KindUsage, SessionID: session,
		Time: at, Tier: event.TierFull, User: user,
		Usage: &event.Usage{MessageID: msg, RequestID: "req_" + msg, Model: "claude-opus-5-5", OutputTokens: int64(usd * 50_000)},
	}
}

func openEmpty(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return st
}

var budgetNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newBudgetsWorker(st worker.BudgetSource) *worker.Budgets {
	return worker.NewBudgets(st, worker.BudgetsConfig{Backoff: 5 * time.Millisecond, Attempts: 4,
		DashboardURL: "http://dash.example/", Now: func() time.Time { return budgetNow }})
}

// TestBudgetThresholdsFireOnce is issue 15's acceptance test: as spend grows the 80 %
// and 100 % thresholds each fire once, a restarted server (a new worker on the reopened
// store) fires nothing again, and a receiver failing its first requests is retried
// until it receives the alert.
func TestBudgetThresholdsFireOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data.db")
	st := openEmpty(t, path)
	ok, flaky := newReceiver(t, 0), newReceiver(t, 2)
	for _, url := range []string{ok.URL, flaky.URL} {
		if _, err := st.CreateBudget(ctx, agenttrace.Budget{ScopeKind: agenttrace.ScopeKindUser, ScopeValue: "alice",
			Period: agenttrace.PeriodDaily, LimitUSD: 10, WebhookURL: url}); err != nil {
			t.Fatal(err)
		}
	}
	w := newBudgetsWorker(st)
	check := func(what string, wantOK, wantFlakyRequests int) {
		t.Helper()
		if err := w.Check(ctx); err != nil {
			t.Fatalf("%s: check: %v", what, err)
		}
		if n, _ := ok.received(); n != wantOK {
			t.Errorf("%s: receiver got %d requests, want %d", what, n, wantOK)
		}
		if n, _ := flaky.received(); n != wantFlakyRequests {
			t.Errorf("%s: flaky receiver got %d requests, want %d", what, n, wantFlakyRequests)
		}
	}
	at := budgetNow.Add(-time.Hour)
	storetest.MustIngest(t, st, []event.Event{dollars("s1", "alice", "m1", at, 7), dollars("s1", "bob", "m2", at, 50),
		dollars("s0", "alice", "m0", at.Add(-24*time.Hour), 50)}) // bob's and yesterday's spend count for nothing
	check("at 70 %", 0, 0)
	storetest.MustIngest(t, st, []event.Event{dollars("s1", "alice", "m3", at, 1)})
	check("at 80 %", 1, 3) // the flaky receiver fails twice, then takes it
	check("at 80 % again", 1, 3)
	storetest.MustIngest(t, st, []event.Event{dollars("s2", "alice", "m4", at, 2.5)})
	check("at 105 %", 2, 4)

	st.Close()
	st = openEmpty(t, path)
	defer st.Close()
	w = newBudgetsWorker(st)
	check("after a restart", 2, 4)

	_, bodies := ok.received()
	want := []float64{80, 100}
	for i, b := range bodies {
		if b["threshold"] != want[i] || b["period_start"] != "2026-03-01" || b["scope_value"] != "alice" ||
			b["limit_usd"] != 10.0 || b["dashboard_url"] != "http://dash.example/costs" {
			t.Errorf("body %d = %v", i, b)
		}
	}
	alerts, err := st.Alerts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if a.DeliveredAt == nil || a.Error != "" {
			t.Errorf("alert %+v not recorded as delivered", a)
		}
	}
}

// TestBudgetDeliveryGivesUp: a receiver that never accepts is tried a bounded number of
// times, the failure is recorded, and the alert is not fired again on the next pass.
func TestBudgetDeliveryGivesUp(t *testing.T) {
	ctx := context.Background()
	st := openEmpty(t, filepath.Join(t.TempDir(), "data.db"))
	defer st.Close()
	down := newReceiver(t, 1000)
	if _, err := st.CreateBudget(ctx, agenttrace.Budget{ScopeKind: agenttrace.ScopeKindAll, Period: agenttrace.PeriodMonthly,
		LimitUSD: 1, WebhookURL: down.URL}); err != nil {
		t.Fatal(err)
	}
	storetest.MustIngest(t, st, []event.Event{dollars("s1", "x", "m1", budgetNow, 0.9)})
	w := newBudgetsWorker(st)
	for range 2 {
		if err := w.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := down.received(); n != 4 {
		t.Errorf("requests = %d, want 4 (the attempts of one alert)", n)
	}
	alerts, _ := st.Alerts(ctx, "")
	if len(alerts) != 1 || alerts[0].Period != "2026-03" || alerts[0].Attempts != 4 || alerts[0].Error == "" || alerts[0].DeliveredAt != nil {
		t.Errorf("alerts = %+v, want one undelivered 80 %% alert after 4 attempts", alerts)
	}
}

// TestSlackBody: a Slack budget posts Slack's incoming-webhook shape, {"text": …}.
func TestSlackBody(t *testing.T) {
	ctx := context.Background()
	st := openEmpty(t, filepath.Join(t.TempDir(), "data.db"))
	defer st.Close()
	r := newReceiver(t, 0)
	if _, err := st.CreateBudget(ctx, agenttrace.Budget{ScopeKind: agenttrace.ScopeKindRepo, ScopeValue: "github.com/acme/api",
		Period: agenttrace.PeriodDaily, LimitUSD: 2, WebhookURL: r.URL, Format: agenttrace.FormatSlack}); err != nil {
		t.Fatal(err)
	}
	e := dollars("s1", "x", "m1", budgetNow, 2)
	e.Git = &event.GitState{Remote: "github.com/acme/api"}
	storetest.MustIngest(t, st, []event.Event{e})
	if err := newBudgetsWorker(st).Check(ctx); err != nil {
		t.Fatal(err)
	}
	_, bodies := r.received()
	if len(bodies) != 2 {
		t.Fatalf("bodies = %v, want 2", bodies)
	}
	for _, b := range bodies {
		text, _ := b["text"].(string)
		if len(b) != 1 || text == "" {
			t.Errorf("slack body = %v, want only a text", b)
		}
	}
	if got, want := bodies[1]["text"], ":money_with_wings: agent-trace: daily budget for repo github.com/acme/api reached 100%: $2.00 of $2.00 (2026-03-01) <http://dash.example/costs|open the dashboard>"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
}

// spinningSession is a session of user costing usd with failures failing Bash calls and
// no commit.
func spinningSession(id, user string, usd float64, failures int) []event.Event {
	at := budgetNow.Add(-time.Hour)
	evs := []event.Event{dollars(id, user, id+"-m", at, usd)}
	for i := range failures {
		tid := fmt.Sprintf("%s-t%d", id, i)
		for _, name := range []string{"PreToolUse", "PostToolUseFailure"} {
			raw, _ := json.Marshal(map[string]any{"session_id": id, "hook_event_name": name, "tool_use_id": tid,
				"tool_name": "Bash", "tool_input": map[string]any{"command": "go test ./..."}, "error": "exit status 1"})
			evs = append(evs, event.Event{ID: event.HookID(id, name, tid, "", "", raw), Kind: event.KindHook, SessionID: id,
				Time: at.Add(time.Duration(i) * time.Second), Tier: event.TierFull, User: user, HookEvent: name,
				ToolUseID: tid, ToolName: "Bash", Payload: raw})
		}
	}
	return evs
}

// TestSpinRuleFiresOncePerSession: a session with no commit, enough cost and enough
// failing tool calls fires the spin rule once; one short of either fires nothing.
func TestSpinRuleFiresOncePerSession(t *testing.T) {
	ctx := context.Background()
	st := openEmpty(t, filepath.Join(t.TempDir(), "data.db"))
	defer st.Close()
	r := newReceiver(t, 0)
	if _, err := st.CreateBudget(ctx, agenttrace.Budget{ScopeKind: agenttrace.ScopeKindAll, Period: agenttrace.PeriodSession,
		LimitUSD: 3, MinFailedCalls: 4, WebhookURL: r.URL}); err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	evs = append(evs, spinningSession("spin", "alice", 5, 4)...)
	evs = append(evs, spinningSession("cheap", "alice", 2, 9)...)
	evs = append(evs, spinningSession("fine", "alice", 9, 3)...)
	storetest.MustIngest(t, st, evs)
	w := newBudgetsWorker(st)
	for range 2 {
		if err := w.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, bodies := r.received()
	if len(bodies) != 1 {
		t.Fatalf("bodies = %v, want one", bodies)
	}
	if b := bodies[0]; b["kind"] != "spin" || b["session_id"] != "spin" || b["failed_tool_calls"] != 4.0 ||
		b["dashboard_url"] != "http://dash.example/sessions/spin" {
		t.Errorf("body = %v", b)
	}
}

// TestBudgetDeliveryRetriesOnlyWhatMaySucceed: a refusal (4xx) is permanent and tried
// once; a server error, a timeout (408) or throttling (429) is retried.
func TestBudgetDeliveryRetriesOnlyWhatMaySucceed(t *testing.T) {
	for _, tt := range []struct {
		status, wantTries int
	}{{400, 1}, {404, 1}, {408, 4}, {429, 4}, {500, 4}} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			ctx := context.Background()
			st := openEmpty(t, filepath.Join(t.TempDir(), "data.db"))
			defer st.Close()
			var tries int
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				tries++
				mu.Unlock()
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			if _, err := st.CreateBudget(ctx, agenttrace.Budget{ScopeKind: agenttrace.ScopeKindAll, Period: agenttrace.PeriodDaily,
				LimitUSD: 1, WebhookURL: srv.URL}); err != nil {
				t.Fatal(err)
			}
			storetest.MustIngest(t, st, []event.Event{dollars("s1", "x", "m1", budgetNow, 0.8)})
			if err := newBudgetsWorker(st).Check(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if tries != tt.wantTries {
				t.Errorf("tries = %d, want %d", tries, tt.wantTries)
			}
			alerts, _ := st.Alerts(ctx, "")
			if len(alerts) != 1 || alerts[0].Attempts != tt.wantTries || alerts[0].Error == "" {
				t.Errorf("alerts = %+v", alerts)
			}
		})
	}
}

// TestTeamBudget: a team budget counts the spend of the team's users only.
func TestTeamBudget(t *testing.T) {
	ctx := context.Background()
	st := openEmpty(t, filepath.Join(t.TempDir(), "data.db"))
	defer st.Close()
	r := newReceiver(t, 0)
	for _, u := range []agenttrace.User{{Name: "ada", Team: "core"}, {Name: "bob", Team: "core"}, {Name: "eve", Team: "web"}} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateBudget(ctx, agenttrace.Budget{ScopeKind: agenttrace.ScopeKindTeam, ScopeValue: "core",
		Period: agenttrace.PeriodMonthly, LimitUSD: 10, WebhookURL: r.URL}); err != nil {
		t.Fatal(err)
	}
	at := budgetNow.Add(-time.Hour)
	storetest.MustIngest(t, st, []event.Event{dollars("s1", "ada", "m1", at, 4), dollars("s2", "eve", "m2", at, 9),
		dollars("s3", "bob", "m3", at, 3.9)})
	w := newBudgetsWorker(st)
	if err := w.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.received(); n != 0 {
		t.Fatalf("fired at 79 %% of the team's spend")
	}
	storetest.MustIngest(t, st, []event.Event{dollars("s3", "bob", "m4", at, 0.1)})
	if err := w.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if _, bodies := r.received(); len(bodies) != 1 || bodies[0]["spend_usd"] != 8.0 || bodies[0]["period_start"] != "2026-03" {
		t.Errorf("bodies = %v, want one 80 %% alert at $8", bodies)
	}
}
