package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/storetest"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// teamUsers are the three users in two teams the identity tests run with.
var teamUsers = []struct{ name, team string }{{"alice", "a"}, {"bob", "a"}, {"carol", "b"}}

// identityEnv is a server with alice and bob in team a, carol in team b, a session of
// each sent with their own ingest token, and tokens of every read scope.
type identityEnv struct {
	db       string
	srv      *running
	secrets  map[string]string        // token name → secret
	sessions map[string][]event.Event // user → their session's events
}

// searchWord is in one prompt of every user's session, for the text search.
const searchWord = "zebracrossing"

func mustIdentityEnv(t *testing.T) *identityEnv {
	t.Helper()
	e := &identityEnv{db: filepath.Join(t.TempDir(), "data.db"), secrets: map[string]string{}, sessions: map[string][]event.Event{}}
	if _, err := run(t, "migrate", "--db", e.db); err != nil {
		t.Fatal(err)
	}
	for _, u := range teamUsers {
		if out, err := run(t, "user", "create", "--db", e.db, u.name, "--team", u.team); err != nil {
			t.Fatalf("user create %s: %q, %v", u.name, out, err)
		}
		e.token(t, "ingest-"+u.name, agenttrace.ScopeIngest, u.name)
		e.token(t, "own-"+u.name, agenttrace.ScopeReadOwn, u.name)
		e.token(t, "team-"+u.name, agenttrace.ScopeReadTeam, u.name)
	}
	e.token(t, "all", agenttrace.ScopeReadAll, "alice")
	e.token(t, "old-read", agenttrace.ScopeRead, "")
	e.token(t, "relay", agenttrace.ScopeAdmin, "ops")
	e.srv = mustStart(t, e.db)
	for i, sess := range storetest.Generate(13, len(teamUsers), 60) {
		u := teamUsers[i].name
		searchable := false
		for j := range sess {
			// alice's hook names no user: her token's user is stamped on her events.
			sess[j].User = map[bool]string{true: "", false: u}[u == "alice"]
			if !searchable && sess[j].HookEvent == "UserPromptSubmit" {
				sess[j].Payload = setPrompt(t, sess[j].Payload, "Rename the "+searchWord+" helper")
				searchable = true
			}
		}
		if resp, body := post(t, e.srv.URL("collector"), sess, "Authorization", "Bearer "+e.secrets["ingest-"+u]); resp.StatusCode != 200 {
			t.Fatalf("%s ingests their session: %d %s", u, resp.StatusCode, body)
		}
		e.sessions[u] = sess
	}
	return e
}

func setPrompt(t *testing.T, payload json.RawMessage, text string) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	m["prompt"] = text
	b, _ := json.Marshal(m)
	return b
}

func (e *identityEnv) token(t *testing.T, name, scope, user string) {
	t.Helper()
	args := []string{"token", "create", "--db", e.db, "--name", name, "--scope", scope}
	if user != "" {
		args = append(args, "--user", user)
	}
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("token create %s: %v", name, err)
	}
	e.secrets[name] = strings.TrimSpace(out)
}

func (e *identityEnv) sessionID(user string) string { return e.sessions[user][0].SessionID }

// get reads the API path with a token, decoding a 200's JSON into v.
func (e *identityEnv) get(t *testing.T, token, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL("api")+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.secrets[token])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// listed is the users whose sessions the session list shows with token (and query).
func (e *identityEnv) listed(t *testing.T, token, query string) []string {
	t.Helper()
	var page agenttrace.SessionPage
	if code := e.get(t, token, "/v1/sessions?limit=200&"+query, &page); code != 200 {
		t.Fatalf("list with %s: HTTP %d", token, code)
	}
	var users []string
	for _, s := range page.Sessions {
		users = append(users, s.User)
	}
	slices.Sort(users)
	return users
}

