package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// running is a Main serving in the background.
type running struct {
	*Main
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// mustStart runs a whole server in-process on free loopback ports over dbPath.
func mustStart(tb testing.TB, dbPath string, configure ...func(*Main)) *running {
	tb.Helper()
	m := &Main{DBPath: dbPath, Stdout: io.Discard}
	for _, c := range configure {
		c(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Main: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	select {
	case <-m.Ready():
	case <-time.After(10 * time.Second):
		tb.Fatal("server not ready within 10s")
	}
	if m.Addr("api") == "" {
		cancel()
		tb.Fatalf("server failed to start: %v", <-r.done)
	}
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

// stop shuts the server down as SIGTERM does and waits for Run to return.
func (r *running) stop(tb testing.TB) {
	tb.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			tb.Error("Run did not return within 20s of shutdown")
		}
	})
}

func post(tb testing.TB, url string, events []event.Event, header ...string) (*http.Response, []byte) {
	tb.Helper()
	body, _ := json.Marshal(event.Batch{Events: events})
	req, _ := http.NewRequest("POST", url+"/v1/hooks", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if len(header) == 2 {
		req.Header.Set(header[0], header[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// dashLogin logs in to the dashboard at dashURL with secret and returns the session id
// its cookie carries.
func dashLogin(tb testing.TB, dashURL, secret string) string {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, dashURL+"/login", strings.NewReader(url.Values{"secret": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", dashURL)
	resp, err := noRedirect.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName && c.Value != "" {
			return c.Value
		}
	}
	tb.Fatalf("login to %s: HTTP %d, no session cookie", dashURL, resp.StatusCode)
	return ""
}

func getJSON(tb testing.TB, url string, v any) int {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			tb.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestServeIngestRestartPersists(t *testing.T) {
	db := filepath.Join(t.TempDir(), "nested", "data.db")
	f := storetest.Fixtures()[0]
	srv := mustStart(t, db)
	for _, name := range []string{"collector", "api", "dashboard"} {
		if !strings.HasPrefix(srv.Addr(name), "127.0.0.1:") {
			t.Errorf("%s bound to %q, want loopback", name, srv.Addr(name))
		}
	}
	resp, body := post(t, srv.URL("collector"), f.Events)
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	var before agenttrace.Session
	if code := getJSON(t, srv.URL("api")+"/v1/sessions/"+f.SessionID, &before); code != 200 {
		t.Fatalf("get session: %d", code)
	}
	if code := getJSON(t, srv.URL("dashboard")+"/", nil); code != 200 {
		t.Errorf("dashboard: %d", code)
	}
	srv.stop(t)

	again := mustStart(t, db)
	var after agenttrace.Session
	if code := getJSON(t, again.URL("api")+"/v1/sessions/"+f.SessionID, &after); code != 200 {
		t.Fatalf("get session after restart: %d", code)
	}
	storetest.EqualJSON(t, "session after restart", after, before)
	resp, body = post(t, again.URL("collector"), f.Events)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"stored":0`) {
		t.Errorf("re-sending after restart: %d %s, want all duplicates", resp.StatusCode, body)
	}
}

// TestShutdownKeepsEveryAcknowledgedEvent sends batches from several clients while the
// server shuts down: every batch answered 200 must be in the database afterwards.
func TestShutdownKeepsEveryAcknowledgedEvent(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	srv := mustStart(t, db)
	url := srv.URL("collector")
	sessions := storetest.Generate(7, 40, 100)

	var mu sync.Mutex
	var acked []event.Event
	var wg sync.WaitGroup
	started := make(chan struct{}, 4)
	for w := range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for i := w; i < len(sessions); i += 4 {
				for off := 0; off < len(sessions[i]); off += 25 {
					batch := sessions[i][off:min(off+25, len(sessions[i]))]
					body, _ := json.Marshal(event.Batch{Events: batch})
					resp, err := client.Post(url+"/v1/hooks", "application/json", bytes.NewReader(body))
					if err != nil {
						return // the server has gone away
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						mu.Lock()
						acked = append(acked, batch...)
						mu.Unlock()
						select {
						case started <- struct{}{}:
						default:
						}
					}
				}
			}
		})
	}
	<-started
	time.Sleep(100 * time.Millisecond)
	srv.stop(t)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged")
	}

	s, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored := map[string]bool{}
	bySession := map[string]bool{}
	for _, e := range acked {
		bySession[e.SessionID] = true
	}
	for id := range bySession {
		cursor := ""
		for {
			page, err := s.Events(context.Background(), id, cursor, 1000)
			if err != nil {
				t.Fatalf("events of %s: %v", id, err)
			}
			for _, e := range page.Events {
				stored[e.ID] = true
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	lost := 0
	for _, e := range acked {
		if !stored[e.ID] {
			lost++
		}
	}
	t.Logf("%d events acknowledged before shutdown", len(acked))
	if lost > 0 {
		t.Errorf("%d acknowledged events lost", lost)
	}
}

func TestRefusesNonLoopbackWithoutAuth(t *testing.T) {
	m := &Main{Bind: "0.0.0.0", DBPath: filepath.Join(t.TempDir(), "data.db"), Stdout: io.Discard}
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("Run = %v, want a refusal", err)
	}
	if m.Addr("api") != "" {
		t.Error("a listener was bound")
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true}, {"127.1.2.3", true}, {"::1", true}, {"localhost", true},
		{"0.0.0.0", false}, {"", false}, {"::", false}, {"192.168.1.10", false}, {"example.com", false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.host); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func run(tb testing.TB, args ...string) (stdout string, err error) {
	tb.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCommand(&out, &errb)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestTokenCommandsTurnAuthOn(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	if out, err := run(t, "migrate", "--db", db); err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %q, %v", out, err)
	}
	for _, args := range [][]string{
		{"token", "create", "--db", db, "--name", "x", "--scope", "root"},
		{"token", "create", "--db", db, "--scope", "read"},
		{"token", "revoke", "--db", db, "tok_missing"},
	} {
		if _, err := run(t, args...); err == nil {
			t.Errorf("%v succeeded, want an error", args)
		}
	}
	read, err := run(t, "token", "create", "--db", db, "--name", "dash", "--scope", "read")
	if err != nil {
		t.Fatal(err)
	}
	read = strings.TrimSpace(read)
	if !strings.HasPrefix(read, "at_") || strings.Contains(read, "\n") {
		t.Fatalf("create printed %q, want only the secret", read)
	}
	ingest, _ := run(t, "token", "create", "--db", db, "--name", "hook", "--scope", "ingest")
	ingest = strings.TrimSpace(ingest)
	list, err := run(t, "token", "list", "--db", db)
	if err != nil || !strings.Contains(list, "dash") || !strings.Contains(list, "hook") || strings.Contains(list, read) {
		t.Fatalf("list = %q, %v; want both names and no secret", list, err)
	}

	srv := mustStart(t, db)
	api := srv.URL("api")
	req := func(secret string) int {
		r, _ := http.NewRequest("GET", api+"/v1/sessions", nil)
		if secret != "" {
			r.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := req(""); got != 401 {
		t.Errorf("no token: %d, want 401", got)
	}
	if got := req(read); got != 200 {
		t.Errorf("read token: %d, want 200", got)
	}
	if got := req(ingest); got != 403 {
		t.Errorf("ingest token reading: %d, want 403", got)
	}
	// The dashboard sends a visitor without the cookie to its login form and admits one
	// with the read token's cookie.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	dash := func(cookie string) *http.Response {
		r, _ := http.NewRequest("GET", srv.URL("dashboard")+"/", nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: cookie})
		}
		resp, err := noRedirect.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := dash(""); resp.StatusCode/100 != 3 || !strings.Contains(resp.Header.Get("Location"), "login") {
		t.Errorf("dashboard without a cookie: %d to %q, want a redirect to the login form", resp.StatusCode, resp.Header.Get("Location"))
	}
	session := dashLogin(t, srv.URL("dashboard"), read)
	if resp := dash(session); resp.StatusCode != 200 {
		t.Errorf("dashboard with the read token's session cookie: %d, want 200", resp.StatusCode)
	}
	// The cookie holds a session id, not the token: the token itself is no cookie, and
	// the session id is no bearer token.
	if session == read || strings.Contains(session, read) {
		t.Errorf("the session cookie %q carries the token", session)
	}
	if resp := dash(read); resp.StatusCode == 200 {
		t.Errorf("dashboard with the raw token as cookie: %d, want a redirect to login", resp.StatusCode)
	}
	if got := req(session); got != 401 {
		t.Errorf("the session id as a bearer token: %d, want 401", got)
	}

	f := storetest.Fixtures()[0]
	if resp, body := post(t, srv.URL("collector"), f.Events[:2], "Authorization", "Bearer "+ingest); resp.StatusCode != 200 {
		t.Errorf("ingest with the ingest token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := post(t, srv.URL("collector"), f.Events[:2]); resp.StatusCode != 401 {
		t.Errorf("ingest without a token: %d, want 401", resp.StatusCode)
	}

	// Revoking the only read token: a new server no longer accepts it.
	var id string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "dash") {
			id = strings.Fields(line)[0]
		}
	}
	srv.stop(t)
	if out, err := run(t, "token", "revoke", "--db", db, id); err != nil || !strings.Contains(out, id) {
		t.Fatalf("revoke: %q, %v", out, err)
	}
	srv = mustStart(t, db)
	api = srv.URL("api")
	if got := req(read); got != 401 {
		t.Errorf("revoked token: %d, want 401", got)
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "agent-trace-server ") {
		t.Errorf("version = %q, %v", out, err)
	}
	// version opens no store: its help names none of the store flags.
	help, err := run(t, "version", "--help")
	if err != nil || !strings.Contains(help, "Print the version") {
		t.Fatalf("version --help = %q, %v", help, err)
	}
	for _, flag := range []string{"--price-file", "--clickhouse", "--postgres", "--db"} {
		if strings.Contains(help, flag) {
			t.Errorf("version --help lists %s:\n%s", flag, help)
		}
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	first := mustStart(t, db)
	_, port, _ := strings.Cut(first.Addr("api"), ":")
	var p int
	fmt.Sscan(port, &p)
	m := &Main{DBPath: filepath.Join(t.TempDir(), "other.db"), APIPort: p, Stdout: io.Discard}
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen for api") {
		t.Errorf("Run on a busy port = %v, want a listen error", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("unexpected cancel")
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := parsePrefixes([]string{"10.1.2.3/8", "192.0.2.1", "::1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(got), "[10.0.0.0/8 192.0.2.1/32 ::1/128 2001:db8::/32]"; got != want {
		t.Errorf("parsePrefixes = %s, want %s", got, want)
	}
	for _, bad := range []string{"proxy.example", "10.0.0.0/33", ""} {
		if _, err := parsePrefixes([]string{bad}); err == nil {
			t.Errorf("parsePrefixes(%q) succeeded", bad)
		}
	}
}

func TestServeFlagsFallBackToEnvironment(t *testing.T) {
	t.Setenv("COLLECTOR_PORT", "1111")
	t.Setenv("API_PORT", "2222")
	t.Setenv("DASHBOARD_PORT", "3333")
	t.Setenv("AGENT_TRACE_BIND", "127.0.0.2")
	t.Setenv("AGENT_TRACE_AUTH", "1")
	t.Setenv("AGENT_TRACE_RETENTION_DAYS", "30")
	t.Setenv("SQLITE_DB_PATH", "/tmp/x.db")
	t.Setenv("AGENT_TRACE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")

	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	m := &Main{}
	addServeFlags(fs, m)
	sf := &storeFlags{}
	sf.add(fs)
	if err := fs.Parse([]string{"--api-port", "4444"}); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(m.CollectorPort, m.APIPort, m.DashboardPort, m.Bind, m.Auth, m.RetentionDays, sf.db, m.TrustedProxies)
	want := fmt.Sprint(1111, 4444, 3333, "127.0.0.2", true, 30, "/tmp/x.db", []string{"10.0.0.0/8", "192.0.2.1"})
	if got != want {
		t.Errorf("settings = %s, want %s (flag over env over default)", got, want)
	}

	t.Setenv("COLLECTOR_PORT", "")
	fs = pflag.NewFlagSet("t", pflag.ContinueOnError)
	m = &Main{}
	addServeFlags(fs, m)
	if m.CollectorPort != 8317 {
		t.Errorf("default collector port = %d, want 8317", m.CollectorPort)
	}
}

// TestServeRunsRetention: with --retention-days the server starts the retention worker,
// which erases expired sessions at once rather than after its first interval. Which
// sessions it erases is internal/worker's test; this one checks the wiring.
func TestServeRunsRetention(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	fixtures := storetest.Fixtures()
	st, err := sqlite.Open(db, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		if _, err := st.Ingest(ctx, f.Events); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	srv := mustStart(t, db, func(m *Main) { m.RetentionDays = 1 })
	deadline := time.Now().Add(5 * time.Second)
	for {
		var page agenttrace.SessionPage
		if code := getJSON(t, srv.URL("api")+"/v1/sessions?limit=200&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", &page); code != 200 {
			t.Fatalf("list sessions: %d", code)
		}
		if len(page.Sessions) < len(fixtures) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retention worker left all %d sessions", len(page.Sessions))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A loopback-only install without tokens is the solo default: no warning. Listening
// beyond the machine without auth (--insecure) still warns.
func TestAuthOffWarnsOnlyWhenExposed(t *testing.T) {
	for _, tt := range []struct {
		bind string
		warn bool
	}{{"127.0.0.1", false}, {"0.0.0.0", true}} {
		var logs bytes.Buffer
		r := mustStart(t, filepath.Join(t.TempDir(), "data.db"), func(m *Main) {
			m.Bind, m.Insecure = tt.bind, true
			m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		r.stop(t)
		if got := strings.Contains(logs.String(), "auth is off"); got != tt.warn {
			t.Errorf("bind %s: warned %v, want %v; log:\n%s", tt.bind, got, tt.warn, logs.String())
		}
	}
}

// A client that sends its headers and then trickles the body is cut off once reading the
// request has taken ReadTimeout, on every listener; a live stream, whose request was read
// long ago, is not.
func TestSlowRequestsAreCutOffStreamsAreNot(t *testing.T) {
	r := mustStart(t, filepath.Join(t.TempDir(), "data.db"), func(m *Main) { m.ReadTimeout = 500 * time.Millisecond })
	for _, name := range []string{"collector", "api", "dashboard"} {
		conn, err := net.Dial("tcp", r.Addr(name))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /v1/hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{")
		closed := make(chan struct{})
		go func() {
			io.Copy(io.Discard, conn) // returns when the server closes the connection
			close(closed)
		}()
		tick := time.NewTicker(100 * time.Millisecond)
		deadline := time.After(5 * time.Second)
	trickle:
		for {
			select {
			case <-closed:
				break trickle
			case <-tick.C:
				conn.Write([]byte(" ")) // one byte at a time, never the whole body
			case <-deadline:
				t.Errorf("%s: a trickled request was still open after 5 s", name)
				break trickle
			}
		}
		tick.Stop()
		conn.Close()
	}

	resp, err := http.Get("http://" + r.Addr("api") + "/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				got <- err
				return
			}
		}
	}()
	select {
	case err := <-got:
		t.Fatalf("the stream ended after the read timeout: %v", err)
	case <-time.After(2 * time.Second):
	}
}

// The first token turns authentication on for everything; creating it says so, with the
// exact commands that keep this machine's hooks delivering. Later tokens change nothing
// and say nothing of it.
func TestFirstTokenSaysAuthIsOn(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	create := func(scope string) string {
		var out, errb bytes.Buffer
		cmd := newRootCommand(&out, &errb)
		cmd.SetArgs([]string{"token", "create", "--db", db, "--name", "n-" + scope, "--scope", scope})
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("token create --scope %s: %v", scope, err)
		}
		return errb.String()
	}
	first := create("read")
	for _, want := range []string{"Authentication is now on", "--scope ingest", "agent-trace-hook init --token"} {
		if !strings.Contains(first, want) {
			t.Errorf("creating the first token does not say %q:\n%s", want, first)
		}
	}
	if second := create("ingest"); strings.Contains(second, "Authentication is now on") {
		t.Errorf("a second token repeats the warning:\n%s", second)
	}
}

// One client address cannot hold more than MaxConnsPerClient connections on a listener:
// the excess is closed at once, and the others are still served.
func TestConnectionsPerClientAreBounded(t *testing.T) {
	r := mustStart(t, filepath.Join(t.TempDir(), "data.db"), func(m *Main) { m.MaxConnsPerClient = 2 })
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", r.Addr("collector"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept both
	extra, err := net.Dial("tcp", r.Addr("collector"))
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection from one address was not closed: %v", err)
	}
	fmt.Fprintf(held[0], "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	held[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(held[0])
	if !strings.HasPrefix(string(b), "HTTP/1.1 200") {
		t.Errorf("a connection within the bound was not served: %q", b)
	}
}
