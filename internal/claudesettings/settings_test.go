package claudesettings

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// userSettings is a settings.json a real user might have: other settings, their own hooks
// on events we also register, keys we do not know.
const userSettings = `{
  "model": "opus",
  "permissions": {"allow": ["Bash(npm test)"], "deny": []},
  "env": {"FOO": "bar"},
  "hooks": {
    "PostToolUse": [
      {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "prettier --write", "timeout": 30}]}
    ],
    "Stop": [
      {"hooks": [{"type": "command", "command": "/usr/bin/notify-send done"}], "customKey": 1}
    ],
    "FileChanged": [
      {"matcher": ".envrc", "hooks": [{"type": "command", "command": "direnv reload"}]}
    ]
  },
  "statusLine": {"type": "command", "command": "~/bin/status"},
  "futureSetting": [1, 2.50, {"x": null}]
}
`

func decodeJSON(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return m
}

func writeSettings(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".claude", "settings.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSettingsPath(t *testing.T) {
	t.Setenv("CLAUDE_CONFIG_DIR", "/cfg")
	if got := SettingsPath(); got != "/cfg/settings.json" {
		t.Errorf("SettingsPath() = %q", got)
	}
	t.Setenv("CLAUDE_CONFIG_DIR", "")
	t.Setenv("HOME", "/home/u")
	if got := SettingsPath(); got != "/home/u/.claude/settings.json" {
		t.Errorf("SettingsPath() = %q", got)
	}
}

func TestInstallUninstall(t *testing.T) {
	path := writeSettings(t, userSettings)
	bin := "/opt/agent-trace/bin/agent-trace-hook"

	changed, err := Install(path, bin)
	if err != nil || !changed {
		t.Fatalf("Install: changed=%v err=%v", changed, err)
	}
	backup, err := os.ReadFile(path + ".agent-trace.bak")
	if err != nil || string(backup) != userSettings {
		t.Errorf("backup = %q, %v; want the original file", backup, err)
	}
	data, _ := os.ReadFile(path)
	got := decodeJSON(t, data)
	orig := decodeJSON(t, []byte(userSettings))

	// Everything of the user's is still there.
	for _, k := range []string{"model", "permissions", "env", "statusLine", "futureSetting"} {
		if !reflect.DeepEqual(got[k], orig[k]) {
			t.Errorf("%s = %v, want %v", k, got[k], orig[k])
		}
	}
	hooks := got["hooks"].(map[string]any)
	if !reflect.DeepEqual(hooks["FileChanged"], orig["hooks"].(map[string]any)["FileChanged"]) {
		t.Errorf("FileChanged hooks changed: %v", hooks["FileChanged"])
	}
	userPost := orig["hooks"].(map[string]any)["PostToolUse"].([]any)[0]
	if post := hooks["PostToolUse"].([]any); len(post) != 2 || !reflect.DeepEqual(post[0], userPost) {
		t.Errorf("PostToolUse groups = %v, want the user's group then ours", post)
	}
	userStop := orig["hooks"].(map[string]any)["Stop"].([]any)[0]
	if stop := hooks["Stop"].([]any); len(stop) != 2 || !reflect.DeepEqual(stop[0], userStop) {
		t.Errorf("Stop groups = %v", stop)
	}
	// The top-level key order is the user's, ours appended where new.
	if i, j := bytes.Index(data, []byte(`"model"`)), bytes.Index(data, []byte(`"futureSetting"`)); i < 0 || j < i {
		t.Errorf("key order changed:\n%s", data)
	}

	// Our handlers: one per event, exact shape.
	for _, ev := range Events {
		groups, _ := hooks[ev].([]any)
		var ours []map[string]any
		var matcher any
		for _, g := range groups {
			gm := g.(map[string]any)
			for _, h := range gm["hooks"].([]any) {
				if hm := h.(map[string]any); hm["command"] == bin {
					ours = append(ours, hm)
					matcher = gm["matcher"]
				}
			}
		}
		if len(ours) != 1 {
			t.Errorf("%s: %d handlers of ours, want 1", ev, len(ours))
			continue
		}
		want := map[string]any{"type": "command", "command": bin, "args": []any{"capture"}, "timeout": 5.0}
		switch ev {
		case "SessionEnd":
			want["timeout"] = 2.0
		case "Notification", "PostCompact", "PermissionDenied":
			want["async"] = true
		}
		if !reflect.DeepEqual(ours[0], want) {
			t.Errorf("%s handler = %v, want %v", ev, ours[0], want)
		}
		wantMatcher := any(nil)
		if isToolEvent(ev) {
			wantMatcher = "*"
		}
		if matcher != wantMatcher {
			t.Errorf("%s matcher = %v, want %v", ev, matcher, wantMatcher)
		}
	}

	evs, err := InstalledEvents(path, bin)
	if err != nil || !reflect.DeepEqual(evs, Events) {
		t.Errorf("InstalledEvents = %v, %v; want %v", evs, err, Events)
	}

	// A second run changes nothing, not even the file's time.
	before, _ := os.Stat(path)
	time.Sleep(10 * time.Millisecond)
	changed, err = Install(path, bin)
	if err != nil || changed {
		t.Fatalf("second Install: changed=%v err=%v", changed, err)
	}
	after, _ := os.Stat(path)
	again, _ := os.ReadFile(path)
	if !bytes.Equal(again, data) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("second Install touched the file")
	}
	if after.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want the user's 0640", after.Mode().Perm())
	}

	// Uninstall takes back exactly what Install added.
	changed, err = Uninstall(path, bin)
	if err != nil || !changed {
		t.Fatalf("Uninstall: changed=%v err=%v", changed, err)
	}
	data, _ = os.ReadFile(path)
	if got := decodeJSON(t, data); !reflect.DeepEqual(got, orig) {
		t.Errorf("after Uninstall:\n%s\nwant\n%s", data, userSettings)
	}
	if evs, _ := InstalledEvents(path, bin); len(evs) != 0 {
		t.Errorf("InstalledEvents after Uninstall = %v", evs)
	}
	if changed, err := Uninstall(path, bin); err != nil || changed {
		t.Errorf("second Uninstall: changed=%v err=%v", changed, err)
	}
}

func TestInstallNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "settings.json")
	if evs, err := InstalledEvents(path, "/bin/agent-trace-hook"); err != nil || len(evs) != 0 {
		t.Errorf("InstalledEvents on no file = %v, %v", evs, err)
	}
	if changed, err := Install(path, "/bin/agent-trace-hook"); err != nil || !changed {
		t.Fatalf("Install: %v %v", changed, err)
	}
	if _, err := os.Stat(path + ".agent-trace.bak"); !os.IsNotExist(err) {
		t.Errorf("backup of a file that did not exist: %v", err)
	}
	if changed, err := Uninstall(path, "/bin/agent-trace-hook"); err != nil || !changed {
		t.Fatalf("Uninstall: %v %v", changed, err)
	}
	data, _ := os.ReadFile(path)
	if got := strings.TrimSpace(string(data)); got != "{}" {
		t.Errorf("after Uninstall: %s, want {}", got)
	}
}

func TestInstallMovedBinary(t *testing.T) {
	path := writeSettings(t, `{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"/old/path/agent-trace-hook","args":["capture"],"timeout":5},{"type":"command","command":"say done"}]}]}}`)
	if changed, err := Install(path, "/new/agent-trace-hook"); err != nil || !changed {
		t.Fatalf("Install: %v %v", changed, err)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte("/old/path")) || !bytes.Contains(data, []byte("say done")) {
		t.Errorf("the old handler must go and the user's stay:\n%s", data)
	}
	stop := decodeJSON(t, data)["hooks"].(map[string]any)["Stop"].([]any)
	if len(stop) != 2 {
		t.Errorf("Stop groups = %v", stop)
	}
	// Relative paths are made absolute: Claude Code runs hooks from the project directory.
	wd, _ := os.Getwd()
	if _, err := Install(path, "bin/agent-trace-hook"); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if !bytes.Contains(data, []byte(`"`+filepath.Join(wd, "bin/agent-trace-hook")+`"`)) {
		t.Errorf("command not absolute:\n%s", data)
	}
}

