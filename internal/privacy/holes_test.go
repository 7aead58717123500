package privacy

import (
	"encoding/json"
	"strings"
	"testing"
)

// Secrets the redactor used to miss: after word characters, inside percent-encoded text,
// in URLs with an empty user name.
func TestRedactHoles(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"aws key after underscore", "export MY_AKIAIOSFODNN7EXAMPLE=1",
			"export MY_[REDACTED:aws_access_key]=1"},
		{"aws key url-encoded", "X-Amz-Algorithm=AWS4&X-Amz-Credential%3DAKIAIOSFODNN7EXAMPLE%2F20261204",
			"X-Amz-Algorithm=AWS4&X-Amz-Credential%3D[REDACTED:aws_access_key]%2F20261204"},
		{"github token url-encoded", "redirect?next=%2Fapi%3Faccess_token%3Dghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789%26x%3D1",
			"redirect?next=%2Fapi%3Faccess_token%3D[REDACTED:github_token]%26x%3D1"},
		{"password url-encoded", "q=db%3Fpassword%3Dhunter2%26user%3Dme",
			"q=db%3Fpassword%3D[REDACTED:secret_assignment]%26user%3Dme"},
		{"password double-encoded", "next=%2Flogin%253Fpassword%253Dhunter2%2526x%253D1",
			"next=%2Flogin%253Fpassword%253D[REDACTED:secret_assignment]%2526x%253D1"},
		{"url with empty user", "postgres://:OnlyPassW0rd@host/db",
			"postgres://:[REDACTED:url_password]@host/db"},
		{"plain percent text untouched", "100%25 done, 50% off, %zz", "100%25 done, 50% off, %zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in, nil); got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := Redact(tt.want, nil); got != tt.want {
				t.Errorf("not idempotent: %q -> %q", tt.want, got)
			}
		})
	}
}

// MCP tools take arbitrary maps (env, headers): a secret can be a key.
func TestRedactValueKeys(t *testing.T) {
	in := map[string]any{
		"AKIAIOSFODNN7EXAMPLE": "x",
		"env":                  map[string]any{"ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789": "y", "HOME": "/h"},
	}
	counts := map[string]int{}
	out := RedactValue(in, counts).(map[string]any)
	for k := range out {
		if strings.Contains(k, "AKIA") {
			t.Errorf("secret key kept: %q", k)
		}
	}
	env := out["env"].(map[string]any)
	if env["HOME"] != "/h" || len(env) != 2 {
		t.Errorf("env = %v, want HOME kept and the token key redacted", env)
	}
	for k := range env {
		if strings.Contains(k, "ghp_") {
			t.Errorf("secret key kept: %q", k)
		}
	}
	if counts["aws_access_key"] != 1 || counts["github_token"] != 1 {
		t.Errorf("counts = %v, want one aws_access_key and one github_token", counts)
	}
	// Two secret keys that redact alike stay two keys.
	two := RedactValue(map[string]any{"AKIAIOSFODNN7EXAMPLE": 1, "AKIAIOSFODNN7EXAMPLF": 2}, nil).(map[string]any)
	if len(two) != 2 {
		t.Errorf("two secret keys became %d: %v", len(two), two)
	}
}

// Under a key that names a secret, every value is redacted, not only strings: numbers,
// booleans, and whatever an array or object under it holds.
func TestRedactValueSecretKeysAnyType(t *testing.T) {
	in := map[string]any{
		"password":     json.Number("123456"),
		"secret":       []any{"hunter2", json.Number("42")},
		"GITHUB_TOKEN": map[string]any{"value": "tok-plain-text"},
		"api_key":      nil,
		"name":         "kept",
	}
	out, _ := json.Marshal(RedactValue(in, map[string]int{}))
	for _, leak := range []string{"123456", "hunter2", "42", "tok-plain-text"} {
		if strings.Contains(string(out), leak) {
			t.Errorf("%q survived under a secret key: %s", leak, out)
		}
	}
	if !strings.Contains(string(out), `"name":"kept"`) || !strings.Contains(string(out), `"api_key":null`) {
		t.Errorf("plain values changed: %s", out)
	}
	// A plain key that reads like a redacted one never overwrites it.
	two := RedactValue(map[string]any{"x password=Hunter2": "a", "x password=[REDACTED:secret_assignment]": "b"}, nil).(map[string]any)
	if len(two) != 2 {
		t.Errorf("two keys became %d: %v", len(two), two)
	}
}

func TestHasEscape(t *testing.T) {
	for s, want := range map[string]bool{
		"":             false,
		"100%":         false,
		"50% off, %zz": false,
		"a%2":          false,
		"a%2F":         true,
		"%zz then %3D": true,
		"%%41":         true,
	} {
		if got := hasEscape(s); got != want {
			t.Errorf("hasEscape(%q) = %v, want %v", s, got, want)
		}
	}
}

// BenchmarkRedactPercentText is tool output full of percent signs but no escapes
// (progress bars, test coverage): redaction must not pay for decoding it.
//
//	go test ./internal/privacy -run '^$' -bench RedactPercentText -benchtime 20x
func BenchmarkRedactPercentText(b *testing.B) {
	s := strings.Repeat("coverage: 87.5% of statements, progress 100%\n", 20000) // ~1 MB
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		Redact(s, nil)
	}
}