// exportedUsers is the users of the rows a JSON Lines export at url holds, read with
// an Authorization header or (cookie) the dashboard's session cookie holding secret.
func exportedUsers(t *testing.T, url, secret string, cookie bool) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if cookie {
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: secret})
	} else {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("export %s: HTTP %d", url, resp.StatusCode)
	}
	var users []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var row struct{ User string }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("export row %q: %v", sc.Text(), err)
		}
		if !slices.Contains(users, row.User) {
			users = append(users, row.User)
		}
	}
	slices.Sort(users)
	return users
}

// Every read of the API shows a token what its scope reaches, and nothing else: list,
// text search, detail and events (404 for a session out of reach), exports, commits,
// summary, daily cost and the per-user breakdown. Three users in two teams, each with their own session.
func TestReadScopesIsolateUsers(t *testing.T) {
	e := mustIdentityEnv(t)
	everyone := []string{"alice", "bob", "carol"}
	tests := []struct {
		token string
		want  []string // the users whose sessions it reads
	}{
		{"own-alice", []string{"alice"}}, {"own-bob", []string{"bob"}}, {"own-carol", []string{"carol"}},
		{"team-alice", []string{"alice", "bob"}}, {"team-bob", []string{"alice", "bob"}}, {"team-carol", []string{"carol"}},
		{"all", everyone}, {"old-read", everyone}, {"relay", everyone},
	}
	rng := "from=" + url.QueryEscape(storetest.GenEnd.AddDate(0, 0, -200).Format(time.RFC3339)) +
		"&to=" + url.QueryEscape(storetest.GenEnd.AddDate(0, 0, 1).Format(time.RFC3339))
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			if got := e.listed(t, tt.token, ""); !slices.Equal(got, tt.want) {
				t.Errorf("list shows the sessions of %q, want %q", got, tt.want)
			}
			if got := e.listed(t, tt.token, "q="+searchWord); !slices.Equal(got, tt.want) {
				t.Errorf("search shows the sessions of %q, want %q", got, tt.want)
			}
			for _, u := range everyone {
				want := map[bool]int{true: 200, false: 404}[slices.Contains(tt.want, u)]
				id := e.sessionID(u)
				if got := e.get(t, tt.token, "/v1/sessions/"+id, nil); got != want {
					t.Errorf("%s's session: HTTP %d, want %d", u, got, want)
				}
				if got := e.get(t, tt.token, "/v1/sessions/"+id+"/events", nil); got != want {
					t.Errorf("%s's events: HTTP %d, want %d", u, got, want)
				}
			}
			for _, table := range []string{"sessions", "prompts", "tool_calls"} {
				got := exportedUsers(t, e.srv.URL("api")+"/v1/export/"+table+"?format=jsonl", e.secrets[tt.token], false)
				if !slices.Equal(got, tt.want) {
					t.Errorf("export of %s has rows of %q, want %q", table, got, tt.want)
				}
			}
			var commits agenttrace.CommitPage
			if code := e.get(t, tt.token, "/v1/commits?limit=200", &commits); code != 200 {
				t.Fatalf("commits: HTTP %d", code)
			}
			for _, c := range commits.Commits {
				if !slices.Contains(tt.want, c.User) {
					t.Errorf("commits show one of %s", c.User)
				}
			}
			if len(tt.want) == len(everyone) && len(commits.Commits) == 0 {
				t.Error("no commits at all: the commit check proves nothing")
			}
			var sum agenttrace.Summary
			if code := e.get(t, tt.token, "/v1/analytics/summary?"+rng, &sum); code != 200 || sum.Sessions != len(tt.want) {
				t.Errorf("summary: HTTP %d, %d sessions; want %d", code, sum.Sessions, len(tt.want))
			}
			var daily struct{ Days []agenttrace.DailyCost }
			if code := e.get(t, tt.token, "/v1/analytics/cost/daily?group_by=user&"+rng, &daily); code != 200 {
				t.Fatalf("daily cost: HTTP %d", code)
			}
			var keys []string
			for _, d := range daily.Days {
				if !slices.Contains(keys, d.Key) {
					keys = append(keys, d.Key)
				}
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tt.want) {
				t.Errorf("daily cost has rows of %q, want %q", keys, tt.want)
			}
			var people struct{ Rows []agenttrace.BreakdownRow }
			if code := e.get(t, tt.token, "/v1/analytics/breakdown?by=user&"+rng, &people); code != 200 {
				t.Fatalf("breakdown: HTTP %d", code)
			}
			var rows []string
			for _, r := range people.Rows {
				rows = append(rows, r.User)
			}
			slices.Sort(rows)
			if !slices.Equal(rows, tt.want) {
				t.Errorf("breakdown by user has rows of %q, want %q", rows, tt.want)
			}
			if got := e.mcpUsers(t, tt.token); !slices.Equal(got, tt.want) {
				t.Errorf("MCP search_sessions shows the sessions of %q, want %q", got, tt.want)
			}
		})
	}
}

