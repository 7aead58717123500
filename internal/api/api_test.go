package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/api"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/live"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// wide covers every fixture, whatever day it was shifted to.
const wide = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"

type env struct {
	api   *api.API
	store *sqlite.Store
	hub   *live.Hub
	http  humatest.TestAPI
}

func mustEnv(tb testing.TB, opts api.Options) *env {
	tb.Helper()
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "data.db"), sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	hub := live.New(live.WithHeartbeat(time.Hour))
	a := api.New(s, hub, opts)
	tb.Cleanup(func() {
		hub.Close()
		a.Close()
		s.Close()
	})
	return &env{api: a, store: s, hub: hub, http: humatest.Wrap(tb, a.Huma())}
}

var fixtures = storetest.Fixtures()

func fixture(tb testing.TB, name string) storetest.Fixture {
	tb.Helper()
	for _, f := range fixtures {
		if f.Name == name {
			return f
		}
	}
	tb.Fatalf("no fixture %q", name)
	return storetest.Fixture{}
}

func batchBody(tb testing.TB, events []event.Event) *bytes.Reader {
	tb.Helper()
	b, err := json.Marshal(event.Batch{Events: events})
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.NewReader(b)
}

func decode[T any](tb testing.TB, body []byte) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("decode %T: %v\n%s", v, err, body)
	}
	return v
}

func mustIngest(tb testing.TB, e *env, events []event.Event, headers ...any) api.IngestResponse {
	tb.Helper()
	args := append([]any{batchBody(tb, events)}, headers...)
	resp := e.http.Post("/v1/hooks", args...)
	if resp.Code != http.StatusOK {
		tb.Fatalf("ingest: status %d: %s", resp.Code, resp.Body)
	}
	return decode[api.IngestResponse](tb, resp.Body.Bytes())
}

func mustIngestAll(tb testing.TB, e *env) int {
	tb.Helper()
	n := 0
	for _, f := range fixtures {
		got := mustIngest(tb, e, f.Events)
		n += got.Stored
	}
	return n
}

type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

func mustProblem(tb testing.TB, resp *httptest.ResponseRecorder, status int) problem {
	tb.Helper()
	if resp.Code != status {
		tb.Fatalf("status = %d, want %d: %s", resp.Code, status, resp.Body)
	}
	if got, want := resp.Header().Get("Content-Type"), "application/problem+json"; got != want {
		tb.Errorf("Content-Type = %q, want %q", got, want)
	}
	p := decode[problem](tb, resp.Body.Bytes())
	if p.Status != status {
		tb.Errorf("problem status = %d, want %d", p.Status, status)
	}
	return p
}

// countSessions is how many sessions the store holds: all of them (a listing stops at a
// page of 200, after which a check built on it could no longer fail), counted by one
// aggregate query.
func countSessions(tb testing.TB, e *env) int {
	tb.Helper()
	sum, err := e.store.Summary(context.Background(), time.Unix(0, 0), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	return sum.Sessions
}

func TestIngestIsIdempotentAndReadable(t *testing.T) {
	e := mustEnv(t, api.Options{})
	total := 0
	for _, f := range fixtures {
		total += len(uniqueIDs(f.Events))
	}
	if got := mustIngestAll(t, e); got != total {
		t.Fatalf("stored = %d, want %d", got, total)
	}
	// Sending everything again stores nothing new.
	for _, f := range fixtures {
		got := mustIngest(t, e, f.Events)
		if got.Stored != 0 || got.Duplicates != len(f.Events) {
			t.Errorf("%s resent: %+v, want 0 stored, %d duplicates", f.Name, got, len(f.Events))
		}
	}

	resp := e.http.Get("/v1/sessions?limit=200")
	page := decode[agenttrace.SessionPage](t, resp.Body.Bytes())
	if got, want := len(page.Sessions), len(fixtures); got != want {
		t.Fatalf("sessions = %d, want %d", got, want)
	}
	if page.NextCursor != "" {
		t.Errorf("next_cursor = %q on the only page", page.NextCursor)
	}
	for i := 1; i < len(page.Sessions); i++ {
		if page.Sessions[i].StartedAt.After(page.Sessions[i-1].StartedAt) {
			t.Errorf("sessions not newest first at %d", i)
		}
	}

	for _, f := range fixtures {
		t.Run(f.Name, func(t *testing.T) {
			resp := e.http.Get("/v1/sessions/" + f.SessionID)
			if resp.Code != http.StatusOK {
				t.Fatalf("status %d: %s", resp.Code, resp.Body)
			}
			// The contract's field names, checked on the raw JSON.
			var raw map[string]any
			_ = json.Unmarshal(resp.Body.Bytes(), &raw)
			for _, k := range []string{"id", "started_at", "status", "prompts", "usage", "cost_usd", "reported_cost_usd", "commits", "pull_requests", "lines_added"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("session JSON lacks %q", k)
				}
			}
			s := decode[agenttrace.Session](t, resp.Body.Bytes())
			var wantPrompts, gotPrompts []string
			wantTools := map[string]bool{}
			for _, ev := range f.Events {
				if ev.HookEvent == "UserPromptSubmit" && ev.PromptID != "" && !slices.Contains(wantPrompts, ev.PromptID) {
					wantPrompts = append(wantPrompts, ev.PromptID)
				}
				if ev.Kind == event.KindHook && ev.ToolUseID != "" {
					wantTools[ev.ToolUseID] = true
				}
			}
			gotTools := map[string]int{}
			var walk func([]agenttrace.ToolCall)
			walk = func(calls []agenttrace.ToolCall) {
				for _, c := range calls {
					gotTools[c.ID]++
					walk(c.Children)
				}
			}
			for _, p := range s.Prompts {
				gotPrompts = append(gotPrompts, p.ID)
				walk(p.ToolCalls)
			}
			if !slices.Equal(gotPrompts, wantPrompts) {
				t.Errorf("prompts = %v, want %v", gotPrompts, wantPrompts)
			}
			for id := range wantTools {
				if gotTools[id] != 1 {
					t.Errorf("tool call %s appears %d times, want once", id, gotTools[id])
				}
			}

			// Walking the event pages returns every stored event once, oldest first.
			seen := map[string]bool{}
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("event pagination does not end")
				}
				resp := e.http.Get("/v1/sessions/" + f.SessionID + "/events?limit=7&cursor=" + url.QueryEscape(cursor))
				if resp.Code != http.StatusOK {
					t.Fatalf("events: status %d: %s", resp.Code, resp.Body)
				}
				p := decode[agenttrace.EventPage](t, resp.Body.Bytes())
				if len(p.Events) > 7 {
					t.Fatalf("page of %d events, limit 7", len(p.Events))
				}
				for _, ev := range p.Events {
					if seen[ev.ID] {
						t.Fatalf("event %s on two pages", ev.ID)
					}
					seen[ev.ID] = true
				}
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			if got, want := len(seen), len(uniqueIDs(f.Events)); got != want {
				t.Errorf("events listed = %d, want %d", got, want)
			}
		})
	}
}

