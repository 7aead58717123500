package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/lease"
)

// hookBin is the agent-trace-hook binary TestMain builds; the tests run it as Claude
// Code does, as a separate process. TestMain builds agent-trace-deliver next to it,
// where capture and flush look for it.
var hookBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agent-trace-hook-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hookBin = filepath.Join(dir, "agent-trace-hook")
	for _, b := range []struct{ out, pkg string }{
		{hookBin, "."},
		{filepath.Join(dir, delivererName), "../agent-trace-deliver"},
	} {
		build := exec.Command("go", "build", "-o", b.out, b.pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one isolated user: its own HOME, Claude config dir and agent-trace home.
type env struct {
	t         *testing.T
	dir       string
	home      string // AGENT_TRACE_HOME
	claudeDir string // CLAUDE_CONFIG_DIR
	collector string // AGENT_TRACE_COLLECTOR_URL
	held      bool   // holdDelivery was called: no capture starts a deliverer
	bin       string // the hook binary to run; hookBin when empty
	path      string // PATH for the hook; the test's own when empty
}

// deadURL is a loopback address nothing listens on.
const deadURL = "http://127.0.0.1:1"

func newEnv(t *testing.T, collectorURL string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, home: filepath.Join(dir, "agent-trace"), claudeDir: filepath.Join(dir, "claude"), collector: collectorURL}
	// A deliverer started by a capture may outlive the test body; let it finish before
	// the temporary directory goes. One just started may not hold its lock yet, so
	// wait for the lock to stay free a while.
	t.Cleanup(func() {
		if e.held {
			return
		}
		var free time.Time
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if lease.Running(e.home) {
				free = time.Time{}
				continue
			}
			if free.IsZero() {
				free = time.Now()
			}
			if time.Since(free) > 300*time.Millisecond {
				return
			}
		}
	})
	return e
}