// mcpUsers asks /mcp's search_sessions with the token and names the users it shows.
func (e *identityEnv) mcpUsers(t *testing.T, token string) []string {
	t.Helper()
	cs := mcpConnect(t, &sdk.StreamableClientTransport{Endpoint: e.srv.URL("api") + "/mcp", DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: bearer{e.secrets[token]}}})
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "search_sessions",
		Arguments: map[string]any{"limit": 50, "since": "3650d"}})
	if err != nil || res.IsError {
		t.Fatalf("search_sessions: %v %+v", err, res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var out struct{ Sessions []struct{ User string } }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, s := range out.Sessions {
		if !slices.Contains(users, s.User) {
			users = append(users, s.User)
		}
	}
	slices.Sort(users)
	return users
}

// sessionEvents is how many events the server holds for a session (read with "all").
func (e *identityEnv) sessionEvents(t *testing.T, id string) int {
	t.Helper()
	var page agenttrace.EventPage
	if code := e.get(t, "all", "/v1/sessions/"+id+"/events?limit=1000", &page); code == 404 {
		return 0
	} else if code != 200 {
		t.Fatalf("events of %s: HTTP %d", id, code)
	}
	return len(page.Events)
}

// newEvent is one more hook event of session for user, new to the store.
func newEvent(session, user, tag string) event.Event {
	payload, _ := json.Marshal(map[string]any{"session_id": session, "hook_event_name": "Notification", "message": tag})
	return event.Event{ID: event.HookID(session, "Notification", "", "", "", payload), Kind: event.KindHook, SessionID: session,
		Time: storetest.GenEnd, Tier: event.TierDetails, User: user, HookEvent: "Notification", Payload: payload}
}

// The row of issue 13: an ingest token of bob posting events with "user":"alice" (into
// a new session or into alice's own) was accepted; now it is refused with 403 and
// nothing is stored. Bob's token cannot add to alice's session in his own name either;
// an admin token relays alice's events; bob's own events are accepted.
func TestIngestBindsEventsToTheTokensUser(t *testing.T) {
	e := mustIdentityEnv(t)
	alice := e.sessionID("alice")
	tests := []struct {
		name, token string
		ev          event.Event
		want        int
	}{
		{"bob names alice in a new session", "ingest-bob", newEvent("s-new", "alice", "1"), 403},
		{"bob names alice in her session", "ingest-bob", newEvent(alice, "alice", "2"), 403},
		{"bob writes into alice's session as himself", "ingest-bob", newEvent(alice, "", "3"), 403},
		{"an admin token relays alice's event", "relay", newEvent(alice, "alice", "4"), 200},
		{"bob writes his own session", "ingest-bob", newEvent(e.sessionID("bob"), "bob", "5"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.sessionEvents(t, tt.ev.SessionID)
			resp, body := post(t, e.srv.URL("collector"), []event.Event{tt.ev}, "Authorization", "Bearer "+e.secrets[tt.token])
			if resp.StatusCode != tt.want {
				t.Fatalf("HTTP %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			stored := e.sessionEvents(t, tt.ev.SessionID) - before
			if want := map[bool]int{true: 1, false: 0}[tt.want == 200]; stored != want {
				t.Errorf("stored %d events, want %d", stored, want)
			}
		})
	}
	var s agenttrace.Session
	if code := e.get(t, "all", "/v1/sessions/"+e.sessionID("alice"), &s); code != 200 || s.User != "alice" {
		t.Errorf("alice's session: HTTP %d, user %q; want her token's user stamped on it", code, s.User)
	}
}

// sseSessions reads an SSE stream until a change of stop's session arrives (or 10 s
// pass) and returns the sessions whose changes it carried.
func sseSessions(t *testing.T, req *http.Request, started chan<- struct{}, stop string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Error(err)
		close(started)
		return nil
	}
	defer resp.Body.Close()
	close(started)
	var seen []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var c struct {
			ID        string `json:"id"`
			SessionID string `json:"session_id"`
		}
		_ = json.Unmarshal([]byte(data), &c)
		id := c.SessionID
		if id == "" {
			id = c.ID
		}
		seen = append(seen, id)
		if id == stop {
			return seen
		}
	}
	t.Errorf("the stream ended before a change of %s: saw %q (%v)", stop, seen, sc.Err())
	return seen
}

// A read:own client of the live stream (the API's and the dashboard's) gets the changes
// of its user's sessions and never another user's.
func TestLiveStreamIsolatesUsers(t *testing.T) {
	e := mustIdentityEnv(t)
	api, _ := http.NewRequest(http.MethodGet, e.srv.URL("api")+"/v1/stream", nil)
	api.Header.Set("Authorization", "Bearer "+e.secrets["own-bob"])
	dash, _ := http.NewRequest(http.MethodGet, e.srv.URL("dashboard")+"/live", nil)
	dash.AddCookie(&http.Cookie{Name: auth.CookieName, Value: dashLogin(t, e.srv.URL("dashboard"), e.secrets["own-bob"])})
	for i, req := range []*http.Request{api, dash} {
		started, done := make(chan struct{}), make(chan []string)
		go func() { done <- sseSessions(t, req, started, e.sessionID("bob")) }()
		<-started
		time.Sleep(100 * time.Millisecond) // the hub subscribes the stream once the handler runs
		tag := strings.Repeat("x", i+1)
		for _, u := range []string{"alice", "carol", "bob"} {
			if resp, body := post(t, e.srv.URL("collector"), []event.Event{newEvent(e.sessionID(u), u, "live"+tag)},
				"Authorization", "Bearer "+e.secrets["ingest-"+u]); resp.StatusCode != 200 {
				t.Fatalf("%s ingests: %d %s", u, resp.StatusCode, body)
			}
		}
		seen := <-done
		for _, u := range []string{"alice", "carol"} {
			if slices.Contains(seen, e.sessionID(u)) {
				t.Errorf("%s: bob's read:own stream carried a change of %s's session", req.URL.Path, u)
			}
		}
	}
}

// The dashboard (plain HTTP; browser_identity_test.go drives Chromium) lists only the
// sessions a read:own login may see and answers 404 for another user's session page.
func TestDashboardIsolatesUsers(t *testing.T) {
	e := mustIdentityEnv(t)
	session := dashLogin(t, e.srv.URL("dashboard"), e.secrets["own-bob"])
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL("dashboard")+path, nil)
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		return resp.StatusCode, b.String()
	}
	code, page := get("/")
	if code != 200 || !strings.Contains(page, e.sessionID("bob")) {
		t.Fatalf("list: HTTP %d, bob's session shown %v", code, strings.Contains(page, e.sessionID("bob")))
	}
	for _, u := range []string{"alice", "carol"} {
		if strings.Contains(page, e.sessionID(u)) {
			t.Errorf("bob's list shows %s's session", u)
		}
		if code, _ := get("/sessions/" + e.sessionID(u)); code != 404 {
			t.Errorf("%s's session page: HTTP %d, want 404", u, code)
		}
	}
	if code, _ := get("/sessions/" + e.sessionID("bob")); code != 200 {
		t.Errorf("bob's session page: HTTP %d, want 200", code)
	}
	if got := exportedUsers(t, e.srv.URL("dashboard")+"/export/sessions?format=jsonl",
		dashLogin(t, e.srv.URL("dashboard"), e.secrets["own-bob"]), true); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("the dashboard's export has rows of %q, want only bob's", got)
	}
}

