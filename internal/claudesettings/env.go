package claudesettings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
)

// EnvVar is one variable of settings.json's "env" block, which Claude Code puts into its
// own environment at start.
type EnvVar struct {
	Name, Value string
}

// OwnedEnv is one variable SetEnv wrote: the value it wrote and, when it replaced a value
// the user had set (Overwrite), that value, which UnsetEnv puts back. Callers keep these
// records (agent-trace keeps them in its config) so removal touches exactly what was
// written and nothing the user set.
type OwnedEnv struct {
	Value    string  `json:"value"`
	Previous *string `json:"previous,omitempty"`
}

// EnvConflict is a variable the user set to something other than what was wanted.
type EnvConflict struct {
	Name, Have, Want string
}

// EnvOptions tune SetEnv.
type EnvOptions struct {
	// Overwrite replaces the user's conflicting values (remembering them in the
	// returned records) instead of keeping them.
	Overwrite bool
	// Private narrows the settings file's mode to 0600: a value holds a secret.
	Private bool
	// Satisfies reports whether a value the user set already does what want would
	// (say "otlp,prometheus" for "otlp"); such a value is left alone and stays the
	// user's. Nil means only an equal value does.
	Satisfies func(name, have, want string) bool
}

// EnvResult is what SetEnv or UnsetEnv did.
type EnvResult struct {
	// Owned are the variables written by us after the edit: the records to keep.
	Owned map[string]OwnedEnv
	// Kept are values the user set that were left in place although they differ from
	// what was wanted (SetEnv without Overwrite), or that the user changed after we
	// wrote them (UnsetEnv): from then on they are the user's.
	Kept []EnvConflict
	// Replaced are the user's values SetEnv replaced (Overwrite).
	Replaced []EnvConflict
	Changed  bool
}

// Env returns settings.json's env block; a missing file or block is empty. Values that
// are not strings are given as their JSON text.
func Env(settingsPath string) (map[string]string, error) {
	root, _, err := readSettings(settingsPath)
	if err != nil {
		return nil, err
	}
	env, err := envOf(root)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(env.keys))
	for _, k := range env.keys {
		out[k] = envString(env.vals[k])
	}
	return out, nil
}

// SetEnv makes settings.json's env block hold want, given owned, the records of an
// earlier SetEnv on this file. A variable that is missing, or holds the value we wrote,
// gets the wanted value and is ours. One the user set is left alone, and reported in
// Kept when it differs (unless o.Overwrite). A variable we wrote earlier that is no
// longer wanted is removed (its previous user value put back). Every other key and the
// order of the block are kept; the file is written only if something changed.
func SetEnv(settingsPath string, want []EnvVar, owned map[string]OwnedEnv, o EnvOptions) (EnvResult, error) {
	var res EnvResult
	if _, err := Apply(settingsPath, o.Private, SetEnvEdit(want, owned, o, &res)); err != nil {
		return EnvResult{}, fmt.Errorf("set env in %s: %w", settingsPath, err)
	}
	return res, nil
}

// SetEnvEdit is SetEnv as an Edit, to combine with others in one Apply; res receives
// what it did. (o.Private is Apply's to honour.)
func SetEnvEdit(want []EnvVar, owned map[string]OwnedEnv, o EnvOptions, res *EnvResult) Edit {
	return func(root *orderedObject) (bool, error) {
		*res = EnvResult{Owned: map[string]OwnedEnv{}}
		env, err := envOf(root)
		if err != nil {
			return false, err
		}
		wanted := map[string]bool{}
		for _, v := range want {
			wanted[v.Name] = true
			if err := setOne(env, v, owned, o, res); err != nil {
				return false, err
			}
		}
		for _, name := range sortedNames(owned) {
			if !wanted[name] {
				if err := unsetOne(env, name, owned[name], res); err != nil {
					return false, err
				}
			}
		}
		return res.Changed, putEnv(root, env)
	}
}

