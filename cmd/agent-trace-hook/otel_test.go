package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// otelCollector is a collector that answers /healthz and GET /v1/otlp/status, the way a
// server with the OTLP receiver does (or, with status 404, one too old for it).
type otelCollector struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   string
	auth   string
}

func newOTelCollector(t *testing.T, status int, body string) *otelCollector {
	t.Helper()
	c := &otelCollector{status: status, body: body}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /v1/otlp/status", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.auth = r.Header.Get("Authorization")
		w.WriteHeader(c.status)
		w.Write([]byte(c.body))
	})
	c.Server = httptest.NewServer(mux)
	t.Cleanup(c.Close)
	return c
}

func (c *otelCollector) gotAuth() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth
}

// otlpEndpointOf is the endpoint init derives for a collector URL: its host, port 4717.
func otlpEndpointOf(t *testing.T, collector string) string {
	t.Helper()
	u, err := url.Parse(collector)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + net.JoinHostPort(u.Hostname(), "4717")
}

// settingsFile reads the Claude settings file of e: the whole object and its env block.
func (e *env) settingsFile() (map[string]any, map[string]string) {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.claudeDir, "settings.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		e.t.Fatalf("settings.json: %v\n%s", err, data)
	}
	envBlock := map[string]string{}
	if m, ok := root["env"].(map[string]any); ok {
		for k, v := range m {
			envBlock[k], _ = v.(string)
		}
	}
	return root, envBlock
}

// newSpacedEnv is an isolated user whose Claude config dir and agent-trace home have
// spaces in their paths, as on macOS ("Application Support") or Windows.
func newSpacedEnv(t *testing.T, collectorURL string) *env {
	e := newEnv(t, collectorURL)
	e.claudeDir = filepath.Join(e.dir, "Claude Config Dir")
	e.home = filepath.Join(e.dir, "agent trace home")
	return e
}

// init --otel writes the telemetry variables for each tier: content switches never above
// the tier, the endpoint on the collector's host at 4717, the token as a header.
func TestInitOTelPerTier(t *testing.T) {
	c := newOTelCollector(t, 200, `{"last_received_at": null}`)
	ep := otlpEndpointOf(t, c.URL)
	for _, tt := range []struct {
		tier                        string
		prompts, details, responses string
	}{
		{"1", "0", "0", "0"},
		{"2", "1", "1", "0"},
		{"3", "1", "1", "1"},
	} {
		t.Run("tier "+tt.tier, func(t *testing.T) {
			e := newSpacedEnv(t, c.URL)
			r := e.run(nil, "init", "--otel", "--collector-url", c.URL+"/v1/hooks", "--privacy-tier", tt.tier, "--token", "atk_secret")
			if r.code != 0 {
				t.Fatalf("init --otel: %+v", r)
			}
			_, got := e.settingsFile()
			want := map[string]string{
				"CLAUDE_CODE_ENABLE_TELEMETRY": "1",
				"OTEL_LOGS_EXPORTER":           "otlp",
				"OTEL_METRICS_EXPORTER":        "otlp",
				"OTEL_EXPORTER_OTLP_PROTOCOL":  "http/protobuf",
				"OTEL_EXPORTER_OTLP_ENDPOINT":  ep,
				"OTEL_EXPORTER_OTLP_HEADERS":   "Authorization=Bearer atk_secret",
				"OTEL_LOG_USER_PROMPTS":        tt.prompts,
				"OTEL_LOG_TOOL_DETAILS":        tt.details,
				"OTEL_LOG_ASSISTANT_RESPONSES": tt.responses,
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("env block =\n%v\nwant\n%v", got, want)
			}
			if strings.Contains(r.stdout, "atk_secret") {
				t.Errorf("init printed the token:\n%s", r.stdout)
			}
			for _, line := range []string{"telemetry: Claude Code exports logs and metrics over http/protobuf to " + ep, "telemetry: server: server has received none yet"} {
				if !strings.Contains(r.stdout, line) {
					t.Errorf("init output lacks %q:\n%s", line, r.stdout)
				}
			}
			if fi, err := os.Stat(filepath.Join(e.claudeDir, "settings.json")); err != nil || fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("settings.json holding the token: %v, %v; want readable by the owner only", fi, err)
			}
		})
	}
}

