package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// init --mcp registers the HTTP MCP server in Claude Code's global config, keeping its
// other keys; status reports it; uninstall removes exactly it.
func TestInitMCPStatusUninstall(t *testing.T) {
	e := newEnv(t, deadURL)
	os.MkdirAll(e.claudeDir, 0o700)
	global := filepath.Join(e.claudeDir, ".claude.json")
	os.WriteFile(global, []byte(`{"userID":"dev1","mcpServers":{"github":{"type":"stdio","command":"gh-mcp"}},"numStartups":3}`), 0o644)

	r := e.run(nil, "init", "--collector-url", "http://10.0.0.5:8317", "--mcp", "--mcp-token", "at_read")
	if r.code != 0 || !strings.Contains(r.stdout, "mcp: registered http://10.0.0.5:8318/mcp") {
		t.Fatalf("init --mcp: %+v", r)
	}
	var cfg struct {
		UserID     string                     `json:"userID"`
		NumStarts  int                        `json:"numStartups"`
		MCPServers map[string]json.RawMessage `json:"mcpServers"`
	}
	data, _ := os.ReadFile(global)
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	got, want := string(cfg.MCPServers["agent-trace"]), `{"type":"http","url":"http://10.0.0.5:8318/mcp","headers":{"Authorization":"Bearer at_read"}}`
	if compact(t, got) != compact(t, want) || cfg.UserID != "dev1" || cfg.NumStarts != 3 || cfg.MCPServers["github"] == nil {
		t.Fatalf("global config after init --mcp:\n%s", data)
	}
	if fi, _ := os.Stat(global); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the entry holds a token", fi.Mode().Perm())
	}
	if r := e.run(nil, "init", "--collector-url", "http://10.0.0.5:8317", "--mcp", "--mcp-token", "at_read"); !strings.Contains(r.stdout, "mcp: already registered") {
		t.Errorf("second init --mcp: %+v", r)
	}
	if st := e.run(nil, "status"); !strings.Contains(st.stdout, `mcp:             "agent-trace" registered in `+global+`: http://10.0.0.5:8318/mcp, with a token`) {
		t.Errorf("status:\n%s", st.stdout)
	}

	if r := e.run(nil, "uninstall"); r.code != 0 || !strings.Contains(r.stdout, `mcp: removed the MCP server "agent-trace"`) {
		t.Fatalf("uninstall: %+v", r)
	}
	data, _ = os.ReadFile(global)
	if strings.Contains(string(data), "agent-trace") || !strings.Contains(string(data), "gh-mcp") || !strings.Contains(string(data), `"userID": "dev1"`) {
		t.Fatalf("global config after uninstall:\n%s", data)
	}
	if st := e.run(nil, "status"); !strings.Contains(st.stdout, "mcp:             not registered") {
		t.Errorf("status after uninstall:\n%s", st.stdout)
	}
}

// An entry the user edited after init is theirs: --mcp=false leaves it.
func TestInitMCPKeepsEditedEntry(t *testing.T) {
	e := newEnv(t, deadURL)
	if r := e.run(nil, "init", "--mcp"); r.code != 0 || !strings.Contains(r.stdout, "http://127.0.0.1:8318/mcp") {
		t.Fatalf("init --mcp: %+v", r)
	}
	global := filepath.Join(e.claudeDir, ".claude.json")
	edited := `{"mcpServers":{"agent-trace":{"type":"http","url":"https://trace.example.com/mcp"}}}`
	os.WriteFile(global, []byte(edited), 0o600)
	if st := e.run(nil, "status"); !strings.Contains(st.stdout, "not as init wrote it") {
		t.Errorf("status:\n%s", st.stdout)
	}
	if r := e.run(nil, "init", "--mcp=false"); !strings.Contains(r.stdout, "mcp: kept") {
		t.Errorf("init --mcp=false: %+v", r)
	}
	if data, _ := os.ReadFile(global); string(data) != edited {
		t.Errorf("global config changed:\n%s", data)
	}
}

func TestMCPURL(t *testing.T) {
	tests := []struct{ flag, collector, want string }{
		{"", "http://127.0.0.1:8317", "http://127.0.0.1:8318/mcp"},
		{"", "http://[::1]:8317", "http://[::1]:8318/mcp"},
		{"", "https://trace.example.com", "https://trace.example.com/mcp"},
		{"https://api.example.com/mcp", "http://127.0.0.1:8317", "https://api.example.com/mcp"},
	}
	for _, tc := range tests {
		if got := mcpURL(tc.flag, tc.collector); got != tc.want {
			t.Errorf("mcpURL(%q, %q) = %q, want %q", tc.flag, tc.collector, got, tc.want)
		}
	}
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