func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AGENT_TRACE_") || strings.HasPrefix(kv, "CLAUDE_CONFIG_DIR=") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		if e.path != "" && strings.HasPrefix(kv, "PATH=") {
			kv = "PATH=" + e.path
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+e.dir, "AGENT_TRACE_HOME="+e.home, "CLAUDE_CONFIG_DIR="+e.claudeDir, "AGENT_TRACE_COLLECTOR_URL="+e.collector)
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func (e *env) run(stdin io.Reader, args ...string) result {
	e.t.Helper()
	bin := hookBin
	if e.bin != "" {
		bin = e.bin
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = e.environ()
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return r
}

func (e *env) capture(payload []byte) result {
	e.t.Helper()
	return e.run(bytes.NewReader(payload))
}

func (e *env) logLines() []string {
	data, _ := os.ReadFile(filepath.Join(e.home, "hook.log"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func (e *env) openSpool() *spool.Spool {
	e.t.Helper()
	s, err := spool.Open(spool.Path(e.home), spool.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// pendingIDs returns the IDs in the spool, inbox files folded in first.
func (e *env) pendingIDs() []string {
	e.t.Helper()
	s := e.openSpool()
	defer s.Close()
	if _, err := s.FoldInbox(e.home); err != nil {
		e.t.Fatal(err)
	}
	items, err := s.Peek(100000, 1<<30)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.Event.ID)
	}
	return ids
}

// holdDelivery makes captures start no background deliverer, the way a collector that
// is down does: the spool records a retry time in the future.
func (e *env) holdDelivery() {
	e.t.Helper()
	s := e.openSpool()
	defer s.Close()
	if err := s.UpdateMeta(func(m *spool.Meta) { m.RetryAt = time.Now().Add(time.Hour) }); err != nil {
		e.t.Fatal(err)
	}
	e.held = true
}

func fixture(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func fixtureSession(t *testing.T, dir string) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	sort.Strings(files)
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		t.Fatalf("no fixtures in %s", dir)
	}
	return out
}

func TestCaptureBadInputExitsZeroSilently(t *testing.T) {
	valid := fixture(t, "commit-hooks/010.json")
	tests := []struct {
		name  string
		input []byte
	}{
		{"empty stdin", nil},
		{"invalid JSON", []byte(`{"session_id": "abc", "hook_event_name": `)},
		{"JSON array", []byte(`[{"session_id":"abc","hook_event_name":"Stop"}]`)},
		// Up to capture.MaxReadBytes a payload is kept with its longest strings cut;
		// past it, it is refused whole.
		{"65 MB payload", append(append([]byte(`{"session_id":"abc","hook_event_name":"PostToolUse","tool_response":"`),
			bytes.Repeat([]byte("x"), 65<<20)...), []byte(`"}`)...)},
		{"no session_id", []byte(`{"hook_event_name":"Stop","cwd":"/tmp"}`)},
		{"not JSON at all", []byte("\x00\xff binary garbage")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, deadURL)
			e.holdDelivery()
			if r := e.capture(valid); r.code != 0 || r.stdout != "" {
				t.Fatalf("valid capture: %+v", r)
			}
			before := e.pendingIDs()
			logBefore := len(e.logLines())

			r := e.capture(tt.input)
			if r.code != 0 {
				t.Errorf("exit code = %d, want 0", r.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing (it would reach Claude's context)", r.stdout)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			lines := e.logLines()
			if len(lines) <= logBefore || !strings.Contains(lines[len(lines)-1], "capture") {
				t.Errorf("hook.log = %q, want a new line about the capture", lines)
			}
			if after := e.pendingIDs(); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("spool changed: %v → %v", before, after)
			}
		})
	}
}

func TestCaptureMissingConfigAndUnwritableHome(t *testing.T) {
	e := newEnv(t, deadURL)
	// The home is a file: no config, no spool, no inbox, no log can be written.
	if err := os.WriteFile(e.home, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.capture(fixture(t, "commit-hooks/003.json"))
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("capture with an unusable home = %+v, want exit 0 and silence", r)
	}
}

func TestSixteenHooksAtOnceAllLand(t *testing.T) {
	base := fixture(t, "commit-hooks/003.json")
	payloads := make([][]byte, 16)
	for i := range payloads {
		payloads[i] = bytes.Replace(base, []byte("toolu_cbf5b67bda374294ba06c6b8"), fmt.Appendf(nil, "toolu_parallel_%02d", i), 1)
	}
	wantIDs := func(sessionID string) map[string]bool {
		want := map[string]bool{}
		for i := range payloads {
			want[event.HookID(sessionID, "PreToolUse", fmt.Sprintf("toolu_parallel_%02d", i), "", "", nil)] = true
		}
		return want
	}
	var p struct {
		SessionID string `json:"session_id"`
	}
	json.Unmarshal(base, &p)

	for _, locked := range []bool{false, true} {
		t.Run(fmt.Sprintf("spool locked=%v", locked), func(t *testing.T) {
			e := newEnv(t, deadURL)
			e.holdDelivery()
			var release func()
			if locked {
				// Another process (here: the test) holds the spool for longer than a
				// hook waits, so every hook has to use the inbox.
				s := e.openSpool()
				var once sync.Once
				release = func() { once.Do(func() { s.Close() }) }
				defer release()
			}
			var wg sync.WaitGroup
			results := make([]result, len(payloads))
			start := make(chan struct{})
			for i := range payloads {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results[i] = e.capture(payloads[i])
				}()
			}
			close(start)
			wg.Wait()
			// Counted while the test still holds the spool (when it does): once it lets
			// go, the deliverers the inbox captures started fold the inbox in.
			inbox, _ := spool.InboxFiles(e.home)
			if release != nil {
				release()
			}
			for i, r := range results {
				if r.code != 0 || r.stdout != "" {
					t.Fatalf("hook %d: %+v", i, r)
				}
			}
			// A hook that found the spool busy wrote to the inbox, and inbox captures
			// cannot read the retry time, so they start a deliverer to fold the inbox
			// in. That deliverer may already have emptied the inbox by now, so whether
			// one runs cannot be told from the inbox: let any finish before the test's
			// files go.
			e.held = false
			if locked && len(inbox) != len(payloads) {
				t.Fatalf("%d inbox files, want %d: every hook should have used the inbox", len(inbox), len(payloads))
			}
			got := e.pendingIDs()
			want := wantIDs(p.SessionID)
			if len(got) != len(want) {
				t.Fatalf("%d events landed, want %d", len(got), len(want))
			}
			for _, id := range got {
				if !want[id] {
					t.Fatalf("unexpected event %s", id)
				}
				delete(want, id)
			}
		})
	}
}

// collector is a real HTTP collector on 127.0.0.1 that accepts every batch.
type collector struct {
	*httptest.Server
	mu     sync.Mutex
	ids    []string
	bodies [][]byte
	status int
}

func newCollector(t *testing.T) *collector {
	c := &collector{status: http.StatusAccepted}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("POST /v1/hooks", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b event.Batch
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.status >= 300 {
			w.WriteHeader(c.status)
			return
		}
		for _, e := range b.Events {
			c.ids = append(c.ids, e.ID)
		}
		c.bodies = append(c.bodies, body)
		w.WriteHeader(c.status)
	})
	c.Server = httptest.NewServer(mux)
	t.Cleanup(c.Close)
	return c
}

func (c *collector) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

func TestCaptureStartsBackgroundDelivery(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, c.URL)
	session := fixtureSession(t, "commit-hooks")
	for i, p := range session {
		r := e.capture(p)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("hook %d: %+v", i, r)
		}
		if r.took > 2*time.Second {
			t.Fatalf("hook %d took %v: capture must not wait for delivery", i, r.took)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(c.received()) < len(session) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := c.received()
	if len(got) != len(session) {
		t.Fatalf("collector received %d events, want %d", len(got), len(session))
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("%s delivered twice", id)
		}
		seen[id] = true
	}
	// The deliverer drains, lingers and exits by itself.
	for deadline := time.Now().Add(10 * time.Second); lease.Running(e.home); {
		if time.Now().After(deadline) {
			t.Fatal("the background deliverer did not exit")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ids := e.pendingIDs(); len(ids) != 0 {
		t.Fatalf("spool still holds %d events", len(ids))
	}
}

func TestFlush(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, deadURL)
	e.holdDelivery()
	session := fixtureSession(t, "commit-hooks")
	for _, p := range session {
		e.capture(p)
	}
	r := e.run(nil, "flush")
	if r.code == 0 {
		t.Fatalf("flush with the collector down exited 0: %+v", r)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "could not deliver") {
		t.Fatalf("stderr = %q, want one line with the reason", r.stderr)
	}
	if n := len(e.pendingIDs()); n != len(session) {
		t.Fatalf("pending after a failed flush = %d, want %d", n, len(session))
	}

	e.collector = c.URL
	r = e.run(nil, "flush", "--wait", "--timeout", "30s")
	if r.code != 0 || !strings.Contains(r.stdout, "spool empty") {
		t.Fatalf("flush = %+v, want exit 0 and an empty spool", r)
	}
	if n := len(c.received()); n != len(session) {
		t.Fatalf("collector received %d, want %d", n, len(session))
	}
	// Flushing an empty spool again sends nothing and succeeds.
	if r := e.run(nil, "flush"); r.code != 0 || len(c.received()) != len(session) {
		t.Fatalf("second flush = %+v, received %d", r, len(c.received()))
	}
}

func TestCorruptSpoolMovedAsideCaptureContinues(t *testing.T) {
	e := newEnv(t, deadURL)
	os.MkdirAll(e.home, 0o700)
	if err := os.WriteFile(spool.Path(e.home), bytes.Repeat([]byte("not a bolt file "), 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.capture(fixture(t, "commit-hooks/003.json"))
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("capture = %+v", r)
	}
	moved := spool.CorruptFiles(e.home)
	if len(moved) != 1 {
		t.Fatalf("moved-aside files = %v, want 1", moved)
	}
	if log := strings.Join(e.logLines(), "\n"); !strings.Contains(log, "corrupt") || !strings.Contains(log, moved[0]) {
		t.Fatalf("hook.log = %q, want the corruption reported with the new name", log)
	}
	if ids := e.pendingIDs(); len(ids) != 1 {
		t.Fatalf("fresh spool holds %v, want the captured event", ids)
	}
	if st := e.run(nil, "status"); !strings.Contains(st.stdout, moved[0]) {
		t.Fatalf("status does not report the moved file:\n%s", st.stdout)
	}
}

func TestSecretsNeverReachSpoolLogOrCollector(t *testing.T) {
	session := fixtureSession(t, "secrets-hooks")
	secrets := []string{"AKIAIOSFODNN7EXAMPLE", "hunter2"}
	for _, tier := range []string{"1", "2", "3"} {
		t.Run("tier "+tier, func(t *testing.T) {
			c := newCollector(t)
			e := newEnv(t, c.URL)
			// The payloads point at the session's transcript, which holds the secrets
			// in the assistant's text: the deliverer reads it and must redact it too.
			tp := filepath.Join(e.dir, "projects", "-home-dev-src-demo", "1b99b927-2428-4aac-bc09-8a6ccc271b5d.jsonl")
			os.MkdirAll(filepath.Dir(tp), 0o755)
			os.WriteFile(tp, fixture(t, "secrets-transcript.jsonl"), 0o644)
			for _, p := range session {
				p = bytes.ReplaceAll(p, []byte("/home/dev/.claude/projects/-home-dev-src-demo/1b99b927-2428-4aac-bc09-8a6ccc271b5d.jsonl"), []byte(tp))
				cmd := exec.Command(hookBin)
				cmd.Env = append(e.environ(), "AGENT_TRACE_PRIVACY_TIER="+tier)
				cmd.Stdin = bytes.NewReader(p)
				if out, err := cmd.Output(); err != nil || len(out) != 0 {
					t.Fatalf("capture: %v %q", err, out)
				}
			}
			cmd := exec.Command(hookBin, "flush", "--wait", "--timeout", "30s")
			cmd.Env = append(e.environ(), "AGENT_TRACE_PRIVACY_TIER="+tier)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("flush: %v\n%s", err, out)
			}
			var usage int
			c.mu.Lock()
			for _, b := range c.bodies {
				usage += bytes.Count(b, []byte(`"kind":"usage"`))
				for _, secret := range secrets {
					if bytes.Contains(b, []byte(secret)) {
						t.Errorf("the collector received %s at tier %s", secret, tier)
					}
				}
			}
			c.mu.Unlock()
			if usage == 0 {
				t.Fatal("no usage events delivered: the transcript was not read, so the test proves nothing")
			}
			// Import the same transcript too: its text goes the same way.
			if r := e.run(nil, "import", "--no-progress", filepath.Join(e.dir, "projects")); r.code != 0 {
				t.Fatalf("import: %+v", r)
			}
			for _, name := range []string{"spool.db", "hook.log"} {
				data, _ := os.ReadFile(filepath.Join(e.home, name))
				for _, secret := range secrets {
					if bytes.Contains(data, []byte(secret)) {
						t.Errorf("%s contains %s at tier %s", name, secret, tier)
					}
				}
			}
		})
	}
}

func TestInitStatusUninstall(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, c.URL)
	os.MkdirAll(e.claudeDir, 0o700)
	settings := filepath.Join(e.claudeDir, "settings.json")
	os.WriteFile(settings, []byte(`{"model":"opus","hooks":{"Stop":[{"hooks":[{"type":"command","command":"/usr/bin/true"}]}]}}`), 0o600)

	r := e.run(nil, "init", "--collector-url", c.URL, "--privacy-tier", "3", "--token", "tok", "--user", "alice")
	if r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	if !strings.Contains(r.stdout, "registered") {
		t.Fatalf("init output = %q", r.stdout)
	}
	data, _ := os.ReadFile(settings)
	if !bytes.Contains(data, []byte(hookBin)) || !bytes.Contains(data, []byte("/usr/bin/true")) || !bytes.Contains(data, []byte(`"opus"`)) {
		t.Fatalf("settings.json after init = %s", data)
	}
	var cfg struct {
		CollectorURL string `json:"collector_url"`
		Tier         int    `json:"privacy_tier"`
		Token        string `json:"token"`
		User         string `json:"user"`
	}
	raw, _ := os.ReadFile(filepath.Join(e.home, "config.json"))
	json.Unmarshal(raw, &cfg)
	if cfg.CollectorURL != c.URL || cfg.Tier != 3 || cfg.Token != "tok" || cfg.User != "alice" {
		t.Fatalf("config = %+v", cfg)
	}
	if r := e.run(nil, "init", "--collector-url", c.URL, "--privacy-tier", "3"); r.code != 0 || !strings.Contains(r.stdout, "nothing changed") {
		t.Fatalf("second init = %+v", r)
	}
	if again, _ := os.ReadFile(settings); !bytes.Equal(again, data) {
		t.Fatal("a second init changed settings.json")
	}
	if r := e.run(nil, "init", "--privacy-tier", "7"); r.code == 0 {
		t.Fatal("init accepted tier 7")
	}

	e.holdDelivery()
	e.capture(fixture(t, "commit-hooks/003.json"))
	st := e.run(nil, "status")
	if st.code != 0 {
		t.Fatalf("status: %+v", st)
	}
	for _, want := range []string{"installed in " + settings, "SessionStart", "reachable (HTTP 200)", "1 events", "oldest captured", "dead letters:", "dropped at cap:", "last delivery:   never"} {
		if !strings.Contains(st.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, st.stdout)
		}
	}

	if r := e.run(nil, "uninstall"); r.code != 0 || !strings.Contains(r.stdout, "removed") {
		t.Fatalf("uninstall = %+v", r)
	}
	after, _ := os.ReadFile(settings)
	if bytes.Contains(after, []byte(hookBin)) || !bytes.Contains(after, []byte("/usr/bin/true")) {
		t.Fatalf("settings.json after uninstall = %s", after)
	}
	if st := e.run(nil, "status"); !strings.Contains(st.stdout, "not installed") {
		t.Fatalf("status after uninstall:\n%s", st.stdout)
	}
}

