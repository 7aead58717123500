package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the module root, one level above this package.
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Dir(wd)
}()

var (
	buildMu    sync.Mutex
	buildDir   string
	buildErrs  = map[string]error{}
	builtPaths = map[string]string{}
)

// binaries builds agent-trace-hook and agent-trace-server (once per test binary run) and
// returns their paths.
func binaries(t testing.TB) (hook, server string) {
	t.Helper()
	return builtBinary(t, "agent-trace-hook"), builtBinary(t, "agent-trace-server")
}

// builtBinary builds ./cmd/NAME once per test binary run and returns its path. Until the
// command exists in the tree the calling test skips (fails in CI); from then on a build
// failure fails it.
//
// AGENT_TRACE_E2E_BIN, when set, names a directory of prebuilt binaries to test instead
// (a release build, say).
func builtBinary(t testing.TB, name string) string {
	t.Helper()
	if name == "agent-trace-hook" {
		// The hook starts agent-trace-deliver from its own directory (capture, flush,
		// status), so every caller that gets the hook gets the deliverer beside it.
		builtBinary(t, "agent-trace-deliver")
	}
	if dir := os.Getenv("AGENT_TRACE_E2E_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("AGENT_TRACE_E2E_BIN: %v", err)
		}
		return p
	}
	pkg := "./cmd/" + name
	if _, err := os.Stat(filepath.Join(repoRoot, pkg)); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing", pkg)
		}
		t.Skipf("%s does not exist yet", pkg)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := builtPaths[name]; ok {
		return p
	}
	if err, ok := buildErrs[name]; ok {
		t.Fatalf("build %s: %v", name, err)
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "agent-trace-e2e-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		buildErrs[name] = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		t.Fatalf("%v", buildErrs[name])
	}
	builtPaths[name] = out
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// agentServer is a running agent-trace-server process.
type agentServer struct {
	CollectorURL string // http://127.0.0.1:PORT
	APIURL       string
	DashboardURL string
	OTLPURL      string // the OTLP receiver: gRPC and OTLP/HTTP
	DBPath       string
	log          *bytes.Buffer
}

// startServer runs the built server on free ports with a temporary SQLite database. It is
// stopped with SIGTERM when the test ends.
func startServer(t *testing.T, serverBin string) *agentServer {
	t.Helper()
	return startServerEnv(t, serverBin, nil)
}

// startServerEnv is startServer with extra environment (a team backend's URLs, say).
func startServerEnv(t *testing.T, serverBin string, extraEnv []string) *agentServer {
	t.Helper()
	dir := t.TempDir()
	cp, ap, dp, op := freePort(t), freePort(t), freePort(t), freePort(t)
	s := &agentServer{
		OTLPURL:      fmt.Sprintf("http://127.0.0.1:%d", op),
		CollectorURL: fmt.Sprintf("http://127.0.0.1:%d", cp),
		APIURL:       fmt.Sprintf("http://127.0.0.1:%d", ap),
		DashboardURL: fmt.Sprintf("http://127.0.0.1:%d", dp),
		DBPath:       filepath.Join(dir, "data.db"),
		log:          &bytes.Buffer{},
	}
	cmd := exec.Command(serverBin,
		"--collector-port", fmt.Sprint(cp), "--api-port", fmt.Sprint(ap),
		"--dashboard-port", fmt.Sprint(dp), "--otlp-port", fmt.Sprint(op), "--db", s.DBPath)
	cmd.Env = append(cleanEnv(), "HOME="+dir, "AGENT_TRACE_HOME="+filepath.Join(dir, "server-home"))
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server output:\n%s", s.log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.APIURL + "/v1/sessions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-done:
			t.Fatalf("server exited before answering:\n%s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer GET /v1/sessions within 30s:\n%s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cleanEnv is the environment without anything that would point a child at the user's
// real agent-trace or Claude Code setup.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "CLAUDE_CONFIG_DIR", strings.HasPrefix(k, "AGENT_TRACE_"),
			strings.HasPrefix(k, "ANTHROPIC_"), strings.HasPrefix(k, "CLAUDE_CODE_"),
			k == "COLLECTOR_PORT", k == "API_PORT", k == "DASHBOARD_PORT", k == "SQLITE_DB_PATH",
			k == "OTLP_PORT", k == "OTEL_PRIVACY_TIER", strings.HasPrefix(k, "OTEL_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

// hookEnv is a private Claude Code + agent-trace setup: HOME, CLAUDE_CONFIG_DIR and
// AGENT_TRACE_HOME in temporary directories.
type hookEnv struct {
	Bin             string
	Home            string
	ClaudeConfigDir string
	AgentTraceHome  string
}

func newHookEnv(t *testing.T, hookBin string) *hookEnv {
	t.Helper()
	return newHookEnvDir(t, t.TempDir(), hookBin)
}

func newHookEnvDir(t testing.TB, dir, hookBin string) *hookEnv {
	t.Helper()
	h := &hookEnv{
		Bin:             hookBin,
		Home:            filepath.Join(dir, "home"),
		ClaudeConfigDir: filepath.Join(dir, "home", ".claude"),
		AgentTraceHome:  filepath.Join(dir, "home", ".agent-trace"),
	}
	for _, d := range []string{h.ClaudeConfigDir, h.AgentTraceHome} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// command is the hook binary with args and stdin, in this environment, not yet started.
func (h *hookEnv) command(stdin []byte, args ...string) *exec.Cmd {
	cmd := exec.Command(h.Bin, args...)
	cmd.Env = h.Env()
	cmd.Dir = h.Home
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd
}

func (h *hookEnv) Env() []string {
	return append(cleanEnv(), "HOME="+h.Home, "CLAUDE_CONFIG_DIR="+h.ClaudeConfigDir, "AGENT_TRACE_HOME="+h.AgentTraceHome)
}

// Run runs the hook binary with args and stdin and returns stdout; it fails the test on a
// non-zero exit.
func (h *hookEnv) Run(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, errOut, err := h.run(stdin, args...)
	if err != nil {
		t.Fatalf("agent-trace-hook %s: %v\nstdout: %s\nstderr: %s\nhook.log: %s", strings.Join(args, " "), err, out, errOut, h.hookLog())
	}
	return out
}

func (h *hookEnv) run(stdin []byte, args ...string) (stdout, stderr string, err error) {
	return h.runEnv(nil, stdin, args...)
}

// runEnv runs the hook with extra environment variables and reports how it went.
func (h *hookEnv) runEnv(extraEnv []string, stdin []byte, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.Bin, args...)
	cmd.Env = append(h.Env(), extraEnv...)
	cmd.Dir = h.Home
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func (h *hookEnv) hookLog() string {
	b, _ := os.ReadFile(filepath.Join(h.AgentTraceHome, "hook.log"))
	return string(b)
}

// Capture runs the hook on one payload as Claude Code does and checks the hook contract:
// exit 0 and nothing on stdout.
func (h *hookEnv) Capture(t *testing.T, payload []byte) {
	t.Helper()
	if out := h.Run(t, payload); out != "" {
		t.Fatalf("capture printed %q on stdout; hooks must print nothing", out)
	}
}

// recordingProxy sits between the hook and the collector and keeps every request body and
// response, so a test can re-send a batch exactly as the hook sent it.
type recordingProxy struct {
	*httptest.Server
	mu    sync.Mutex
	calls []proxyCall
}

type proxyCall struct {
	Path     string
	Body     []byte
	Status   int
	Response []byte
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		req := resp.Request
		reqBody, _ := req.Context().Value(bodyKey{}).([]byte)
		p.mu.Lock()
		p.calls = append(p.calls, proxyCall{Path: req.URL.Path, Body: reqBody, Status: resp.StatusCode, Response: body})
		p.mu.Unlock()
		return nil
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

type bodyKey struct{}

func (p *recordingProxy) Calls() []proxyCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxyCall(nil), p.calls...)
}

// httpGet returns the body of a 200 answer to GET url.
func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return body, nil
}

// getJSON GETs url and decodes the JSON answer into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: decode: %v\n%s", url, err, body)
	}
}

