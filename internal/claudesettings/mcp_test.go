package claudesettings

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Claude Code's global config holds far more than MCP servers; init must move none of it.
const globalConfig = `{
  "numStartups": 12,
  "userID": "abc123",
  "mcpServers": {
    "github": {"type": "stdio", "command": "gh-mcp", "args": []}
  },
  "projects": {"/home/me/repo": {"allowedTools": []}}
}
`

func TestMCPServerSetAndRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".claude.json")
	if err := os.WriteFile(path, []byte(globalConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	entry := MCPServer{Type: "http", URL: "http://127.0.0.1:8318/mcp", Headers: map[string]string{"Authorization": "Bearer at_x"}}
	changed, prev, err := SetMCPServer(path, "agent-trace", entry, true)
	if err != nil || !changed || prev != nil {
		t.Fatalf("SetMCPServer = %v, %s, %v; want changed, no previous entry", changed, prev, err)
	}
	data, _ := os.ReadFile(path)
	got := string(data)
	for _, want := range []string{`"numStartups": 12`, `"userID": "abc123"`, `"github": {`, `"command": "gh-mcp"`,
		`"agent-trace": {`, `"url": "http://127.0.0.1:8318/mcp"`, `"Authorization": "Bearer at_x"`, `"/home/me/repo"`} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %s:\n%s", want, got)
		}
	}
	if i, j := strings.Index(got, "numStartups"), strings.Index(got, "projects"); i > j {
		t.Errorf("keys reordered:\n%s", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the file holds a token", fi.Mode().Perm())
	}
	if changed, _, _ := SetMCPServer(path, "agent-trace", entry, true); changed {
		t.Error("setting the same entry again changed the file")
	}
	written, err := MCPServerEntry(path, "agent-trace")
	if err != nil || written == nil {
		t.Fatalf("MCPServerEntry = %s, %v", written, err)
	}

	// An entry the user changed since is theirs: removal keeps it.
	other := []byte(`{"type":"http","url":"http://elsewhere/mcp"}`)
	if removed, kept, err := RemoveMCPServer(path, "agent-trace", other); err != nil || removed || !kept {
		t.Errorf("remove someone else's entry = removed %v, kept %v, %v; want kept", removed, kept, err)
	}
	want, _ := json.Marshal(entry)
	if removed, kept, err := RemoveMCPServer(path, "agent-trace", want); err != nil || !removed || kept {
		t.Errorf("remove = removed %v, kept %v, %v; want removed", removed, kept, err)
	}
	if removed, kept, err := RemoveMCPServer(path, "agent-trace", want); err != nil || removed || kept {
		t.Errorf("remove again = removed %v, kept %v, %v; want nothing", removed, kept, err)
	}
	data, _ = os.ReadFile(path)
	if strings.Contains(string(data), "agent-trace") || !strings.Contains(string(data), `"github"`) {
		t.Errorf("after removal:\n%s", data)
	}
}

func TestMCPServerNoConfigYet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", ".claude.json")
	if _, _, err := SetMCPServer(path, "agent-trace", MCPServer{Type: "http", URL: "http://127.0.0.1:8318/mcp"}, false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var got struct {
		MCPServers map[string]MCPServer `json:"mcpServers"`
	}
	if err := json.Unmarshal(data, &got); err != nil || got.MCPServers["agent-trace"].URL != "http://127.0.0.1:8318/mcp" {
		t.Errorf("config = %s, %v", data, err)
	}
}

func TestMCPServerBadShape(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".claude.json")
	os.WriteFile(path, []byte(`{"mcpServers": []}`), 0o600)
	if _, _, err := SetMCPServer(path, "agent-trace", MCPServer{Type: "http", URL: "u"}, false); err == nil {
		t.Error("mcpServers as a list: no error")
	}
}