func TestStatusCollectorDown(t *testing.T) {
	e := newEnv(t, deadURL)
	start := time.Now()
	r := e.run(nil, "status")
	if r.code != 0 || !strings.Contains(r.stdout, "unreachable") {
		t.Fatalf("status = %+v", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("status took %v with the collector down", d)
	}
}

func TestImportTranscripts(t *testing.T) {
	e := newEnv(t, deadURL)
	e.holdDelivery()
	r := e.run(nil, "import", "--no-send", filepath.Join("testdata", "subagent-transcripts"))
	if r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	if !strings.Contains(r.stderr, "100%") {
		t.Errorf("no finished progress bar on stderr: %q", r.stderr)
	}
	s := e.openSpool()
	items, err := s.Peek(100000, 1<<30)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, it := range items {
		kinds[it.Event.Kind]++
	}
	if kinds[event.KindUsage] == 0 || kinds[event.KindHook] == 0 {
		t.Fatalf("imported kinds = %v, want usage and hook events", kinds)
	}
	// Importing again appends the same IDs: the collector stores them once.
	first := map[string]bool{}
	for _, it := range items {
		first[it.Event.ID] = true
	}
	e.run(nil, "import", "--no-send", "--no-progress", filepath.Join("testdata", "subagent-transcripts"))
	for _, id := range e.pendingIDs() {
		if !first[id] {
			t.Fatalf("second import produced a new ID %s", id)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	e := newEnv(t, deadURL)
	r := e.run(nil, "--help")
	for _, want := range []string{"init", "status", "flush", "import", "uninstall"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "deliver ") {
		t.Error("--help lists the hidden deliver command")
	}
	if r := e.run(nil, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "agent-trace-hook ") {
		t.Fatalf("version = %+v", r)
	}
}

func TestCaptureIgnoresUnexpectedArguments(t *testing.T) {
	e := newEnv(t, deadURL)
	e.holdDelivery()
	for _, args := range [][]string{{"capture", "--bogus-flag"}, {"capture", "extra", "args"}} {
		cmd := exec.Command(hookBin, args...)
		cmd.Env = e.environ()
		cmd.Stdin = bytes.NewReader(fixture(t, "commit-hooks/003.json"))
		out, err := cmd.Output()
		if err != nil || len(out) != 0 {
			t.Fatalf("%v: err %v, stdout %q", args, err, out)
		}
	}
	// The spool keeps both captures; they carry one ID, so the collector stores one.
	if ids := e.pendingIDs(); len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("pending = %v, want the same event ID twice", ids)
	}
}

func TestStatusListsDeadLetters(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, c.URL)
	s := e.openSpool()
	s.Append(event.Event{ID: "evt_without_tier", Kind: event.KindHook, SessionID: "s", Time: time.Now(), HookEvent: "Stop"})
	s.Close()
	if r := e.run(nil, "flush"); r.code != 0 {
		t.Fatalf("flush: %+v", r)
	}
	r := e.run(nil, "status", "--dead-letters", "5")
	if !strings.Contains(r.stdout, "dead letters:    1") || !strings.Contains(r.stdout, "evt_without_tier") || !strings.Contains(r.stdout, "tier must be 1, 2 or 3") {
		t.Fatalf("status:\n%s", r.stdout)
	}
}

func TestSixteenHooksAtOnceDeliveredOnce(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, c.URL)
	base := fixture(t, "commit-hooks/003.json")
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if r := e.capture(bytes.Replace(base, []byte("toolu_cbf5b67bda374294ba06c6b8"), fmt.Appendf(nil, "toolu_par_%02d", i), 1)); r.code != 0 || r.stdout != "" {
				t.Errorf("hook %d: %+v", i, r)
			}
		}()
	}
	close(start)
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for len(c.received()) < 16 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	seen := map[string]bool{}
	for _, id := range c.received() {
		if seen[id] {
			t.Fatalf("%s delivered twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 16 {
		t.Fatalf("collector received %d distinct events, want 16", len(seen))
	}
	if log := strings.Join(e.logLines(), "\n"); strings.Contains(log, "deliver") {
		t.Fatalf("hook.log reports a delivery problem:\n%s", log)
	}
}

func TestInitPersistsFlagsNotEnvironment(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, "http://127.0.0.1:9/from-env")
	readCfg := func() map[string]any {
		var cfg map[string]any
		raw, _ := os.ReadFile(filepath.Join(e.home, "config.json"))
		json.Unmarshal(raw, &cfg)
		return cfg
	}
	if r := e.run(nil, "init", "--collector-url", c.URL, "--privacy-tier", "1", "--token", "from-flag"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	// Run init again with a token and tier in the environment and no flags for them.
	cmd := exec.Command(hookBin, "init", "--collector-url", c.URL, "--privacy-tier", "1")
	cmd.Env = append(e.environ(), "AGENT_TRACE_TOKEN=from-env")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	cfg := readCfg()
	if cfg["collector_url"] != c.URL || cfg["token"] != "from-flag" || cfg["privacy_tier"] != float64(1) {
		t.Fatalf("config.json = %v, want the flags' values and the saved token, nothing from the environment", cfg)
	}
}

func TestStatusWarnsWhenClaudeDisablesHooks(t *testing.T) {
	e := newEnv(t, deadURL)
	os.MkdirAll(e.claudeDir, 0o700)
	os.WriteFile(filepath.Join(e.claudeDir, "settings.json"), []byte(`{"disableAllHooks": true}`), 0o600)
	if r := e.run(nil, "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	if r := e.run(nil, "status"); !strings.Contains(r.stdout, "DISABLED") {
		t.Fatalf("status does not warn about disableAllHooks:\n%s", r.stdout)
	}
}

// TestImportDeliversEachEventOnce: import delivers what it imported (its progress bar
// covering both), or with --no-send leaves it for flush; either way each event reaches
// the collector once, and the deliverer does not read the imported transcripts again.
func TestImportDeliversEachEventOnce(t *testing.T) {
	for _, noSend := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-send=%v", noSend), func(t *testing.T) {
			c := newCollector(t)
			e := newEnv(t, c.URL)
			projects := filepath.Join(e.dir, "projects")
			session := filepath.Join("testdata", "subagent-transcripts", "-home-dev-src-demo")
			for _, f := range []string{"d04f3c58-1e16-4770-9cf3-d9f8ce8512ba.jsonl", "d04f3c58-1e16-4770-9cf3-d9f8ce8512ba/subagents/agent-a6fd588be11e1c086.jsonl"} {
				data, err := os.ReadFile(filepath.Join(session, f))
				if err != nil {
					t.Fatal(err)
				}
				os.MkdirAll(filepath.Dir(filepath.Join(projects, "p", f)), 0o755)
				os.WriteFile(filepath.Join(projects, "p", f), data, 0o644)
			}
			var want int
			if noSend {
				if r := e.run(nil, "import", "--no-send", "--no-progress", projects); r.code != 0 {
					t.Fatalf("import: %+v", r)
				}
				if want = len(e.pendingIDs()); want == 0 {
					t.Fatal("import spooled nothing")
				}
				if got := len(c.received()); got != 0 {
					t.Fatalf("import --no-send delivered %d events", got)
				}
				if r := e.run(nil, "flush", "--wait", "--timeout", "30s"); r.code != 0 {
					t.Fatalf("flush: %+v", r)
				}
			} else {
				r := e.run(nil, "import", projects)
				if r.code != 0 {
					t.Fatalf("import: %+v", r)
				}
				if !strings.Contains(r.stderr, "delivering [") || !strings.Contains(r.stdout, "spool empty") {
					t.Errorf("import did not show its delivery:\nstdout %q\nstderr %q", r.stdout, r.stderr)
				}
				if left := len(e.pendingIDs()); left != 0 {
					t.Fatalf("%d events left in the spool after import", left)
				}
				// "import: 42 events from …"
				if _, err := fmt.Sscanf(r.stdout[strings.Index(r.stdout, "import: "):], "import: %d events", &want); err != nil {
					t.Fatalf("import's summary: %v in %q", err, r.stdout)
				}
			}
			got := c.received()
			seen := map[string]int{}
			for _, id := range got {
				seen[id]++
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("%s sent %d times: the deliverer read the imported transcripts again", id, n)
				}
			}
			if len(got) != want || want == 0 {
				t.Fatalf("collector received %d events, the import spooled %d", len(got), want)
			}
		})
	}
}