func uniqueIDs(events []event.Event) map[string]bool {
	m := map[string]bool{}
	for _, e := range events {
		m[e.ID] = true
	}
	return m
}

func TestIngestRejectsBadInputAndStoresNothing(t *testing.T) {
	good := fixture(t, "commit").Events[:5]
	withBad := func(mutate func(*event.Event)) []event.Event {
		evs := slices.Clone(good)
		mutate(&evs[2])
		return evs
	}
	tooMany := make([]event.Event, event.MaxBatchEvents+1)
	for i := range tooMany {
		tooMany[i] = good[0]
		tooMany[i].ID = fmt.Sprintf("evt_%d", i)
	}
	tests := []struct {
		name     string
		body     string
		status   int
		location string // the first error's location, when it matters
	}{
		{"empty body", "", http.StatusBadRequest, ""},
		{"not JSON", "hello", http.StatusBadRequest, "body"},
		{"truncated", `{"events": [{"id": "x"`, http.StatusBadRequest, "body"},
		{"trailing garbage", `{"events": []} x`, http.StatusBadRequest, "body"},
		{"array", `[1, 2]`, http.StatusUnprocessableEntity, "body"},
		{"no events key", `{}`, http.StatusUnprocessableEntity, "body.events"},
		{"null events", `{"events": null}`, http.StatusUnprocessableEntity, "body.events"},
		{"wrong type", `{"events": [{"id": "e", "tier": "two"}]}`, http.StatusUnprocessableEntity, "body.events.tier"},
		{"bad time", `{"events": [{"id": "e", "time": "yesterday"}]}`, http.StatusUnprocessableEntity, "body"},
		{"missing session_id", mustJSON(t, event.Batch{Events: withBad(func(e *event.Event) { e.SessionID = "" })}), http.StatusUnprocessableEntity, "body.events[2].session_id"},
		{"bad tier", mustJSON(t, event.Batch{Events: withBad(func(e *event.Event) { e.Tier = 9 })}), http.StatusUnprocessableEntity, "body.events[2].tier"},
		{"hook without hook_event", mustJSON(t, event.Batch{Events: withBad(func(e *event.Event) { e.HookEvent = "" })}), http.StatusUnprocessableEntity, "body.events[2].hook_event"},
		{"too many events", mustJSON(t, event.Batch{Events: tooMany}), http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEnv(t, api.Options{})
			resp := e.http.Post("/v1/hooks", strings.NewReader(tt.body), "Content-Type: application/json")
			p := mustProblem(t, resp, tt.status)
			if tt.location != "" {
				if len(p.Errors) == 0 || p.Errors[0].Location != tt.location {
					t.Errorf("errors = %+v, want first at %s", p.Errors, tt.location)
				}
			}
			if n := countSessions(t, e); n != 0 {
				t.Errorf("%d sessions stored from a rejected request", n)
			}
		})
	}

	t.Run("body too large", func(t *testing.T) {
		e := mustEnv(t, api.Options{MaxBodyBytes: 4096})
		body := mustJSON(t, event.Batch{Events: fixture(t, "multi-prompt").Events})
		if len(body) <= 4096 {
			t.Fatalf("fixture body only %d bytes", len(body))
		}
		mustProblem(t, e.http.Post("/v1/hooks", strings.NewReader(body)), http.StatusRequestEntityTooLarge)
		if n := countSessions(t, e); n != 0 {
			t.Errorf("%d sessions stored from a rejected request", n)
		}
	})

	t.Run("collector listener answers the same", func(t *testing.T) {
		e := mustEnv(t, api.Options{})
		srv := httptest.NewServer(e.api.CollectorHandler())
		defer srv.Close()
		resp, err := http.Post(srv.URL+"/v1/hooks", "application/json", strings.NewReader("{not json"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusBadRequest; got != want {
			t.Errorf("status = %d, want %d", got, want)
		}
		// The collector serves only ingest and health.
		for path, want := range map[string]int{"/healthz": 200, "/v1/sessions": 404, "/openapi.json": 404} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("collector GET %s = %d, want %d", path, resp.StatusCode, want)
			}
		}
	})
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestListSessionsPaginationAndFilters(t *testing.T) {
	e := mustEnv(t, api.Options{})
	mustIngestAll(t, e)

	t.Run("cursor walk visits each session once", func(t *testing.T) {
		for _, limit := range []int{1, 2, 5, 6, 200} {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(fixtures)+1 {
					t.Fatalf("limit %d: pagination does not end", limit)
				}
				resp := e.http.Get(fmt.Sprintf("/v1/sessions?limit=%d&cursor=%s", limit, url.QueryEscape(cursor)))
				if resp.Code != http.StatusOK {
					t.Fatalf("status %d: %s", resp.Code, resp.Body)
				}
				p := decode[agenttrace.SessionPage](t, resp.Body.Bytes())
				if len(p.Sessions) > limit {
					t.Fatalf("limit %d: page of %d", limit, len(p.Sessions))
				}
				for _, s := range p.Sessions {
					got = append(got, s.ID)
				}
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			slices.Sort(got)
			if len(slices.Compact(slices.Clone(got))) != len(got) || len(got) != len(fixtures) {
				t.Errorf("limit %d: sessions %v, want each of %d once", limit, got, len(fixtures))
			}
		}
	})

	t.Run("limits are validated", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=201", "limit=-1", "limit=abc", "status=paused", "sort=name", "order=up", "has_commits=maybe", "from=yesterday", "cursor=garbage", "sort=cost&cursor=Zm9vYmFy"} {
			mustProblem(t, e.http.Get("/v1/sessions?"+q), http.StatusUnprocessableEntity)
		}
	})

	commitSession := fixture(t, "commit").SessionID
	tests := []struct {
		query string
		want  func(agenttrace.SessionSummary) bool
		min   int // at least this many match
	}{
		{"user=" + storetest.FixtureUser, func(s agenttrace.SessionSummary) bool { return s.User == storetest.FixtureUser }, len(fixtures)},
		{"user=nobody", nil, 0},
		{"repo=" + url.QueryEscape(storetest.FixtureRepo), func(s agenttrace.SessionSummary) bool { return s.Repo == storetest.FixtureRepo }, 1},
		{"has_commits=true", func(s agenttrace.SessionSummary) bool { return s.CommitCount > 0 }, 1},
		{"has_commits=false", func(s agenttrace.SessionSummary) bool { return s.CommitCount == 0 }, 1},
		{"status=ended", func(s agenttrace.SessionSummary) bool { return s.Status == agenttrace.StatusEnded }, 0},
		{"model=claude-opus-5-5", func(s agenttrace.SessionSummary) bool { return slices.Contains(s.Models, "claude-opus-5-5") }, 1},
		{"from=2100-01-01T00:00:00Z", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp := e.http.Get("/v1/sessions?limit=200&" + tt.query)
			if resp.Code != http.StatusOK {
				t.Fatalf("status %d: %s", resp.Code, resp.Body)
			}
			p := decode[agenttrace.SessionPage](t, resp.Body.Bytes())
			if len(p.Sessions) < tt.min {
				t.Errorf("%d sessions, want at least %d", len(p.Sessions), tt.min)
			}
			if tt.want == nil && len(p.Sessions) != 0 {
				t.Errorf("%d sessions, want none", len(p.Sessions))
			}
			for _, s := range p.Sessions {
				if tt.want != nil && !tt.want(s) {
					t.Errorf("session %s does not match %s", s.ID, tt.query)
				}
			}
			if tt.query == "has_commits=true" && !slices.ContainsFunc(p.Sessions, func(s agenttrace.SessionSummary) bool { return s.ID == commitSession }) {
				t.Errorf("the commit fixture is missing")
			}
		})
	}

	t.Run("sort by cost both ways", func(t *testing.T) {
		cost := func(s agenttrace.SessionSummary) float64 {
			if s.CostUSD == nil {
				return -1
			}
			return *s.CostUSD
		}
		for _, order := range []string{"asc", "desc"} {
			p := decode[agenttrace.SessionPage](t, e.http.Get("/v1/sessions?sort=cost&order="+order).Body.Bytes())
			for i := 1; i < len(p.Sessions); i++ {
				a, b := cost(p.Sessions[i-1]), cost(p.Sessions[i])
				if (order == "asc" && a > b) || (order == "desc" && a < b) {
					t.Errorf("%s: %v then %v", order, a, b)
				}
			}
		}
	})
}

