package claudesettings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/agent-trace/agent-trace/internal/atomicfile"
)

// Events are the hook events Claude Code 2.1.x sends that Install registers, in the order
// a session meets them.
var Events = []string{
	"SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PermissionDenied",
	"PostToolUse", "PostToolUseFailure", "Notification", "SubagentStart", "SubagentStop",
	"Stop", "StopFailure", "PreCompact", "PostCompact", "SessionEnd",
}

// BinaryName is the hook binary's name; a handler whose command has this base name is
// ours even when it was installed from another path.
const BinaryName = "agent-trace-hook"

// SettingsPath is Claude Code's user settings file: $CLAUDE_CONFIG_DIR/settings.json,
// else ~/.claude/settings.json.
func SettingsPath() string {
	if d := os.Getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "settings.json")
	}
	h, err := os.UserHomeDir()
	if err != nil {
		h = "."
	}
	return filepath.Join(h, ".claude", "settings.json")
}

// handlerFor is the handler Install registers for one event. Tool and prompt events stay
// synchronous so the HEAD each one reads is in order with the tool calls around it;
// Notification, PostCompact and PermissionDenied change nothing git or the session order
// depends on, so they run async and never hold Claude up. SessionEnd shares a 1.5 s budget.
func handlerFor(ev, hookBin string) handler {
	h := handler{Type: "command", Command: hookBin, Args: []string{"capture"}, Timeout: 5}
	switch ev {
	case "SessionEnd":
		h.Timeout = 2
	case "Notification", "PostCompact", "PermissionDenied":
		h.Async = true
	}
	return h
}

// handler is a command hook in Claude Code's exec form: no shell, so no quoting and no
// profile output on stdout.
type handler struct {
	Type    string   `json:"type"`
	Command string   `json:"command"`
	Args    []string `json:"args"`
	Timeout int      `json:"timeout"` // seconds
	Async   bool     `json:"async,omitempty"`
}

// toolEvents take a matcher on tool_name; "*" matches every tool, MCP tools included.
func isToolEvent(ev string) bool {
	switch ev {
	case "PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest", "PermissionDenied":
		return true
	}
	return false
}

// Install merges agent-trace-hook's handlers for every event in Events into the settings
// file at settingsPath, creating it if needed. Every other setting and handler is kept;
// the file's previous content is copied to settings.json.agent-trace.bak before it
// changes, and the new content is written atomically. When everything is already in
// place the file is not touched and changed is false.
func Install(settingsPath, hookBin string) (changed bool, err error) {
	edit, err := InstallHooks(hookBin)
	if err != nil {
		return false, err
	}
	return Apply(settingsPath, false, edit)
}