// TestImportWithCollectorDownKeepsEvents: import's delivery fails with the collector
// down; it says so, exits non-zero, and the events wait in the spool.
func TestImportWithCollectorDownKeepsEvents(t *testing.T) {
	e := newEnv(t, deadURL)
	r := e.run(nil, "import", "--no-progress", filepath.Join("testdata", "subagent-transcripts"))
	if r.code == 0 || !strings.Contains(r.stdout, "stay in the spool") {
		t.Fatalf("import with the collector down: %+v", r)
	}
	if len(e.pendingIDs()) == 0 {
		t.Fatal("the imported events are not in the spool")
	}
}

// Without agent-trace-deliver next to the hook (or on PATH), capture still exits 0
// silently and keeps the events; hook.log, status and flush say what is missing.
func TestMissingDelivererKeepsEventsAndSaysWhy(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, c.URL)
	lone := filepath.Join(t.TempDir(), "agent-trace-hook")
	data, err := os.ReadFile(hookBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	e.bin, e.path = lone, "/usr/bin:/bin"
	session := fixtureSession(t, "commit-hooks")[:3]
	for i, p := range session {
		if r := e.capture(p); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("capture %d = %+v, want exit 0 and no output", i, r)
		}
	}
	if n := len(e.pendingIDs()); n != len(session) {
		t.Fatalf("pending = %d, want %d: events must stay in the spool", n, len(session))
	}
	want := "deliverer binary not found next to " + lone
	logged := 0
	for _, l := range e.logLines() {
		if strings.Contains(l, want) {
			logged++
		}
	}
	if logged == 0 || logged > len(session) {
		t.Fatalf("hook.log has %d lines naming the missing deliverer, want 1 per capture at most:\n%s", logged, strings.Join(e.logLines(), "\n"))
	}
	if r := e.run(nil, "status"); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("status = %+v, want it to say %q", r, want)
	}
	r := e.run(nil, "flush")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Fatalf("flush = %+v, want a non-zero exit and one line saying %q", r, want)
	}
	if n := len(c.received()); n != 0 {
		t.Fatalf("collector received %d events with no deliverer", n)
	}
}