func TestGitAnalyticsAndNotFound(t *testing.T) {
	e := mustEnv(t, api.Options{})
	mustIngestAll(t, e)

	cp := decode[agenttrace.CommitPage](t, e.http.Get("/v1/commits?limit=200").Body.Bytes())
	if len(cp.Commits) == 0 {
		t.Fatal("no commits listed")
	}
	commitFix := fixture(t, "commit")
	one := decode[agenttrace.CommitPage](t, e.http.Get("/v1/commits?session_id="+commitFix.SessionID).Body.Bytes())
	for _, c := range one.Commits {
		if c.SessionID != commitFix.SessionID {
			t.Errorf("commit %s of session %s listed for %s", c.SHA, c.SessionID, commitFix.SessionID)
		}
	}
	if len(one.Commits) == 0 {
		t.Error("the commit fixture has no commit")
	}
	page1 := decode[agenttrace.CommitPage](t, e.http.Get("/v1/commits?limit=1").Body.Bytes())
	if len(cp.Commits) > 1 && page1.NextCursor == "" {
		t.Error("limit=1 with more commits gives no next_cursor")
	}

	prs := decode[agenttrace.PullRequestPage](t, e.http.Get("/v1/pull-requests").Body.Bytes())
	if len(prs.PullRequests) == 0 {
		t.Error("no pull requests listed")
	}

	resp := e.http.Get("/v1/analytics/cost/daily?group_by=model&" + wide)
	if resp.Code != http.StatusOK {
		t.Fatalf("daily: %d %s", resp.Code, resp.Body)
	}
	daily := decode[struct {
		Days []agenttrace.DailyCost `json:"days"`
	}](t, resp.Body.Bytes())
	var dailyTotal float64
	for _, d := range daily.Days {
		dailyTotal += d.CostUSD
	}
	sum := decode[agenttrace.Summary](t, e.http.Get("/v1/analytics/summary?"+wide).Body.Bytes())
	if sum.Sessions != len(fixtures) {
		t.Errorf("summary sessions = %d, want %d", sum.Sessions, len(fixtures))
	}
	if diff := dailyTotal - sum.CostUSD; diff > 1e-6 || diff < -1e-6 {
		t.Errorf("daily total %v != summary cost %v", dailyTotal, sum.CostUSD)
	}
	mustProblem(t, e.http.Get("/v1/analytics/cost/daily?group_by=planet"), http.StatusUnprocessableEntity)
	mustProblem(t, e.http.Get("/v1/analytics/summary?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"), http.StatusUnprocessableEntity)
	if got := e.http.Get("/v1/analytics/summary").Code; got != http.StatusOK {
		t.Errorf("summary with default range: %d", got)
	}

	mustProblem(t, e.http.Get("/v1/sessions/no-such-session"), http.StatusNotFound)
	mustProblem(t, e.http.Get("/v1/sessions/no-such-session/events"), http.StatusNotFound)
	mustProblem(t, e.http.Delete("/v1/sessions/no-such-session"), http.StatusNotFound)

	victim := fixture(t, "secrets").SessionID
	if got := e.http.Delete("/v1/sessions/" + victim).Code; got != http.StatusNoContent {
		t.Fatalf("delete: %d", got)
	}
	mustProblem(t, e.http.Get("/v1/sessions/"+victim), http.StatusNotFound)
	mustProblem(t, e.http.Get("/v1/sessions/"+victim+"/events"), http.StatusNotFound)
}