func TestInstallBadSettings(t *testing.T) {
	tests := map[string]string{
		"invalid JSON":   `{"hooks": `,
		"array":          `[]`,
		"hooks an array": `{"hooks": []}`,
		"event a string": `{"hooks": {"Stop": "x"}}`,
		"trailing data":  `{} {}`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := writeSettings(t, content)
			if changed, err := Install(path, "/bin/agent-trace-hook"); err == nil || changed {
				t.Errorf("Install = %v, %v; want an error", changed, err)
			}
			if data, _ := os.ReadFile(path); string(data) != content {
				t.Errorf("file changed to %s", data)
			}
			if _, err := os.Stat(path + ".agent-trace.bak"); !os.IsNotExist(err) {
				t.Errorf("backup written for a failed install")
			}
		})
	}
	// An empty file is an empty settings object.
	path := writeSettings(t, "")
	if changed, err := Install(path, "/bin/agent-trace-hook"); err != nil || !changed {
		t.Errorf("empty file: %v %v", changed, err)
	}
}

func TestInstallKeepsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "claude-settings.json")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte(`{"model":"opus"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, ".claude", "settings.json")
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if changed, err := Install(link, "/bin/agent-trace-hook"); err != nil || !changed {
		t.Fatalf("Install: %v %v", changed, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("settings.json is no longer a symlink: %v %v", fi, err)
	}
	data, _ := os.ReadFile(real)
	if !bytes.Contains(data, []byte("agent-trace-hook")) || !bytes.Contains(data, []byte(`"model": "opus"`)) {
		t.Errorf("target file = %s", data)
	}
}

func TestHooksDisabled(t *testing.T) {
	for content, want := range map[string]bool{
		`{"disableAllHooks": true}`:  true,
		`{"disableAllHooks": false}`: false,
		`{"model": "opus"}`:          false,
	} {
		got, err := HooksDisabled(writeSettings(t, content))
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", content, got, err, want)
		}
	}
	if got, err := HooksDisabled(filepath.Join(t.TempDir(), "none.json")); err != nil || got {
		t.Errorf("missing file: %v %v", got, err)
	}
}

// Handlers installed by other versions or on other platforms are ours whatever their
// path: exec form takes the command verbatim (spaces included), shell form its first word
// as the shell would.
func TestIsOursAcrossPlatforms(t *testing.T) {
	tests := []struct {
		handler string
		want    bool
	}{
		{`{"command": "/usr/local/bin/agent-trace-hook", "args": ["capture"]}`, true},
		{`{"command": "/Users/Jane Doe/bin/agent-trace-hook", "args": ["capture"]}`, true},
		{`{"command": "C:\\Users\\Jane Doe\\bin\\agent-trace-hook.exe", "args": ["capture"]}`, true},
		{`{"command": "/usr/local/bin/agent-trace-hook capture"}`, true},
		{`{"command": "'/Users/Jane Doe/bin/agent-trace-hook' capture"}`, true},
		{`{"command": "\"C:\\Program Files\\agent-trace\\agent-trace-hook.exe\" capture"}`, true},
		{`{"command": "C:\\tools\\agent-trace-hook.exe capture"}`, true},
		{`{"command": "/Users/Jane Doe/bin/agent-trace-hook capture"}`, false}, // sh runs /Users/Jane
		{`{"command": "/usr/bin/agent-trace-hook-helper"}`, false},
		{`{"command": "prettier --write", "args": []}`, false},
		{`{"command": ""}`, false},
	}
	for _, tt := range tests {
		if got := isOurs(json.RawMessage(tt.handler), "/elsewhere/agent-trace-hook"); got != tt.want {
			t.Errorf("isOurs(%s) = %v, want %v", tt.handler, got, tt.want)
		}
	}
}

// A hook kept under a path with spaces is written verbatim in exec form (no shell, so no
// quoting to get wrong on any platform), found again, and removed exactly.
func TestInstallPathWithSpaces(t *testing.T) {
	path := writeSettings(t, userSettings)
	bin := filepath.Join(t.TempDir(), "My Tools", "agent-trace-hook")
	if _, err := Install(path, bin); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Hooks map[string][]struct {
			Hooks []handler `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	h := got.Hooks["UserPromptSubmit"][0].Hooks[0]
	if h.Command != bin || !reflect.DeepEqual(h.Args, []string{"capture"}) {
		t.Fatalf("UserPromptSubmit handler = %+v, want command %q with args [capture]", h, bin)
	}
	events, err := InstalledEvents(path, bin)
	if err != nil || len(events) != len(Events) {
		t.Fatalf("InstalledEvents = %v, %v; want all %d", events, err, len(Events))
	}
	if _, err := Uninstall(path, bin); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); strings.Contains(string(after), "agent-trace-hook") {
		t.Fatalf("uninstall left our handler:\n%s", after)
	}
}