// The user's own variables survive: a conflicting one is kept (init says so and exits 1,
// since telemetry would not reach agent-trace), an equal one is left theirs, and
// uninstall removes exactly what init wrote. With --otel-overwrite theirs is replaced and
// uninstall puts it back.
func TestInitOTelUserKeysSurviveUninstall(t *testing.T) {
	c := newOTelCollector(t, 200, `{"last_received_at": null}`)
	e := newSpacedEnv(t, c.URL)
	os.MkdirAll(e.claudeDir, 0o700)
	userEnv := map[string]string{"FOO": "bar", "CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example.com"}
	user, _ := json.Marshal(map[string]any{"model": "opus", "env": userEnv})
	os.WriteFile(filepath.Join(e.claudeDir, "settings.json"), user, 0o600)

	r := e.run(nil, "init", "--otel", "--collector-url", c.URL)
	if r.code != 1 || !strings.Contains(r.stdout, "kept your OTEL_EXPORTER_OTLP_ENDPOINT=https://otel.example.com") ||
		!strings.Contains(r.stderr, "--otel-overwrite") {
		t.Fatalf("init --otel over the user's endpoint = %+v; want exit 1 naming the kept variable", r)
	}
	if _, got := e.settingsFile(); got["OTEL_EXPORTER_OTLP_ENDPOINT"] != "https://otel.example.com" || got["OTEL_LOGS_EXPORTER"] != "otlp" {
		t.Fatalf("env after init = %v; want the user's endpoint kept and ours added", got)
	}
	if r := e.run(nil, "uninstall"); r.code != 0 {
		t.Fatalf("uninstall: %+v", r)
	}
	root, got := e.settingsFile()
	if !reflect.DeepEqual(got, userEnv) || root["model"] != "opus" || root["hooks"] != nil {
		t.Fatalf("settings after uninstall = %v; want the user's env %v, their model, no hooks", root, userEnv)
	}

	r = e.run(nil, "init", "--otel", "--otel-overwrite", "--collector-url", c.URL)
	if r.code != 0 || !strings.Contains(r.stdout, "replaced your OTEL_EXPORTER_OTLP_ENDPOINT=https://otel.example.com") {
		t.Fatalf("init --otel --otel-overwrite = %+v", r)
	}
	if _, got := e.settingsFile(); got["OTEL_EXPORTER_OTLP_ENDPOINT"] != otlpEndpointOf(t, c.URL) {
		t.Fatalf("endpoint after --otel-overwrite = %q", got["OTEL_EXPORTER_OTLP_ENDPOINT"])
	}
	if r := e.run(nil, "uninstall"); r.code != 0 || !strings.Contains(r.stdout, "telemetry: removed") {
		t.Fatalf("uninstall: %+v", r)
	}
	if _, got := e.settingsFile(); !reflect.DeepEqual(got, userEnv) {
		t.Fatalf("env after uninstall = %v, want the user's back: %v", got, userEnv)
	}
}

// --no-hooks sets up telemetry alone, and removes hooks an earlier init registered.
func TestInitOTelNoHooks(t *testing.T) {
	c := newOTelCollector(t, 200, `{"last_received_at": null}`)
	e := newSpacedEnv(t, c.URL)
	if r := e.run(nil, "init", "--otel", "--no-hooks", "--collector-url", c.URL); r.code != 0 || !strings.Contains(r.stdout, "hooks: none registered") {
		t.Fatalf("init --otel --no-hooks = %+v", r)
	}
	root, got := e.settingsFile()
	if root["hooks"] != nil || got["CLAUDE_CODE_ENABLE_TELEMETRY"] != "1" {
		t.Fatalf("settings = %v; want telemetry and no hooks", root)
	}
	st := e.run(nil, "status")
	for _, want := range []string{"hooks:           not installed", "telemetry:       wired in " + filepath.Join(e.claudeDir, "settings.json") + ": logs, metrics over http/protobuf"} {
		if !strings.Contains(st.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, st.stdout)
		}
	}

	e.run(nil, "init", "--collector-url", c.URL) // hooks back; telemetry stays on
	if root, got := e.settingsFile(); root["hooks"] == nil || got["OTEL_LOGS_EXPORTER"] != "otlp" {
		t.Fatalf("after a plain init: %v; want hooks and telemetry", root)
	}
	if r := e.run(nil, "init", "--otel", "--no-hooks", "--collector-url", c.URL); !strings.Contains(r.stdout, "hooks: removed agent-trace-hook") {
		t.Fatalf("init --no-hooks over installed hooks = %+v", r)
	}
	if root, _ := e.settingsFile(); root["hooks"] != nil {
		t.Fatalf("hooks left after --no-hooks: %v", root["hooks"])
	}
}

