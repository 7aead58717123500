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
			"redirect?next=%2Fapi%3Faccess_token%3D[REDACTED:github-pat]%26x%3D1"}, // gitleaks' rule: any prefix

		{"password url-encoded", "q=db%3Fpassword%3Dhunter2%26user%3Dme",
			"q=db%3Fpassword%3D[REDACTED:secret_assignment]%26user%3Dme"},
		{"password double-encoded", "next=%2Flogin%253Fpassword%253Dhunter2%2526x%253D1",
			"next=%2Flogin%253Fpassword%253D[REDACTED:secret_assignment]%2526x%253D1"},
		{"url with empty user", "postgres://:OnlyPassW0rd@host/db",
			"postgres://:[REDACTED:url_password]@host/db"},
		{"plain percent text untouched", "100%25 done, 50% off, %zz", "100%25 done, 50% off, %zz"},
		// Found by the secret corpus (corpus_test.go).
		{"plus as space in a query", "key=-----BEGIN+RSA+PRIVATE+KEY-----%0AMIIEpAIB%0A-----END+RSA+PRIVATE+KEY-----",
			"key=[REDACTED:private_key]"},
		{"plus as itself, encoded twice", "next=redis%3A%2F%2F%3Aab%252B1c%2B2%40cache%3A6379",
			"next=redis%3A%2F%2F%3A[REDACTED:url_password]%40cache%3A6379"},
		{"basic credentials without a header name", `{"h":"Basic ZGVwbG95Omh1bnRlcjI="}`,
			`{"h":"Basic [REDACTED:authorization]"}`},
		{"basic in prose kept", "use basic auth, Basic setup first", "use basic auth, Basic setup first"},
		{"bearer with symbols", "Authorization: Bearer pa$$w0rd!(x)", "Authorization: Bearer [REDACTED:bearer_token]"},
		{"azure account key", "AccountName=acme;AccountKey=c2VjcmV0a2V5Zm9yYXp1cmU=;EndpointSuffix=core.windows.net",
			"AccountName=acme;AccountKey=[REDACTED:secret_assignment];EndpointSuffix=core.windows.net"},
		{"api key in prose", "my API key is lEKWeA2KBgZb7pdNvRMa, thanks", "my API key is [REDACTED:secret_phrase], thanks"},
		{"cache key in prose kept", "the cache key is 9f86d081884c7d65 and the token is invalid",
			"the cache key is 9f86d081884c7d65 and the token is invalid"},
		{"css class kept", `<div class="sk-fading-circle-spinner-container">`, `<div class="sk-fading-circle-spinner-container">`},
		{"docker hub", "dckr_pat_yMbIt97DSNHL_4uY0KSw-EDIICV", "[REDACTED:dockerhub_token]"},
		{"google client secret", "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", "[REDACTED:google_client_secret]"},
		{"gitleaks rule", "key 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 here",
			"key [REDACTED:sendgrid-api-token] here"},
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

// The hint index must find exactly the rules a substring search per hint finds.
func TestHintIndex(t *testing.T) {
	for _, s := range []string{
		"", "x", "plain text with nothing", "token := r.Header.Get(\"X-Key\")", "ghp_x AKIA sk-ant- s. hvs.",
		"PASSWORD=x and -----begin private key----- and https://hooks.slack.com/", strings.Repeat("ey", 100),
	} {
		lower := asciiLower(s)
		got := ruleHints().hinted(lower)
		for i, r := range rules {
			want := false
			for _, h := range r.hints {
				want = want || strings.Contains(lower, h)
			}
			if got.has(i) != want {
				t.Errorf("%q: rule %d (%s) hinted = %v, want %v", s, i, r.name, got.has(i), want)
			}
		}
	}
}