func TestAuthScopes(t *testing.T) {
	e := mustEnv(t, api.Options{Auth: true})
	ctx := context.Background()
	secrets := map[string]string{}
	for _, scope := range []string{agenttrace.ScopeIngest, agenttrace.ScopeRead, agenttrace.ScopeAdmin, "revoked"} {
		secret, err := auth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		tokScope := scope
		if scope == "revoked" {
			tokScope = agenttrace.ScopeAdmin
		}
		if err := e.store.CreateToken(ctx, agenttrace.Token{ID: "tok_" + scope, Name: scope, Scope: tokScope, CreatedAt: time.Now()}, auth.HashSecret(secret)); err != nil {
			t.Fatal(err)
		}
		secrets[scope] = secret
	}
	if err := e.store.RevokeToken(ctx, "tok_revoked"); err != nil {
		t.Fatal(err)
	}
	f := fixture(t, "commit")

	type call struct {
		method, path string
		body         func() any
	}
	ingest := call{"POST", "/v1/hooks", func() any { return batchBody(t, f.Events[:3]) }}
	read := call{"GET", "/v1/sessions", nil}
	del := call{"DELETE", "/v1/sessions/no-such-session", nil} // 404 once allowed
	metrics := call{"GET", "/metrics", nil}
	health := call{"GET", "/healthz", nil}
	tests := []struct {
		call  call
		token string
		want  int
	}{
		{ingest, "", 401}, {ingest, "at_wrong", 401}, {ingest, "revoked", 401},
		{ingest, agenttrace.ScopeIngest, 200}, {ingest, agenttrace.ScopeRead, 403}, {ingest, agenttrace.ScopeAdmin, 200},
		{read, "", 401}, {read, agenttrace.ScopeIngest, 403}, {read, agenttrace.ScopeRead, 200}, {read, agenttrace.ScopeAdmin, 200},
		{del, agenttrace.ScopeRead, 403}, {del, agenttrace.ScopeIngest, 403}, {del, agenttrace.ScopeAdmin, 404},
		{metrics, "", 401}, {metrics, agenttrace.ScopeIngest, 403}, {metrics, agenttrace.ScopeRead, 200},
		{health, "", 200},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s as %q", tt.call.method, tt.call.path, tt.token), func(t *testing.T) {
			var args []any
			if tt.call.body != nil {
				args = append(args, tt.call.body())
			}
			if tt.token != "" {
				secret := secrets[tt.token]
				if secret == "" {
					secret = tt.token
				}
				args = append(args, "Authorization: Bearer "+secret)
			}
			resp := e.http.Do(tt.call.method, tt.call.path, args...)
			if resp.Code != tt.want {
				t.Fatalf("status = %d, want %d: %s", resp.Code, tt.want, resp.Body)
			}
			if tt.want == 401 && !strings.HasPrefix(resp.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge")
			}
		})
	}

	t.Run("cookie", func(t *testing.T) {
		session := mustSession(t, e, "tok_"+agenttrace.ScopeRead)
		if resp := e.http.Get("/v1/sessions", "Cookie: "+auth.CookieName+"="+session); resp.Code != http.StatusOK {
			t.Errorf("status = %d with the read token's session in the cookie", resp.Code)
		}
		// The cookie holds a session, not a secret: the token there is refused, and the
		// session id is no bearer token.
		if resp := e.http.Get("/v1/sessions", "Cookie: "+auth.CookieName+"="+secrets[agenttrace.ScopeRead]); resp.Code != http.StatusUnauthorized {
			t.Errorf("status = %d with the read token itself in the cookie, want 401", resp.Code)
		}
		if resp := e.http.Get("/v1/sessions", "Authorization: Bearer "+session); resp.Code != http.StatusUnauthorized {
			t.Errorf("status = %d with the session id as a bearer token, want 401", resp.Code)
		}
		// Ending the session (logout) closes the API to it at once.
		if _, err := e.api.Sessions().End(ctx, session); err != nil {
			t.Fatal(err)
		}
		if resp := e.http.Get("/v1/sessions", "Cookie: "+auth.CookieName+"="+session); resp.Code != http.StatusUnauthorized {
			t.Errorf("status = %d with an ended session, want 401", resp.Code)
		}
	})

	t.Run("Authenticate for the dashboard", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		if _, err := e.api.Authenticate(r); err != auth.ErrUnauthenticated {
			t.Errorf("no credentials: err = %v, want ErrUnauthenticated", err)
		}
		r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: mustSession(t, e, "tok_"+agenttrace.ScopeIngest)})
		tok, err := e.api.Authorize(r, agenttrace.ScopeRead)
		if err != auth.ErrForbidden || tok == nil || tok.ID != "tok_ingest" {
			t.Errorf("ingest token for read: %v, %v; want the token and ErrForbidden", tok, err)
		}
	})
}