// A later init keeps telemetry and brings it up to date (tier, endpoint); --otel=false
// removes it; the OTel flags need --otel.
func TestInitOTelUpdatesAndOff(t *testing.T) {
	c := newOTelCollector(t, 200, `{"last_received_at": null}`)
	e := newSpacedEnv(t, c.URL)
	e.run(nil, "init", "--otel", "--collector-url", c.URL, "--privacy-tier", "1")
	if r := e.run(nil, "init", "--collector-url", c.URL, "--privacy-tier", "3"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	if _, got := e.settingsFile(); got["OTEL_LOG_ASSISTANT_RESPONSES"] != "1" {
		t.Fatalf("tier 3 without --otel: env %v, want telemetry kept and its switches raised", got)
	}
	r := e.run(nil, "init", "--collector-url", c.URL, "--privacy-tier", "3", "--otlp-endpoint", "https://otlp.example.com/", "--otel-traces")
	if r.code != 0 {
		t.Fatalf("init --otlp-endpoint: %+v", r)
	}
	if _, got := e.settingsFile(); got["OTEL_EXPORTER_OTLP_ENDPOINT"] != "https://otlp.example.com" || got["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] != "1" || got["OTEL_LOG_TOOL_CONTENT"] != "1" {
		t.Fatalf("env = %v; want the given endpoint and traces", got)
	}
	if r := e.run(nil, "init", "--collector-url", c.URL, "--otel=false"); r.code != 0 || !strings.Contains(r.stdout, "telemetry: removed") {
		t.Fatalf("init --otel=false = %+v", r)
	}
	if root, got := e.settingsFile(); len(got) != 0 || root["env"] != nil {
		t.Fatalf("env after --otel=false = %v, want none", got)
	}
	if r := e.run(nil, "init", "--otel-traces"); r.code != 2 || !strings.Contains(r.stderr, "--otel-traces needs --otel") {
		t.Fatalf("init --otel-traces alone = %+v, want exit 2", r)
	}
}

// status says whether telemetry is wired and asks the server, through the deliverer and
// with the ingest token, when it last received OTel; a 404 means a server too old.
func TestStatusReportsOTel(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"received", 200, `{"last_received_at": "2020-01-02T03:04:05Z"}`, "last OTel:       last received"},
		{"never", 200, `{"last_received_at": null}`, "last OTel:       server has received none yet"},
		{"too old", 404, "404 page not found", "last OTel:       server too old for OTel"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newOTelCollector(t, tt.status, tt.body)
			e := newSpacedEnv(t, c.URL)
			if st := e.run(nil, "status"); !strings.Contains(st.stdout, "telemetry:       not wired") {
				t.Errorf("status before init --otel lacks 'not wired':\n%s", st.stdout)
			}
			e.run(nil, "init", "--otel", "--collector-url", c.URL, "--token", "atk_tok")
			st := e.run(nil, "status")
			if st.code != 0 || !strings.Contains(st.stdout, tt.want) || !strings.Contains(st.stdout, "with a token") {
				t.Fatalf("status = %+v; want %q", st, tt.want)
			}
			if got := c.gotAuth(); got != "Bearer atk_tok" {
				t.Errorf("Authorization sent = %q, want the ingest token", got)
			}
		})
	}
}
