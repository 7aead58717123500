package claudesettings

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	env, err := Env(path)
	if err != nil {
		t.Fatalf("Env: %v", err)
	}
	return env
}

// SetEnv writes the missing variables, keeps the user's (reporting those that differ),
// keeps every other setting, and UnsetEnv removes exactly what SetEnv wrote.
func TestSetEnvKeepsUserKeysAndUnsetRemovesOnlyOurs(t *testing.T) {
	path := writeSettings(t, userSettings) // env: {"FOO": "bar"}
	want := []EnvVar{{"FOO", "ours"}, {"A", "1"}, {"B", "2"}}
	res, err := SetEnv(path, want, nil, EnvOptions{})
	if err != nil || !res.Changed {
		t.Fatalf("SetEnv: %+v, %v", res, err)
	}
	if got, want := res.Kept, []EnvConflict{{"FOO", "bar", "ours"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Kept = %v, want %v", got, want)
	}
	if got, want := mustEnv(t, path), map[string]string{"FOO": "bar", "A": "1", "B": "2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("env = %v, want %v", got, want)
	}
	if _, ok := res.Owned["FOO"]; ok || len(res.Owned) != 2 {
		t.Errorf("Owned = %v, want A and B only", res.Owned)
	}
	data, _ := os.ReadFile(path)
	for _, keep := range []string{`"model": "opus"`, `"direnv reload"`, `"futureSetting"`} {
		if !strings.Contains(string(data), keep) {
			t.Errorf("settings lost %s:\n%s", keep, data)
		}
	}
	// The block keeps its order: the user's key first, ours after it in order.
	if i, j, k := strings.Index(string(data), `"FOO"`), strings.Index(string(data), `"A"`), strings.Index(string(data), `"B"`); !(i < j && j < k) {
		t.Errorf("env order changed:\n%s", data)
	}

	// Running it again changes nothing and the file is not rewritten.
	before, _ := os.ReadFile(path)
	again, err := SetEnv(path, want, res.Owned, EnvOptions{})
	if err != nil || again.Changed || !reflect.DeepEqual(again.Owned, res.Owned) {
		t.Fatalf("second SetEnv: %+v, %v", again, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a second SetEnv rewrote the file")
	}

	un, err := UnsetEnv(path, res.Owned)
	if err != nil || !un.Changed {
		t.Fatalf("UnsetEnv: %+v, %v", un, err)
	}
	if got, want := mustEnv(t, path), map[string]string{"FOO": "bar"}; !reflect.DeepEqual(got, want) {
		t.Errorf("env after UnsetEnv = %v, want the user's only", got)
	}
}

// With Overwrite the user's value is replaced and remembered; removal puts it back. A
// value the user changed after we wrote it is theirs: neither updated nor removed.
func TestSetEnvOverwriteRestoresAndUserEditsSurvive(t *testing.T) {
	path := writeSettings(t, `{"env": {"EP": "https://theirs", "X": "x"}}`)
	res, err := SetEnv(path, []EnvVar{{"EP", "http://ours"}, {"X", "ours"}}, nil, EnvOptions{Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replaced) != 2 || len(res.Kept) != 0 {
		t.Fatalf("Replaced %v, Kept %v; want both replaced", res.Replaced, res.Kept)
	}
	// The user edits X afterwards.
	if _, err := SetEnv(path, []EnvVar{{"X", "user-again"}}, nil, EnvOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	next, err := SetEnv(path, []EnvVar{{"EP", "http://ours2"}, {"X", "ours"}}, res.Owned, EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := next.Kept, []EnvConflict{{"X", "user-again", "ours"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Kept = %v, want %v", got, want)
	}
	if p := next.Owned["EP"].Previous; p == nil || *p != "https://theirs" {
		t.Errorf("EP record lost the user's previous value: %+v", next.Owned["EP"])
	}
	if _, err := UnsetEnv(path, next.Owned); err != nil {
		t.Fatal(err)
	}
	if got, want := mustEnv(t, path), map[string]string{"EP": "https://theirs", "X": "user-again"}; !reflect.DeepEqual(got, want) {
		t.Errorf("env after UnsetEnv = %v, want %v", got, want)
	}
}

// A variable we wrote that is no longer wanted goes; one that was never ours stays. The
// env block we created goes with our last variable.
func TestSetEnvDropsWhatIsNoLongerWanted(t *testing.T) {
	path := writeSettings(t, `{"model": "opus"}`)
	res, err := SetEnv(path, []EnvVar{{"A", "1"}, {"B", "1"}}, nil, EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err = SetEnv(path, []EnvVar{{"A", "1"}}, res.Owned, EnvOptions{})
	if err != nil || !res.Changed {
		t.Fatalf("SetEnv: %+v, %v", res, err)
	}
	if got, want := mustEnv(t, path), map[string]string{"A": "1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("env = %v, want %v", got, want)
	}
	if _, err := UnsetEnv(path, res.Owned); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), `"env"`) || !strings.Contains(string(data), `"opus"`) {
		t.Errorf("settings after UnsetEnv = %s, want no env block and the model kept", data)
	}
}

// A secret narrows the file's mode; a settings.json in a directory with spaces works.
func TestSetEnvPrivateAndSpaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My Documents", ".claude dir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "settings.json")
	if err := os.WriteFile(path, []byte(`{"env": {"FOO": "bar"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := SetEnv(path, []EnvVar{{"TOKEN_HEADER", "Authorization=Bearer s3cret"}}, nil, EnvOptions{Private: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	if got := mustEnv(t, path)["TOKEN_HEADER"]; got != "Authorization=Bearer s3cret" {
		t.Errorf("TOKEN_HEADER = %q", got)
	}
}

func TestSetEnvSatisfies(t *testing.T) {
	path := writeSettings(t, `{"env": {"OTEL_METRICS_EXPORTER": "otlp,prometheus", "CLAUDE_CODE_ENABLE_TELEMETRY": "true"}}`)
	res, err := SetEnv(path, []EnvVar{{"OTEL_METRICS_EXPORTER", "otlp"}, {"CLAUDE_CODE_ENABLE_TELEMETRY", "1"}}, nil, EnvOptions{Satisfies: SatisfiesOTel})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || len(res.Kept) != 0 || len(res.Owned) != 0 {
		t.Errorf("SetEnv = %+v, want the user's compatible values left alone and not claimed", res)
	}
}

func TestSetEnvBadBlock(t *testing.T) {
	path := writeSettings(t, `{"env": ["not", "an", "object"]}`)
	if _, err := SetEnv(path, []EnvVar{{"A", "1"}}, nil, EnvOptions{}); err == nil || !strings.Contains(err.Error(), "env") {
		t.Errorf("SetEnv on a bad env block: %v, want an error naming env", err)
	}
	if data, _ := os.ReadFile(path); string(data) != `{"env": ["not", "an", "object"]}` {
		t.Errorf("file changed: %s", data)
	}
}

// Hooks and env in one Apply: one write, so the backup is the user's original file.
func TestApplyHooksAndEnvBacksUpTheOriginal(t *testing.T) {
	path := writeSettings(t, userSettings)
	hooks, err := InstallHooks("/opt/agent trace/agent-trace-hook")
	if err != nil {
		t.Fatal(err)
	}
	var res EnvResult
	changed, err := Apply(path, false, hooks, SetEnvEdit([]EnvVar{{"A", "1"}}, nil, EnvOptions{}, &res))
	if err != nil || !changed || !res.Changed {
		t.Fatalf("Apply: changed=%v res=%+v err=%v", changed, res, err)
	}
	if backup, _ := os.ReadFile(path + ".agent-trace.bak"); string(backup) != userSettings {
		t.Errorf("backup = %s, want the original", backup)
	}
	evs, err := InstalledEvents(path, "/opt/agent trace/agent-trace-hook")
	if err != nil || len(evs) != len(Events) || mustEnv(t, path)["A"] != "1" {
		t.Errorf("after Apply: events %v (%v), env %v", evs, err, mustEnv(t, path))
	}
}
