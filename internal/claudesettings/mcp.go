package claudesettings

import (
	"encoding/json"
	"fmt"
)

// GlobalConfigPath is Claude Code's global config ($CLAUDE_CONFIG_DIR/.claude.json, else
// ~/.claude.json): its "mcpServers" object holds the user-scope MCP servers, which every
// session of this user connects to without asking (a project's .mcp.json servers need
// approval first).
func GlobalConfigPath() string {
	if p := globalConfigPaths(); len(p) > 0 {
		return p[0]
	}
	return ".claude.json"
}

// MCPServer is a user-scope MCP server entry of the HTTP transport, the form Claude Code
// reads as {"type": "http", "url": …, "headers": {…}}.
type MCPServer struct {
	Type    string            `json:"type"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
}

// SetMCPServer makes mcpServers[name] in the global config at path be entry, keeping
// every other key and server as they were (Claude Code keeps its own state in that
// file). private narrows the file to 0600 (a header holds a token). It reports whether
// the file changed and the entry that was there before (nil when none).
func SetMCPServer(path, name string, entry MCPServer, private bool) (changed bool, previous json.RawMessage, err error) {
	changed, err = editRoot(path, privateMode(private), func(root *orderedObject) (bool, error) {
		servers, err := objectAt(root, "mcpServers")
		if err != nil {
			return false, err
		}
		previous = servers.vals[name]
		if previous != nil && sameJSON(previous, entry) {
			return false, nil
		}
		if err := servers.setJSON(name, entry); err != nil {
			return false, err
		}
		return true, root.setJSON("mcpServers", servers)
	})
	if err != nil {
		return false, nil, fmt.Errorf("register MCP server %s in %s: %w", name, path, err)
	}
	return changed, previous, nil
}

// RemoveMCPServer removes mcpServers[name] from the global config at path, only if it is
// still the entry written (want): one the user changed since is theirs and stays (kept).
// A missing entry is neither removed nor kept.
func RemoveMCPServer(path, name string, want json.RawMessage) (removed, kept bool, err error) {
	removed, err = editRoot(path, 0, func(root *orderedObject) (bool, error) {
		servers, err := objectAt(root, "mcpServers")
		if err != nil {
			return false, err
		}
		have, ok := servers.vals[name]
		if !ok {
			return false, nil
		}
		var w any
		if json.Unmarshal(want, &w) != nil || !sameJSON(have, w) {
			kept = true
			return false, nil
		}
		servers.delete(name)
		return true, root.setJSON("mcpServers", servers)
	})
	if err != nil {
		return false, false, fmt.Errorf("remove MCP server %s from %s: %w", name, path, err)
	}
	return removed, kept, nil
}

// MCPServerEntry is mcpServers[name] in the global config at path, nil when absent.
func MCPServerEntry(path, name string) (json.RawMessage, error) {
	root, _, err := readSettings(path)
	if err != nil {
		return nil, err
	}
	servers, err := objectAt(root, "mcpServers")
	if err != nil {
		return nil, err
	}
	return servers.vals[name], nil
}

// objectAt is the object under key (empty when absent or null), an error when it is
// something else.
func objectAt(root *orderedObject, key string) (*orderedObject, error) {
	raw, ok := root.vals[key]
	if !ok || string(raw) == "null" {
		return &orderedObject{vals: map[string]json.RawMessage{}}, nil
	}
	o, err := decodeOrdered(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return o, nil
}