// mustSession starts a dashboard session for the token tokenID and returns its id.
func mustSession(tb testing.TB, e *env, tokenID string) string {
	tb.Helper()
	id, _, err := e.api.Sessions().Start(context.Background(), &agenttrace.Token{ID: tokenID}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func TestAuthTurnsOnWithTheFirstToken(t *testing.T) {
	e := mustEnv(t, api.Options{})
	if got := e.http.Get("/v1/sessions").Code; got != http.StatusOK {
		t.Fatalf("without tokens: %d, want 200 (auth off)", got)
	}
	if err := e.store.CreateToken(context.Background(), agenttrace.Token{ID: "t1", Name: "n", Scope: agenttrace.ScopeRead, CreatedAt: time.Now()}, auth.HashSecret("at_x")); err != nil {
		t.Fatal(err)
	}
	// A fresh API sees the token at once; a running one within a few seconds.
	a := api.New(e.store, e.hub, api.Options{})
	defer a.Close()
	h := humatest.Wrap(t, a.Huma())
	if got := h.Get("/v1/sessions").Code; got != http.StatusUnauthorized {
		t.Errorf("with a token in the store: %d, want 401", got)
	}
	if got := h.Get("/v1/sessions", "Authorization: Bearer at_x").Code; got != http.StatusOK {
		t.Errorf("with the token: %d, want 200", got)
	}
}

func TestStoreFailureIs503(t *testing.T) {
	e := mustEnv(t, api.Options{})
	if got := e.http.Get("/readyz").Code; got != http.StatusOK {
		t.Fatalf("readyz = %d", got)
	}
	if got := e.http.Get("/v1/sessions").Code; got != http.StatusOK {
		t.Fatalf("sessions = %d", got)
	}
	e.store.Close()
	for _, c := range []struct{ method, path string }{{"GET", "/v1/sessions"}, {"GET", "/readyz"}, {"GET", "/v1/sessions/x"}} {
		mustProblem(t, e.http.Do(c.method, c.path), http.StatusServiceUnavailable)
	}
	resp := e.http.Post("/v1/hooks", batchBody(t, fixture(t, "commit").Events[:2]))
	mustProblem(t, resp, http.StatusServiceUnavailable)
	if resp.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if got := e.http.Get("/healthz").Code; got != http.StatusOK {
		t.Errorf("healthz = %d while the store is down, want 200 (liveness)", got)
	}
	metrics := e.http.Get("/metrics").Body.String()
	if !strings.Contains(metrics, `agent_trace_store_errors_total{op="ingest"} 1`) {
		t.Errorf("store error not counted:\n%s", grep(metrics, "agent_trace_store"))
	}
}

func TestOpenAPIDocumentsEveryOperation(t *testing.T) {
	e := mustEnv(t, api.Options{})
	resp := e.http.Get("/openapi.json")
	if resp.Code != http.StatusOK {
		t.Fatalf("status %d", resp.Code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(resp.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	want := map[string][]string{
		"/v1/hooks":                {"post"},
		"/v1/sessions":             {"get"},
		"/v1/sessions/{id}":        {"get", "delete"},
		"/v1/sessions/{id}/events": {"get"},
		"/v1/commits":              {"get"},
		"/v1/pull-requests":        {"get"},
		"/v1/analytics/cost/daily": {"get"},
		"/v1/analytics/summary":    {"get"},
		"/v1/stream":               {"get"},
		"/healthz":                 {"get"},
		"/readyz":                  {"get"},
	}
	for path, methods := range want {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			if !ok {
				t.Errorf("%s %s not documented", m, path)
				continue
			}
			if !strings.Contains(string(op), `"description"`) {
				t.Errorf("%s %s has no description", m, path)
			}
			if strings.HasPrefix(path, "/v1/") && path != "/v1/hooks" && m == "get" && !strings.Contains(string(op), `"example"`) {
				t.Errorf("%s %s has no example", m, path)
			}
		}
	}
	var hooks struct {
		RequestBody struct {
			Content map[string]struct {
				Schema  map[string]any `json:"schema"`
				Example any            `json:"example"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	_ = json.Unmarshal(doc.Paths["/v1/hooks"]["post"], &hooks)
	if len(hooks.RequestBody.Content) != 1 || hooks.RequestBody.Content["application/json"].Example == nil {
		t.Errorf("ingest body: %+v, want only application/json with an example", hooks.RequestBody.Content)
	}
	if got := e.http.Get("/docs").Code; got != http.StatusOK {
		t.Errorf("/docs = %d", got)
	}
}

func TestMetricsCountIngest(t *testing.T) {
	e := mustEnv(t, api.Options{})
	f := fixture(t, "commit")
	first := mustIngest(t, e, f.Events)
	mustIngest(t, e, f.Events[:3])
	e.http.Post("/v1/hooks", strings.NewReader("nope"))
	m := e.http.Get("/metrics").Body.String()
	for _, want := range []string{
		fmt.Sprintf("agent_trace_ingest_events_total %d", first.Stored),
		"agent_trace_ingest_duplicates_total 3",
		`agent_trace_ingest_batches_total{outcome="ok"} 2`,
		`agent_trace_ingest_batches_total{outcome="malformed"} 1`,
		"agent_trace_ingest_duration_seconds_count 2",
		"agent_trace_sse_subscribers 0",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, grep(m, "agent_trace"))
		}
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// sse reads a text/event-stream in the background.
type sse struct {
	events chan sseEvent
	cancel context.CancelFunc
}

type sseEvent struct{ ID, Event, Data string }

func mustStream(tb testing.TB, rawURL string, header http.Header) *sse {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", rawURL, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		tb.Fatalf("stream: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{events: make(chan sseEvent, 1000), cancel: cancel}
	connected := make(chan struct{})
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		once := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":") && !once:
				once = true
				close(connected)
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(2 * time.Second):
		tb.Fatal("stream not connected within 2s")
	}
	return s
}

// until collects events until one satisfies stop, failing after within.
func (s *sse) until(tb testing.TB, within time.Duration, stop func(sseEvent) bool) []sseEvent {
	tb.Helper()
	var got []sseEvent
	deadline := time.After(within)
	for {
		select {
		case ev := <-s.events:
			got = append(got, ev)
			if stop(ev) {
				return got
			}
		case <-deadline:
			tb.Fatalf("not seen within %v; got %+v", within, got)
			return nil
		}
	}
}

func TestStreamPushesChangesAndResumes(t *testing.T) {
	e := mustEnv(t, api.Options{})
	srv := httptest.NewServer(e.api.Handler())
	defer srv.Close()
	defer e.hub.Close() // before srv.Close, which waits for open streams
	f := fixture(t, "multi-prompt")
	var hooks []event.Event
	for _, ev := range f.Events {
		if ev.Kind == event.KindHook {
			hooks = append(hooks, ev)
		}
	}
	// Split before the last prompt, so prompts are created on both sides of the gap.
	half := slices.IndexFunc(hooks[2:], func(ev event.Event) bool { return ev.HookEvent == "UserPromptSubmit" }) + 2
	if half < 3 {
		t.Fatalf("fixture %s has one prompt", f.Name)
	}

	s := mustStream(t, srv.URL+"/v1/stream", nil)
	start := time.Now()
	mustIngest(t, e, hooks[:2])
	got := s.until(t, time.Second, func(ev sseEvent) bool { return ev.Event == live.SessionCreated })
	t.Logf("session.created after %v", time.Since(start))
	created := decode[agenttrace.SessionSummary](t, []byte(got[len(got)-1].Data))
	if created.ID != f.SessionID {
		t.Errorf("created session %q, want %q", created.ID, f.SessionID)
	}

	mustIngest(t, e, hooks[2:half])
	if err := e.api.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got = s.until(t, time.Second, func(ev sseEvent) bool { return ev.Event == live.SessionUpdated })
	upd := decode[map[string]json.RawMessage](t, []byte(got[len(got)-1].Data))
	if _, ok := upd["id"]; !ok || len(upd) < 2 || len(upd) >= 25 {
		t.Errorf("session.updated carries %d fields, want the id and only changed ones: %s", len(upd), got[len(got)-1].Data)
	}
	// Drain what the first half produced, noting the last ID the client saw.
	time.Sleep(50 * time.Millisecond)
	last := got[len(got)-1].ID
drain:
	for {
		select {
		case ev := <-s.events:
			last = ev.ID
		default:
			break drain
		}
	}

	// Disconnect, ingest the rest, reconnect with Last-Event-ID: exactly what was
	// published meanwhile arrives, in order.
	s.cancel()
	mustIngest(t, e, hooks[half:])
	mustIngest(t, e, f.Events) // usage, cost, git events too
	if err := e.api.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	lastID, _ := strconv.ParseUint(last, 10, 64)
	published, _, gap, _ := e.hub.Since(lastID)
	if gap || len(published) == 0 {
		t.Fatalf("hub since %d: %d messages, gap %v", lastID, len(published), gap)
	}
	s2 := mustStream(t, srv.URL+"/v1/stream", http.Header{"Last-Event-Id": {last}})
	wantLast := strconv.FormatUint(published[len(published)-1].ID, 10)
	resumed := s2.until(t, 2*time.Second, func(ev sseEvent) bool { return ev.ID == wantLast })
	if len(resumed) != len(published) {
		t.Fatalf("resumed %d events, want %d", len(resumed), len(published))
	}
	var types []string
	for i, ev := range resumed {
		if ev.ID != strconv.FormatUint(published[i].ID, 10) || ev.Event != published[i].Type {
			t.Fatalf("resumed[%d] = %s %s, want %d %s", i, ev.ID, ev.Event, published[i].ID, published[i].Type)
		}
		types = append(types, ev.Event)
	}
	for _, want := range []string{live.PromptCreated, live.ToolCallUpdated, live.SessionUpdated} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s after resuming; got %v", want, types)
		}
	}

	// Deleting publishes too.
	e.http.Delete("/v1/sessions/" + f.SessionID)
	s2.until(t, time.Second, func(ev sseEvent) bool { return ev.Event == live.SessionDeleted })
}

// FuzzIngestNever500: whatever the body, the collector answers 200 or a 4xx problem, and
// a rejected request stores nothing.
func FuzzIngestNever500(f *testing.F) {
	f.Add([]byte(mustJSON(f, event.Batch{Events: fixture(f, "commit").Events[:3]})))
	f.Add([]byte(`{"events":[{"id":"e","kind":"hook","session_id":"s","time":"2026-01-01T00:00:00Z","tier":1,"hook_event":"Stop","payload":{"x":1}}]}`))
	f.Add([]byte(`{"events":[{"id":"e","kind":"usage","session_id":"s","time":"2026-01-01T00:00:00Z","tier":1}]}`))
	f.Add([]byte(`{"events":[{"id":"e","kind":"hook","session_id":"s","time":"2026-01-01T00:00:00Z","tier":1,"hook_event":"Stop","payload":"bm90IGpzb24="}]}`))
	f.Add([]byte(`{"events":[{}]}`))
	f.Add([]byte(`{"events":{}}`))
	f.Add([]byte("\x00\xff"))
	e := mustEnv(f, api.Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		before := countSessions(t, e)
		// humatest would call f.Helper inside the target, so serve the request directly.
		req := httptest.NewRequest("POST", "/v1/hooks", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp := httptest.NewRecorder()
		e.api.Handler().ServeHTTP(resp, req)
		if resp.Code >= 500 {
			t.Fatalf("status %d for %q: %s", resp.Code, body, resp.Body)
		}
		if resp.Code != http.StatusOK && countSessions(t, e) != before {
			t.Fatalf("rejected (%d) but stored", resp.Code)
		}
	})
}

func TestCrossSiteWritesAreRefused(t *testing.T) {
	for _, authOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth %v", authOn), func(t *testing.T) {
			e := mustEnv(t, api.Options{Auth: authOn})
			admin, _ := auth.NewSecret()
			if err := e.store.CreateToken(context.Background(), agenttrace.Token{ID: "adm", Name: "adm", Scope: agenttrace.ScopeAdmin, CreatedAt: time.Now()}, auth.HashSecret(admin)); err != nil {
				t.Fatal(err)
			}
			f := fixture(t, "commit")
			bearer := "Authorization: Bearer " + admin
			cookie := "Cookie: " + auth.CookieName + "=" + mustSession(t, e, "adm")
			tests := []struct {
				name    string
				headers []any
				want    int
			}{
				{"another site", []any{"Origin: https://evil.example", bearer}, 403},
				{"another port of this host", []any{"Origin: http://example.com:3100", bearer}, 403},
				{"opaque origin", []any{"Origin: null", bearer}, 403},
				{"fetch metadata cross-site", []any{"Sec-Fetch-Site: cross-site", bearer}, 403},
				{"fetch metadata same-site", []any{"Sec-Fetch-Site: same-site", bearer}, 403},
				{"same origin", []any{"Origin: http://example.com", "Sec-Fetch-Site: same-origin", bearer}, 200},
				{"no browser headers", []any{bearer}, 200},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					before := countSessions(t, e)
					args := append([]any{batchBody(t, f.Events[:3]), "Host: example.com"}, tt.headers...)
					resp := e.http.Post("/v1/hooks", args...)
					if resp.Code != tt.want {
						t.Fatalf("status = %d, want %d: %s", resp.Code, tt.want, resp.Body)
					}
					if tt.want != 200 && countSessions(t, e) != before {
						t.Error("a refused request stored events")
					}
				})
			}
			if authOn {
				// The dashboard's cookie authenticates reads on the API, never writes.
				if got := e.http.Get("/v1/sessions", cookie).Code; got != 200 {
					t.Errorf("GET with the cookie = %d, want 200", got)
				}
				if got := e.http.Delete("/v1/sessions/"+f.SessionID, cookie).Code; got != 401 {
					t.Errorf("DELETE with only the cookie = %d, want 401", got)
				}
				if got := e.http.Delete("/v1/sessions/"+f.SessionID, bearer).Code; got != 204 {
					t.Errorf("DELETE with the bearer token = %d, want 204", got)
				}
			}
		})
	}
}

// GET /v1/analytics/cost/daily honours from and to (and documents them): a range with no
// sessions answers no days, and the range it answers for is the one asked.
func TestDailyCostHonoursRange(t *testing.T) {
	e := mustEnv(t, api.Options{})
	mustIngestAll(t, e)
	type daily struct {
		From time.Time              `json:"from"`
		To   time.Time              `json:"to"`
		Days []agenttrace.DailyCost `json:"days"`
	}
	resp := e.http.Get("/v1/analytics/cost/daily?" + wide)
	if resp.Code != http.StatusOK {
		t.Fatalf("daily: %d %s", resp.Code, resp.Body)
	}
	all := decode[daily](t, resp.Body.Bytes())
	if want := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); !all.From.Equal(want) || len(all.Days) == 0 {
		t.Errorf("wide range: from %v with %d days, want from %v and the fixtures' days", all.From, len(all.Days), want)
	}
	past := decode[daily](t, e.http.Get("/v1/analytics/cost/daily?from=2001-01-01T00:00:00Z&to=2001-02-01T00:00:00Z").Body.Bytes())
	if !past.To.Equal(time.Date(2001, 2, 1, 0, 0, 0, 0, time.UTC)) || len(past.Days) != 0 {
		t.Errorf("January 2001: to %v with %d days, want to 2001-02-01 and no days", past.To, len(past.Days))
	}
	mustProblem(t, e.http.Get("/v1/analytics/cost/daily?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"), http.StatusUnprocessableEntity)

	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(e.http.Get("/openapi.json").Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range doc.Paths["/v1/analytics/cost/daily"]["get"].Parameters {
		names[p.Name] = true
	}
	if !names["from"] || !names["to"] || !names["group_by"] {
		t.Errorf("openapi.json documents daily-cost parameters %v, want from, to and group_by", names)
	}
}

// Someone who opens the API or collector port in a browser learns where to go.
func TestRootsPointTheWay(t *testing.T) {
	a := mustEnv(t, api.Options{DashboardPort: 3100}).api
	for name, h := range map[string]http.Handler{"api": a.Handler(), "collector": a.CollectorHandler()} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8318/", nil)
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"dashboard":"http://127.0.0.1:3100/"`) {
			t.Errorf("%s root: %d %s, want 200 naming the dashboard", name, rec.Code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), `"docs":"/docs"`) {
		t.Errorf("api root does not point to /docs: %s", rec.Body)
	}
}

// Responses carrying session data are neither sniffed nor stored by browsers or proxies.
func TestResponsesAreNotSniffedOrStored(t *testing.T) {
	e := mustEnv(t, api.Options{})
	mustIngestAll(t, e)
	id := fixture(t, "commit").SessionID
	for _, path := range []string{"/v1/sessions", "/v1/sessions/" + id, "/v1/sessions/" + id + "/events", "/v1/sessions/nope", "/v1/analytics/summary"} {
		rec := httptest.NewRecorder()
		e.api.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", path, got)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, got)
		}
	}
	rec := httptest.NewRecorder()
	e.api.CollectorHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("collector /healthz: X-Content-Type-Options %q, want nosniff", got)
	}
}

// cancelingStore cancels the request's context as ingest begins and fails with it: the
// client went away while a store that honours cancellation was writing. (The SQL stores
// finish a write whose client left, since a group commit holds other clients' batches
// too; a store that gives up is still allowed.)
type cancelingStore struct {
	agenttrace.Store
	cancel context.CancelFunc
}

func (c cancelingStore) Ingest(ctx context.Context, evs []event.Event) (agenttrace.IngestResult, error) {
	c.cancel()
	return agenttrace.IngestResult{}, fmt.Errorf("ingest: begin: %w", ctx.Err())
}

// A client that goes away mid-request (a deliverer killed during its POST) is counted
// and logged as such, never as a storage failure: alerts on store errors stay honest.
func TestClientGoneIsNotAStoreError(t *testing.T) {
	e := mustEnv(t, api.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	a := api.New(cancelingStore{e.store, cancel}, nil, api.Options{})
	t.Cleanup(func() { a.Close() })
	req := httptest.NewRequest(http.MethodPost, "/v1/hooks", batchBody(t, fixture(t, "commit").Events[:2])).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	a.CollectorHandler().ServeHTTP(httptest.NewRecorder(), req)
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	metrics := rec.Body.String()
	if strings.Contains(metrics, `agent_trace_store_errors_total{op="ingest"}`) {
		t.Errorf("a client that went away was counted as a store error:\n%s", grep(metrics, "agent_trace_store"))
	}
	if !strings.Contains(metrics, `agent_trace_ingest_batches_total{outcome="client_gone"} 1`) {
		t.Errorf("the abandoned request is not counted:\n%s", grep(metrics, "agent_trace_ingest_batches"))
	}
}

// A usage event with a token count that would overflow every sum is refused with 422
// naming the field; nothing is stored and the analytics keep answering for everyone.
func TestOutOfRangeNumbersAreRefused(t *testing.T) {
	e := mustEnv(t, api.Options{})
	mustIngestAll(t, e)
	f := fixture(t, "commit")
	var u event.Event
	for _, ev := range f.Events {
		if ev.Kind == event.KindUsage {
			u = ev
			break
		}
	}
	huge := *u.Usage
	huge.InputTokens = math.MaxInt64
	u.ID, u.Usage = "huge-usage", &huge
	resp := e.http.Post("/v1/hooks", batchBody(t, []event.Event{u}))
	mustProblem(t, resp, http.StatusUnprocessableEntity)
	if !strings.Contains(resp.Body.String(), "usage.input_tokens") {
		t.Errorf("the problem does not name usage.input_tokens: %s", resp.Body)
	}
	for _, path := range []string{"/v1/analytics/summary?" + wide, "/v1/analytics/cost/daily?" + wide, "/v1/sessions/" + f.SessionID} {
		if got := e.http.Get(path).Code; got != http.StatusOK {
			t.Errorf("%s after the refused batch: %d, want 200", path, got)
		}
	}
}