// apiSession is the part of GET /v1/sessions/{id} the e2e tests check. The names are the
// API contract (issue 2); extra fields are ignored.
type apiSession struct {
	ID            string      `json:"id"`
	Status        string      `json:"status"`
	CWD           string      `json:"cwd"`
	PromptCount   int         `json:"prompt_count"`
	ToolCallCount int         `json:"tool_call_count"`
	ErrorCount    int         `json:"error_count"`
	CommitCount   int         `json:"commit_count"`
	EventCount    int         `json:"event_count"`
	Usage         apiUsage    `json:"usage"`
	CostUSD       *float64    `json:"cost_usd"`
	Prompts       []apiPrompt `json:"prompts"`
	Commits       []apiCommit `json:"commits"`
}

type apiUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

type apiPrompt struct {
	ID        string        `json:"id"`
	Index     int           `json:"index"`
	Text      string        `json:"text"`
	ToolCalls []apiToolCall `json:"tool_calls"`
	Commits   []apiCommit   `json:"commits"`
}

type apiToolCall struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Status     string        `json:"status"`
	DurationMS int64         `json:"duration_ms"`
	AgentID    string        `json:"agent_id"`
	Children   []apiToolCall `json:"children"`
}

type apiCommit struct {
	SHA       string `json:"sha"`
	PromptID  string `json:"prompt_id"`
	ToolUseID string `json:"tool_use_id"`
	Message   string `json:"message"`
	Branch    string `json:"branch"`
}

// session fetches one session through the API.
func (s *agentServer) session(t *testing.T, id string) apiSession {
	t.Helper()
	var got apiSession
	getJSON(t, s.APIURL+"/v1/sessions/"+url.PathEscape(id), &got)
	return got
}

// sessionIDs lists every session ID through the API, following next_cursor.
func (s *agentServer) sessionIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 100 {
		u := s.APIURL + "/v1/sessions?limit=200"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Sessions []struct {
				ID string `json:"id"`
			} `json:"sessions"`
			NextCursor string `json:"next_cursor"`
		}
		getJSON(t, u, &page)
		for _, s := range page.Sessions {
			ids = append(ids, s.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
	t.Fatal("GET /v1/sessions: more than 100 pages")
	return nil
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// walkToolCalls visits every tool call of a session, subagent calls included, with the
// call it hangs under (nil at the top level).
func walkToolCalls(s apiSession, visit func(p apiPrompt, parent *apiToolCall, c apiToolCall)) {
	var walk func(p apiPrompt, parent *apiToolCall, calls []apiToolCall)
	walk = func(p apiPrompt, parent *apiToolCall, calls []apiToolCall) {
		for i := range calls {
			visit(p, parent, calls[i])
			walk(p, &calls[i], calls[i].Children)
		}
	}
	for _, p := range s.Prompts {
		walk(p, nil, p.ToolCalls)
	}
}
