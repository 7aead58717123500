package claudesettings

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// DeviceID is this installation's Claude Code device id: the userID of its global
// config ($CLAUDE_CONFIG_DIR/.claude.json, else ~/.claude.json), which Claude Code
// sends as the OTel attribute user.id. "" when Claude Code has not written one yet.
func DeviceID() string {
	for _, p := range globalConfigPaths() {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var cfg struct {
			UserID string `json:"userID"`
		}
		if json.Unmarshal(b, &cfg) == nil && cfg.UserID != "" {
			return cfg.UserID
		}
	}
	return ""
}

// globalConfigPaths are where Claude Code keeps its global config, the current name
// first and then the older .config.json.
func globalConfigPaths() []string {
	dir := os.Getenv("CLAUDE_CONFIG_DIR")
	if dir == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		return []string{filepath.Join(h, ".claude.json"), filepath.Join(h, ".claude", ".config.json")}
	}
	return []string{filepath.Join(dir, ".claude.json"), filepath.Join(dir, ".config.json")}
}