// Disabling a user revokes their tokens on every server (two here, on one database)
// within the verifier's cache time (5 s), refuses new tokens for them, and leaves the
// other users' tokens working.
func TestUserDisableRevokesEverywhere(t *testing.T) {
	e := mustIdentityEnv(t)
	second := mustStart(t, e.db)
	status := func(srv *running, token string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL("api")+"/v1/sessions", nil)
		req.Header.Set("Authorization", "Bearer "+e.secrets[token])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, srv := range []*running{e.srv, second} {
		if got := status(srv, "own-carol"); got != 200 { // cached as live from now on
			t.Fatalf("carol before: HTTP %d", got)
		}
	}
	session := dashLogin(t, e.srv.URL("dashboard"), e.secrets["own-carol"])
	cookieStatus := func(url string) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: session})
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := cookieStatus(e.srv.URL("dashboard") + "/"); got != 200 {
		t.Fatalf("carol's dashboard session before: HTTP %d", got)
	}
	out, err := run(t, "user", "disable", "--db", e.db, "carol")
	if err != nil || !strings.Contains(out, "revoked 3") {
		t.Fatalf("user disable carol: %q, %v; want 3 tokens revoked", out, err)
	}
	disabled := time.Now()
	// A dashboard session reads its token with it on every request, uncached: it ends at
	// once, on every server, on the dashboard and on the API alike.
	for i, srv := range []*running{e.srv, second} {
		if got := cookieStatus(srv.URL("dashboard") + "/"); got != http.StatusSeeOther {
			t.Errorf("server %d: carol's dashboard session after user disable: HTTP %d, want 303 to login", i, got)
		}
		if got := cookieStatus(srv.URL("api") + "/v1/sessions"); got != http.StatusUnauthorized {
			t.Errorf("server %d: carol's session cookie on the API after user disable: HTTP %d, want 401", i, got)
		}
	}
	for i, srv := range []*running{e.srv, second} {
		for status(srv, "own-carol") != 401 {
			if time.Since(disabled) > 6*time.Second {
				t.Fatalf("server %d still accepts carol's token %v after user disable", i, time.Since(disabled))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := status(srv, "own-bob"); got != 200 {
			t.Errorf("server %d: bob's token: HTTP %d, want 200", i, got)
		}
	}
	if _, err := run(t, "token", "create", "--db", e.db, "--name", "again", "--scope", "ingest", "--user", "carol"); err == nil {
		t.Error("token create for a disabled user succeeded")
	}
	list, err := run(t, "user", "list", "--db", e.db)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "carol" && f[len(f)-1] == "-" {
			t.Errorf("user list does not show carol disabled: %q", line)
		}
		if len(f) > 0 && f[0] == "bob" && (f[1] != "a" || f[2] != "3") {
			t.Errorf("user list: %q, want bob in team a with 3 live tokens", line)
		}
	}
}

// A loopback install without tokens works as before users: each event keeps its own
// user (the OS user the hook reports) and every read sees every session.
func TestLoopbackWithoutTokensKeepsEventUsers(t *testing.T) {
	srv := mustStart(t, filepath.Join(t.TempDir(), "data.db"))
	for _, u := range []string{"dave", "erin"} {
		if resp, body := post(t, srv.URL("collector"), []event.Event{newEvent("s-"+u, u, "1")}); resp.StatusCode != 200 {
			t.Fatalf("ingest as %s: %d %s", u, resp.StatusCode, body)
		}
	}
	var page agenttrace.SessionPage
	if code := getJSON(t, srv.URL("api")+"/v1/sessions", &page); code != 200 {
		t.Fatalf("list: HTTP %d", code)
	}
	var got []string
	for _, s := range page.Sessions {
		got = append(got, s.ID+"="+s.User)
	}
	slices.Sort(got)
	if want := []string{"s-dave=dave", "s-erin=erin"}; !slices.Equal(got, want) {
		t.Errorf("sessions %q, want %q", got, want)
	}
}