// InstallHooks is Install as an Edit, to combine with others in one Apply.
func InstallHooks(hookBin string) (Edit, error) {
	bin, err := filepath.Abs(hookBin)
	if err != nil {
		return nil, fmt.Errorf("install hooks: %w", err)
	}
	return hooksEdit(func(hooks *orderedObject) (bool, error) {
		changed := false
		for _, ev := range Events {
			c, err := installEvent(hooks, ev, bin)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		return changed, nil
	}), nil
}

// Uninstall removes exactly the handlers Install added (command == hookBin, or a command
// named agent-trace-hook), then the matcher groups and events that removal left empty.
// Nothing else changes; changed is false when there was nothing to remove.
func Uninstall(settingsPath, hookBin string) (changed bool, err error) {
	return Apply(settingsPath, false, UninstallHooks(hookBin))
}

// UninstallHooks is Uninstall as an Edit, to combine with others in one Apply.
func UninstallHooks(hookBin string) Edit {
	bin := hookBin
	if bin != "" {
		if abs, err := filepath.Abs(bin); err == nil {
			bin = abs
		}
	}
	return hooksEdit(func(hooks *orderedObject) (bool, error) {
		changed := false
		for _, ev := range append([]string(nil), hooks.keys...) {
			groups, err := decodeGroups(hooks, ev)
			if err != nil {
				return false, err
			}
			kept, removed := removeOurs(groups, bin)
			if removed == 0 {
				continue
			}
			changed = true
			if len(kept) == 0 {
				hooks.delete(ev)
				continue
			}
			if err := hooks.setJSON(ev, kept); err != nil {
				return false, err
			}
		}
		return changed, nil
	})
}

// InstalledEvents lists the events that have one of our handlers, in Events order (then
// any others by name). A missing settings file has none.
func InstalledEvents(settingsPath, hookBin string) ([]string, error) {
	bin := hookBin
	if bin != "" {
		if abs, err := filepath.Abs(bin); err == nil {
			bin = abs
		}
	}
	root, _, err := readSettings(settingsPath)
	if err != nil {
		return nil, err
	}
	hooks, err := hooksOf(root)
	if err != nil {
		return nil, err
	}
	var found []string
	has := map[string]bool{}
	for _, ev := range hooks.keys {
		groups, err := decodeGroups(hooks, ev)
		if err != nil {
			return nil, err
		}
		if _, removed := removeOurs(groups, bin); removed > 0 {
			has[ev] = true
		}
	}
	for _, ev := range Events {
		if has[ev] {
			found = append(found, ev)
			delete(has, ev)
		}
	}
	for _, ev := range hooks.keys {
		if has[ev] {
			found = append(found, ev)
		}
	}
	return found, nil
}

// group is one matcher group: {"matcher": ..., "hooks": [handlers]} plus any keys we do
// not know, kept as they were.
type group struct {
	obj      *orderedObject
	handlers []json.RawMessage
}

func decodeGroups(hooks *orderedObject, ev string) ([]group, error) {
	raw, ok := hooks.vals[ev]
	if !ok {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("settings: hooks.%s is not a list of matcher groups: %w", ev, err)
	}
	groups := make([]group, 0, len(items))
	for i, item := range items {
		obj, err := decodeOrdered(item)
		if err != nil {
			return nil, fmt.Errorf("settings: hooks.%s[%d]: %w", ev, i, err)
		}
		g := group{obj: obj}
		if h, ok := obj.vals["hooks"]; ok {
			if err := json.Unmarshal(h, &g.handlers); err != nil {
				return nil, fmt.Errorf("settings: hooks.%s[%d].hooks is not a list: %w", ev, i, err)
			}
		}
		groups = append(groups, g)
	}
	return groups, nil
}

func (g group) MarshalJSON() ([]byte, error) { return g.obj.MarshalJSON() }

// isOurs reports whether a handler runs agent-trace-hook: the very binary, or one of that
// name installed from elsewhere (a moved install, another platform's path).
func isOurs(handler json.RawMessage, bin string) bool {
	var h struct {
		Command string   `json:"command"`
		Args    []string `json:"args"`
	}
	if json.Unmarshal(handler, &h) != nil || h.Command == "" {
		return false
	}
	if bin != "" && h.Command == bin {
		return true
	}
	program := h.Command
	if h.Args == nil {
		program = firstShellWord(h.Command) // shell form: "'/a b/agent-trace-hook' capture"
	}
	base := program[strings.LastIndexAny(program, `/\`)+1:]
	return base == BinaryName || base == BinaryName+".exe"
}

// firstShellWord is the program a shell-form command runs: its first word, with single
// or double quotes (and what they hold, spaces included) taken as sh, Git Bash and
// PowerShell take them.
func firstShellWord(cmd string) string {
	cmd = strings.TrimLeft(cmd, " \t")
	var word strings.Builder
	var quote rune
	for _, r := range cmd {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote = r
		case r == ' ' || r == '\t':
			return word.String()
		default:
			word.WriteRune(r)
		}
	}
	return word.String()
}

// removeOurs drops our handlers from groups, and the groups that removal left empty.
func removeOurs(groups []group, bin string) (kept []group, removed int) {
	for _, g := range groups {
		var handlers []json.RawMessage
		n := 0
		for _, h := range g.handlers {
			if isOurs(h, bin) {
				n++
				continue
			}
			handlers = append(handlers, h)
		}
		if n == 0 {
			kept = append(kept, g)
			continue
		}
		removed += n
		if len(handlers) == 0 {
			continue
		}
		g.handlers = handlers
		_ = g.obj.setJSON("hooks", handlers)
		kept = append(kept, g)
	}
	return kept, removed
}

// installEvent makes ev have exactly one handler of ours, the one handlerFor describes,
// in a group with the right matcher. It leaves the event alone when that is already so.
func installEvent(hooks *orderedObject, ev, bin string) (bool, error) {
	groups, err := decodeGroups(hooks, ev)
	if err != nil {
		return false, err
	}
	want := handlerFor(ev, bin)
	ours := 0
	inPlace := false
	for _, g := range groups {
		for _, h := range g.handlers {
			if !isOurs(h, bin) {
				continue
			}
			ours++
			if sameJSON(h, want) && matcherOK(g.obj, ev) {
				inPlace = true
			}
		}
	}
	if ours == 1 && inPlace {
		return false, nil
	}
	kept, _ := removeOurs(groups, bin)
	ng := &orderedObject{vals: map[string]json.RawMessage{}}
	if isToolEvent(ev) {
		_ = ng.setJSON("matcher", "*")
	}
	_ = ng.setJSON("hooks", []any{want})
	kept = append(kept, group{obj: ng})
	return true, hooks.setJSON(ev, kept)
}

func matcherOK(g *orderedObject, ev string) bool {
	var m string
	if raw, ok := g.vals["matcher"]; ok {
		if json.Unmarshal(raw, &m) != nil {
			return false
		}
	}
	if isToolEvent(ev) {
		return m == "*" || m == ""
	}
	return m == "" || m == "*"
}

func sameJSON(raw json.RawMessage, want any) bool {
	var got any
	if json.Unmarshal(raw, &got) != nil {
		return false
	}
	b, _ := json.Marshal(want)
	var w any
	_ = json.Unmarshal(b, &w)
	return reflect.DeepEqual(got, w)
}

// Edit is one change to settings.json's top-level object, reporting whether it changed
// anything. Apply runs several in one write.
type Edit func(root *orderedObject) (bool, error)

// Apply reads settings.json, runs edits on it in order, and writes the result back once
// (backup of the previous content first, then atomically) if any edit changed it; so the
// backup is the file as it was before all of them. private narrows the file's mode to
// 0600: an edit puts a secret in it.
func Apply(settingsPath string, private bool, edits ...Edit) (bool, error) {
	return editRoot(settingsPath, privateMode(private), func(root *orderedObject) (bool, error) {
		changed := false
		for _, edit := range edits {
			c, err := edit(root)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		return changed, nil
	})
}

// Track wraps edit to tell whether it, rather than another in the same Apply, changed
// something.
func Track(edit Edit, changed *bool) Edit {
	return func(root *orderedObject) (bool, error) {
		c, err := edit(root)
		*changed = c
		return c, err
	}
}

// hooksEdit turns an edit of the hooks object into an Edit of the whole file.
func hooksEdit(edit func(hooks *orderedObject) (bool, error)) Edit {
	return func(root *orderedObject) (bool, error) {
		hooks, err := hooksOf(root)
		if err != nil {
			return false, err
		}
		hadHooks := root.has("hooks")
		changed, err := edit(hooks)
		if err != nil || !changed {
			return false, err
		}
		if len(hooks.keys) == 0 && hadHooks {
			root.delete("hooks")
		} else if len(hooks.keys) > 0 {
			if err := root.setJSON("hooks", hooks); err != nil {
				return false, err
			}
		}
		return true, nil
	}
}

// editRoot reads settings.json, lets edit change the top-level object, and writes the
// result back (backup first, then atomically) only if edit reports a change. A non-zero
// private mode narrows the file's permissions to it (and to no wider than the file had):
// the file is about to hold a secret.
func editRoot(path string, private fs.FileMode, edit func(root *orderedObject) (bool, error)) (bool, error) {
	root, old, err := readSettings(path)
	if err != nil {
		return false, err
	}
	changed, err := edit(root)
	if err != nil || !changed {
		return false, err
	}
	compact, err := root.MarshalJSON()
	if err != nil {
		return false, fmt.Errorf("encode settings: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return false, fmt.Errorf("encode settings: %w", err)
	}
	out.WriteByte('\n')

	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if private != 0 {
		mode &= private
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("write settings: %w", err)
	}
	if old != nil {
		if err := atomicfile.Write(path+".agent-trace.bak", old, mode); err != nil {
			return false, fmt.Errorf("back up settings: %w", err)
		}
	}
	// A settings.json that is a symlink (into a dotfiles repository, say) stays one: the
	// new content replaces the file it points to.
	target := path
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		target = resolved
	}
	if err := atomicfile.Write(target, out.Bytes(), mode); err != nil {
		return false, fmt.Errorf("write settings: %w", err)
	}
	return true, nil
}

// readSettings returns the settings object and the file's bytes (nil when there is no
// file). An empty file counts as {}.
func readSettings(path string) (*orderedObject, []byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &orderedObject{vals: map[string]json.RawMessage{}}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read settings: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &orderedObject{vals: map[string]json.RawMessage{}}, data, nil
	}
	root, err := decodeOrdered(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read settings %s: %w", path, err)
	}
	return root, data, nil
}

func hooksOf(root *orderedObject) (*orderedObject, error) {
	raw, ok := root.vals["hooks"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return &orderedObject{vals: map[string]json.RawMessage{}}, nil
	}
	h, err := decodeOrdered(raw)
	if err != nil {
		return nil, fmt.Errorf("settings: hooks: %w", err)
	}
	return h, nil
}

// orderedObject is a JSON object whose keys keep their order and whose values stay the
// bytes they were, so rewriting settings.json moves nothing the user wrote.
type orderedObject struct {
	keys []string
	vals map[string]json.RawMessage
}

func decodeOrdered(data []byte) (*orderedObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	o := &orderedObject{vals: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := o.vals[k]; !dup {
			o.keys = append(o.keys, k)
		}
		o.vals[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the object")
	}
	return o, nil
}

func (o *orderedObject) has(k string) bool { _, ok := o.vals[k]; return ok }

func (o *orderedObject) setJSON(k string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if !o.has(k) {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = b
	return nil
}

func (o *orderedObject) delete(k string) {
	if !o.has(k) {
		return
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(o.vals[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// HooksDisabled reports whether the settings file turns every hook off
// ("disableAllHooks": true), in which case installed handlers never run.
func HooksDisabled(settingsPath string) (bool, error) {
	root, _, err := readSettings(settingsPath)
	if err != nil {
		return false, err
	}
	var off bool
	if raw, ok := root.vals["disableAllHooks"]; ok {
		_ = json.Unmarshal(raw, &off)
	}
	return off, nil
}