// setOne applies one wanted variable to env, recording what it did in res.
func setOne(env *orderedObject, v EnvVar, owned map[string]OwnedEnv, o EnvOptions, res *EnvResult) error {
	raw, present := env.vals[v.Name]
	have := envString(raw)
	rec, ours := owned[v.Name]
	ours = ours && present && have == rec.Value
	switch {
	case present && have == v.Value, present && !ours && o.Satisfies != nil && o.Satisfies(v.Name, have, v.Value):
		if ours {
			res.Owned[v.Name] = OwnedEnv{Value: have, Previous: rec.Previous}
		}
		return nil
	case present && !ours && !o.Overwrite:
		res.Kept = append(res.Kept, EnvConflict{Name: v.Name, Have: have, Want: v.Value})
		return nil
	}
	next := OwnedEnv{Value: v.Value}
	switch {
	case ours:
		next.Previous = rec.Previous
	case present:
		prev := have
		next.Previous = &prev
		res.Replaced = append(res.Replaced, EnvConflict{Name: v.Name, Have: have, Want: v.Value})
	}
	res.Owned[v.Name] = next
	res.Changed = true
	return env.setJSON(v.Name, v.Value)
}

// unsetOne removes a variable we wrote, putting back the user's value it replaced. One
// the user changed since is theirs now: it stays, reported in Kept.
func unsetOne(env *orderedObject, name string, rec OwnedEnv, res *EnvResult) error {
	raw, present := env.vals[name]
	if !present {
		return nil
	}
	if have := envString(raw); have != rec.Value {
		res.Kept = append(res.Kept, EnvConflict{Name: name, Have: have, Want: rec.Value})
		return nil
	}
	res.Changed = true
	if rec.Previous != nil {
		return env.setJSON(name, *rec.Previous)
	}
	env.delete(name)
	return nil
}

// UnsetEnv removes from settings.json's env block exactly the variables owned records
// (those still holding the value we wrote), putting back the user's values they
// replaced. The env block goes when it ends up empty and we made it so.
func UnsetEnv(settingsPath string, owned map[string]OwnedEnv) (EnvResult, error) {
	var res EnvResult
	if _, err := Apply(settingsPath, false, UnsetEnvEdit(owned, &res)); err != nil {
		return EnvResult{}, fmt.Errorf("unset env in %s: %w", settingsPath, err)
	}
	return res, nil
}

// UnsetEnvEdit is UnsetEnv as an Edit, to combine with others in one Apply; res
// receives what it did.
func UnsetEnvEdit(owned map[string]OwnedEnv, res *EnvResult) Edit {
	return func(root *orderedObject) (bool, error) {
		*res = EnvResult{}
		env, err := envOf(root)
		if err != nil {
			return false, err
		}
		for _, name := range sortedNames(owned) {
			if err := unsetOne(env, name, owned[name], res); err != nil {
				return false, err
			}
		}
		return res.Changed, putEnv(root, env)
	}
}

func privateMode(private bool) fs.FileMode {
	if private {
		return 0o600
	}
	return 0
}

// envOf is the settings' env object (empty when there is none).
func envOf(root *orderedObject) (*orderedObject, error) {
	raw, ok := root.vals["env"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return &orderedObject{vals: map[string]json.RawMessage{}}, nil
	}
	env, err := decodeOrdered(raw)
	if err != nil {
		return nil, fmt.Errorf("settings: env: %w", err)
	}
	return env, nil
}

// putEnv stores env back into root: dropped when empty, so removing the last of our
// variables leaves no "env": {} behind.
func putEnv(root *orderedObject, env *orderedObject) error {
	if len(env.keys) == 0 {
		root.delete("env")
		return nil
	}
	return root.setJSON("env", env)
}

// envString is a value of the env block as Claude Code would see it: a JSON string's
// content, else the JSON text itself.
func envString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

func sortedNames(m map[string]OwnedEnv) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
