package agentconfig

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/internal/claudesettings"
)

func clearConfigEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AGENT_TRACE_COLLECTOR_URL", "AGENT_TRACE_TOKEN", "AGENT_TRACE_PRIVACY_TIER"} {
		t.Setenv(k, "")
	}
}

func TestHome(t *testing.T) {
	t.Setenv("AGENT_TRACE_HOME", "/x/y")
	if got := Home(); got != "/x/y" {
		t.Errorf("Home() = %q", got)
	}
	t.Setenv("AGENT_TRACE_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if got, want := Home(), "/home/someone/.agent-trace"; got != want {
		t.Errorf("Home() = %q, want %q", got, want)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Setenv("USER", "alice")
	host, _ := os.Hostname()
	tests := []struct {
		name    string
		file    string // "" = no file
		env     map[string]string
		want    Config
		wantErr bool
	}{
		{"missing file", "", nil, Config{CollectorURL: DefaultCollectorURL, Tier: 2, User: "alice", Host: host, SpoolMaxBytes: 1 << 30}, false},
		{"file", `{"collector_url":"http://127.0.0.1:9999","privacy_tier":3,"token":"tok","user":"bob","host":"h","spool_max_bytes":1024}`, nil,
			Config{CollectorURL: "http://127.0.0.1:9999", Tier: 3, Token: "tok", User: "bob", Host: "h", SpoolMaxBytes: 1024}, false},
		{"partial file", `{"privacy_tier":1,"extra":"ignored"}`, nil, Config{CollectorURL: DefaultCollectorURL, Tier: 1, User: "alice", Host: host, SpoolMaxBytes: 1 << 30}, false},
		{"env overrides", `{"collector_url":"http://127.0.0.1:9999","privacy_tier":3,"token":"tok"}`,
			map[string]string{"AGENT_TRACE_COLLECTOR_URL": "http://127.0.0.1:1234", "AGENT_TRACE_TOKEN": "envtok", "AGENT_TRACE_PRIVACY_TIER": "1"},
			Config{CollectorURL: "http://127.0.0.1:1234", Tier: 1, Token: "envtok", User: "alice", Host: host, SpoolMaxBytes: 1 << 30}, false},
		{"corrupt file", `{"privacy_tier":3`, nil, Config{CollectorURL: DefaultCollectorURL, Tier: 1, User: "alice", Host: host, SpoolMaxBytes: 1 << 30}, true},
		{"tier out of range", `{"privacy_tier":7}`, nil, Config{CollectorURL: DefaultCollectorURL, Tier: 1, User: "alice", Host: host, SpoolMaxBytes: 1 << 30}, true},
		{"bad env tier", `{"privacy_tier":3}`, map[string]string{"AGENT_TRACE_PRIVACY_TIER": "high"},
			Config{CollectorURL: DefaultCollectorURL, Tier: 1, User: "alice", Host: host, SpoolMaxBytes: 1 << 30}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearConfigEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			home := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(home, "config.json"), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadConfig(home)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSaveConfig(t *testing.T) {
	clearConfigEnv(t)
	home := filepath.Join(t.TempDir(), "new", "home")
	want := Config{CollectorURL: "http://127.0.0.1:8317", Tier: 1, Token: "secret-token", User: "u", Host: "h", SpoolMaxBytes: 5}
	if err := SaveConfig(home, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(home, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	got, err := LoadConfig(home)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, want)
	}
	want.Tier = 3
	if err := SaveConfig(home, want); err != nil {
		t.Fatal(err)
	}
	if got, _ := LoadConfig(home); got.Tier != 3 {
		t.Errorf("overwrite: tier %d", got.Tier)
	}
	entries, _ := os.ReadDir(home)
	if len(entries) != 1 {
		t.Errorf("home holds %d entries, want only config.json (no temp files)", len(entries))
	}
}

func TestLogf(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	Logf(home, "capture: %v", errors.New("bad payload: password=hunter2\nsecond line"))
	data, err := os.ReadFile(filepath.Join(home, "hook.log"))
	if err != nil {
		t.Fatal(err)
	}
	line := string(data)
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Errorf("want exactly one line, got %q", line)
	}
	if strings.Contains(line, "hunter2") || !strings.Contains(line, "password=[REDACTED:secret_assignment]") {
		t.Errorf("line not redacted: %q", line)
	}
	if !strings.HasPrefix(line, "20") || !strings.Contains(line, `bad payload: password=[REDACTED:secret_assignment]\nsecond line`) {
		t.Errorf("line = %q", line)
	}
}

func TestLogfRotates(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, "hook.log")
	if err := os.WriteFile(path, bytes.Repeat([]byte("old line\n"), logMaxBytes/9+1), 0o600); err != nil {
		t.Fatal(err)
	}
	Logf(home, "fresh")
	got, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(got), " fresh\n") || len(got) > 100 {
		t.Errorf("hook.log after rotation = %.100q", got)
	}
	old, err := os.Stat(path + ".1")
	if err != nil || old.Size() < logMaxBytes {
		t.Errorf("hook.log.1: %v %v", old, err)
	}
	// Long messages are cut so one call cannot fill the log.
	Logf(home, "%s", strings.Repeat("y", 10*logMaxLine))
	got, _ = os.ReadFile(path)
	if len(got) > 2*logMaxLine {
		t.Errorf("hook.log grew by %d bytes for one line", len(got))
	}
}

func TestLogfNeverFails(t *testing.T) {
	home := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(home, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	Logf(home, "home is a file: %d", 1) // must neither panic nor create anything
}

// Windows names the login in USERNAME, Unix in USER.
func TestDefaultUserFromEnvironment(t *testing.T) {
	t.Setenv("USER", "")
	t.Setenv("USERNAME", "jane")
	if got := DefaultConfig().User; got != "jane" {
		t.Errorf("User with only USERNAME set = %q, want jane", got)
	}
	t.Setenv("USER", "joe")
	if got := DefaultConfig().User; got != "joe" {
		t.Errorf("User with USER set = %q, want joe", got)
	}
}

func TestNormalizeCollectorURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8317", "http://127.0.0.1:8317"},
		{"http://127.0.0.1:8317/", "http://127.0.0.1:8317"},
		{"http://127.0.0.1:8317/v1/hooks", "http://127.0.0.1:8317"},
		{"http://127.0.0.1:8317/v1/hooks/", "http://127.0.0.1:8317"},
		{" https://trace.example.com/V1/Hooks ", "https://trace.example.com"},
		{"https://example.com/agent-trace/v1/hooks", "https://example.com/agent-trace"},
		{"https://example.com/agent-trace/", "https://example.com/agent-trace"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeCollectorURL(tt.in); got != tt.want {
			t.Errorf("NormalizeCollectorURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A config written with the original's /v1/hooks form, or an environment variable in
// that form, heals when read.
func TestLoadConfigHealsHooksPath(t *testing.T) {
	clearConfigEnv(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.json"), []byte(`{"collector_url": "http://10.0.0.5:8317/v1/hooks"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(home)
	if err != nil || cfg.CollectorURL != "http://10.0.0.5:8317" {
		t.Fatalf("LoadConfig = %q, %v; want http://10.0.0.5:8317", cfg.CollectorURL, err)
	}
	t.Setenv("AGENT_TRACE_COLLECTOR_URL", "https://trace.example.com/v1/hooks/")
	if cfg, _ := LoadConfig(home); cfg.CollectorURL != "https://trace.example.com" {
		t.Fatalf("LoadConfig with the env override = %q, want https://trace.example.com", cfg.CollectorURL)
	}
}

func TestOTLPEndpoint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8317", "http://127.0.0.1:4717"},
		{"http://127.0.0.1:8317/v1/hooks", "http://127.0.0.1:4717"},
		{"https://trace.example.com", "https://trace.example.com:4717"},
		{"https://example.com/agent-trace/", "https://example.com:4717"},
		{"http://[::1]:8317", "http://[::1]:4717"},
		{"http://user:pw@host:1", "http://host:4717"},
	}
	for _, tt := range tests {
		if got, err := OTLPEndpoint(tt.in); err != nil || got != tt.want {
			t.Errorf("OTLPEndpoint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:8317", "ftp://h", "http://"} {
		if got, err := OTLPEndpoint(bad); err == nil {
			t.Errorf("OTLPEndpoint(%q) = %q, want an error", bad, got)
		}
	}
}

// What init --otel recorded survives a save and a load, so uninstall can find it.
func TestOTelSetupRoundTrip(t *testing.T) {
	clearConfigEnv(t)
	home := t.TempDir()
	prev := "https://theirs"
	c := DefaultConfig()
	c.OTel = map[string]*OTelSetup{"/h/.claude/settings.json": {
		Endpoint: "http://x:1", Traces: true,
		Env: map[string]claudesettings.OwnedEnv{"OTEL_EXPORTER_OTLP_ENDPOINT": {Value: "http://x:1", Previous: &prev}},
	}}
	if err := SaveConfig(home, c); err != nil {
		t.Fatal(err)
	}
	got, err := LoadConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.OTel, c.OTel) {
		t.Errorf("OTel after a round trip = %+v, want %+v", got.OTel, c.OTel)
	}
}