// A hook reached through a symlink (a package manager's bin/ link, say) starts the
// deliverer that sits next to the real binary.
func TestSymlinkedHookFindsDeliverer(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, c.URL)
	link := filepath.Join(t.TempDir(), "agent-trace-hook")
	if err := os.Symlink(hookBin, link); err != nil {
		t.Fatal(err)
	}
	e.bin, e.path = link, "/usr/bin:/bin"
	session := fixtureSession(t, "commit-hooks")
	for _, p := range session {
		e.capture(p)
	}
	if r := e.run(nil, "flush", "--wait", "--timeout", "30s"); r.code != 0 {
		t.Fatalf("flush = %+v", r)
	}
	if n := len(c.received()); n != len(session) {
		t.Fatalf("collector received %d, want %d", n, len(session))
	}
	if log := strings.Join(e.logLines(), "\n"); strings.Contains(log, "not found") {
		t.Fatalf("hook.log: %s", log)
	}
}

// A flush --wait that is told to stop (SIGTERM to the hook, as a supervisor or a closing
// terminal does) stops its deliverer cleanly: the summary is printed, the events stay in
// the spool and no deliverer is left running.
func TestFlushWaitStopsOnSIGTERM(t *testing.T) {
	e := newEnv(t, deadURL)
	e.holdDelivery()
	session := fixtureSession(t, "commit-hooks")
	for _, p := range session {
		e.capture(p)
	}
	cmd := exec.Command(hookBin, "flush", "--wait")
	cmd.Env = e.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the deliverer holds its lock: it is then retrying the dead collector.
	for deadline := time.Now().Add(10 * time.Second); !lease.Running(e.home); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("flush --wait never started a deliverer")
		}
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatal("flush --wait did not stop within 15 s of SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatalf("interrupted flush exited 0; stdout %q", out.String())
	}
	if !strings.Contains(out.String(), "events kept in the spool") {
		t.Errorf("stdout = %q, want the summary of what was kept", out.String())
	}
	if lines := strings.Split(strings.TrimSpace(errb.String()), "\n"); len(lines) != 1 {
		t.Errorf("stderr = %q, want one line", errb.String())
	}
	if lease.Running(e.home) {
		t.Error("a deliverer still holds the lock after flush returned")
	}
	if n := len(e.pendingIDs()); n != len(session) {
		t.Fatalf("pending = %d, want %d", n, len(session))
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// A person asking for capture's help gets it; nothing is captured or logged. (Claude Code
// runs capture with no arguments, so this costs the hot path nothing.)
func TestCaptureHelp(t *testing.T) {
	e := newEnv(t, "")
	for _, flag := range []string{"--help", "-h"} {
		r := e.run(strings.NewReader(""), "capture", flag)
		if r.code != 0 || !strings.Contains(r.stdout, "Read one Claude Code hook payload on stdin") {
			t.Errorf("capture %s: exit %d, stdout %q, want the command's help", flag, r.code, r.stdout)
		}
	}
	if log, err := os.ReadFile(filepath.Join(e.home, "hook.log")); err == nil {
		t.Errorf("capture --help wrote hook.log: %s", log)
	}
}

// init honours OTEL_PRIVACY_TIER, as the original agent-trace documents;
// AGENT_TRACE_PRIVACY_TIER and the flag win over it, and a bad value is refused.
func TestInitTierFromEnvironment(t *testing.T) {
	c := newCollector(t)
	e := newEnv(t, c.URL)
	tierAfter := func(env []string, args ...string) (float64, string, error) {
		cmd := exec.Command(hookBin, append([]string{"init", "--collector-url", c.URL}, args...)...)
		cmd.Env = append(e.environ(), env...)
		out, err := cmd.CombinedOutput()
		var cfg map[string]any
		raw, _ := os.ReadFile(filepath.Join(e.home, "config.json"))
		json.Unmarshal(raw, &cfg)
		tier, _ := cfg["privacy_tier"].(float64)
		return tier, string(out), err
	}
	for _, tt := range []struct {
		env  []string
		args []string
		want float64
	}{
		{[]string{"OTEL_PRIVACY_TIER=3"}, nil, 3},
		{[]string{"OTEL_PRIVACY_TIER=3", "AGENT_TRACE_PRIVACY_TIER=1"}, nil, 1},
		{[]string{"OTEL_PRIVACY_TIER=3"}, []string{"--privacy-tier", "2"}, 2},
	} {
		got, out, err := tierAfter(tt.env, tt.args...)
		if err != nil || got != tt.want {
			t.Errorf("init with %v %v: tier %v (%v), want %v\n%s", tt.env, tt.args, got, err, tt.want, out)
		}
	}
	if _, out, err := tierAfter([]string{"OTEL_PRIVACY_TIER=9"}); err == nil || !strings.Contains(out, "OTEL_PRIVACY_TIER") {
		t.Errorf("init with OTEL_PRIVACY_TIER=9: %v, want a refusal naming the variable\n%s", err, out)
	}
}
