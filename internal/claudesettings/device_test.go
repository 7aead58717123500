package claudesettings

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDeviceID(t *testing.T) {
	for _, tt := range []struct {
		name       string
		configDir  bool   // CLAUDE_CONFIG_DIR set
		file, body string // written under the config dir (or HOME)
		want       string
	}{
		{"config dir", true, ".claude.json", `{"numStartups": 3, "userID": "abc123", "projects": {}}`, "abc123"},
		{"older name", true, ".config.json", `{"userID": "old1"}`, "old1"},
		{"home", false, ".claude.json", `{"userID": "home1"}`, "home1"},
		{"not yet written", true, ".claude.json", `{"numStartups": 1}`, ""},
		{"broken file", true, ".claude.json", `{"userID": `, ""},
		{"no file", true, "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			home, dir := t.TempDir(), t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("USERPROFILE", home)
			t.Setenv("CLAUDE_CONFIG_DIR", "")
			where := home
			if tt.configDir {
				t.Setenv("CLAUDE_CONFIG_DIR", dir)
				where = dir
			}
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(where, tt.file), []byte(tt.body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := DeviceID(); got != tt.want {
				t.Errorf("DeviceID() = %q, want %q", got, tt.want)
			}
		})
	}
}
