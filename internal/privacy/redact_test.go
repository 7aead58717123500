package privacy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/event"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
		counts         map[string]int
	}{
		{"aws access key", "key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED:aws_access_key] here", map[string]int{"aws_access_key": 1}},
		{"aws session key", "ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws_access_key]", map[string]int{"aws_access_key": 1}},
		{"aws secret key env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_key]", map[string]int{"aws_secret_key": 1}},
		{"aws secret key json", `{"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, `{"aws_secret_access_key": "[REDACTED:aws_secret_key]"}`, map[string]int{"aws_secret_key": 1}},
		{"github classic", "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "token [REDACTED:github_token]", map[string]int{"github_token": 1}},
		{"github oauth", "gho_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "[REDACTED:github_token]", map[string]int{"github_token": 1}},
		{"github server", "ghs_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 ghr_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 ghu_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "[REDACTED:github_token] [REDACTED:github_token] [REDACTED:github_token]", map[string]int{"github_token": 3}},
		{"github fine-grained", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP", "[REDACTED:github_token]", map[string]int{"github_token": 1}},
		{"gitlab", "glpat-xxxxxxxxxxxxxxxxxxxx1", "[REDACTED:gitlab_token]", map[string]int{"gitlab_token": 1}},
		{"anthropic", "ANTHROPIC_KEY sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345", "ANTHROPIC_KEY [REDACTED:anthropic_key]", map[string]int{"anthropic_key": 1}},
		{"openai", "use sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ now", "use [REDACTED:openai_key] now", map[string]int{"openai_key": 1}},
		{"openai project", "sk-proj-abcdefghijklmnopqrstuvwxyz_0123456789", "[REDACTED:openai_key]", map[string]int{"openai_key": 1}},
		{"slack", "xoxb-123456789012-1234567890123-abcdefghijklmnop", "[REDACTED:slack_token]", map[string]int{"slack_token": 1}},
		{"stripe live", "sk_live_51H8abcdefghijklmnopqrstuv", "[REDACTED:stripe_key]", map[string]int{"stripe_key": 1}},
		{"stripe restricted and test", "rk_live_abcdefghij0123 sk_test_abcdefghij0123", "[REDACTED:stripe_key] [REDACTED:stripe_key]", map[string]int{"stripe_key": 2}},
		{"npm", "//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789", "//registry.npmjs.org/:_authToken=[REDACTED:npm_token]", map[string]int{"npm_token": 1}},
		{"huggingface", "HF hf_abcdefghijklmnopqrstuvwxyzABCDEFGH ok", "HF [REDACTED:huggingface_token] ok", map[string]int{"huggingface_token": 1}},
		{"google", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "[REDACTED:google_api_key]", map[string]int{"google_api_key": 1}},
		{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "[REDACTED:jwt]", map[string]int{"jwt": 1}},
		{"pem", "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----\ny", "x\n[REDACTED:private_key]\ny", map[string]int{"private_key": 1}},
		{"pem truncated", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA", "[REDACTED:private_key]", map[string]int{"private_key": 1}},
		{"bearer", "curl -H 'Authorization: Bearer abc.def-ghi_jkl' x", "curl -H 'Authorization: Bearer [REDACTED:bearer_token]' x", map[string]int{"bearer_token": 1}},
		{"basic auth header", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED:authorization]", map[string]int{"authorization": 1}},
		{"url credentials", "postgres://admin:hunter2@db.internal:5432/app", "postgres://admin:[REDACTED:url_password]@db.internal:5432/app", map[string]int{"url_password": 1}},
		{"url credentials https", "git clone https://bob:s3cr3t!@github.com/a/b.git", "git clone https://bob:[REDACTED:url_password]@github.com/a/b.git", map[string]int{"url_password": 1}},
		{"url without password", "https://bob@github.com/a/b.git and ssh://git@host:22/x", "https://bob@github.com/a/b.git and ssh://git@host:22/x", nil},
		{"password=", "password=hunter2", "password=[REDACTED:secret_assignment]", map[string]int{"secret_assignment": 1}},
		{"env PGPASSWORD", "PGPASSWORD=hunter2 psql", "PGPASSWORD=[REDACTED:secret_assignment] psql", map[string]int{"secret_assignment": 1}},
		{"yaml passwd", "db:\n  passwd: hunter2\n", "db:\n  passwd: [REDACTED:secret_assignment]\n", map[string]int{"secret_assignment": 1}},
		{"json quoted", `{"password": "correct horse"}`, `{"password": "[REDACTED:secret_assignment]"}`, map[string]int{"secret_assignment": 1}},
		{"escaped json", `{\"api_key\":\"abc123def\"}`, `{\"api_key\":\"[REDACTED:secret_assignment]\"}`, map[string]int{"secret_assignment": 1}},
		{"single quoted", "SECRET='a b c'", "SECRET='[REDACTED:secret_assignment]'", map[string]int{"secret_assignment": 1}},
		{"token in query", "https://x/api?token=abc123&page=2", "https://x/api?token=[REDACTED:secret_assignment]&page=2", map[string]int{"secret_assignment": 1}},
		{"go assignment", `clientSecret := "s3cr3tvalue"`, `clientSecret := "[REDACTED:secret_assignment]"`, map[string]int{"secret_assignment": 1}},
		{"cli flag", "mysql --password hunter2 -h db", "mysql --password [REDACTED:secret_assignment] -h db", map[string]int{"secret_assignment": 1}},
		{"cli flag equals", "tool --api-key=abc123 run", "tool --api-key=[REDACTED:secret_assignment] run", map[string]int{"secret_assignment": 1}},
		{"json with a backslash", `{"password": "ab\\cd"}`, `{"password": "[REDACTED:secret_assignment]"}`, map[string]int{"secret_assignment": 1}},
		{"unclosed quote", "password=\"abc def\nnext", "password=\"[REDACTED:secret_assignment]\nnext", map[string]int{"secret_assignment": 1}},
		{"empty value", `password="" token=`, `password="" token=`, nil},
		{"prose", "the db password is hunter2", "the db password is [REDACTED:password_phrase]", map[string]int{"password_phrase": 1}},
		{"not secrets", "max_tokens=100 input_tokens: 5 password_hash=x --token-file /p PWD=/home/dev", "max_tokens=100 input_tokens: 5 password_hash=x --token-file /p PWD=/home/dev", nil},
		{"plain text", "Created hello.py and committed it.", "Created hello.py and committed it.", nil},
		{"short", "sk-", "sk-", nil},
		{"already redacted", "password=[REDACTED:secret_assignment] [REDACTED:aws_access_key]", "password=[REDACTED:secret_assignment] [REDACTED:aws_access_key]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts := map[string]int{}
			got := Redact(tt.in, counts)
			if got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if tt.counts == nil {
				tt.counts = map[string]int{}
			}
			if !reflect.DeepEqual(counts, tt.counts) {
				t.Errorf("counts = %v, want %v", counts, tt.counts)
			}
			if again := Redact(got, nil); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
			if HasSecret(got) {
				t.Errorf("HasSecret(%q) after redaction", got)
			}
		})
	}
}

func TestRedactSecretFields(t *testing.T) {
	in := map[string]any{
		"api_key":     "plainvalue",
		"password":    "x",
		"max_tokens":  "1000",
		"nested":      []any{map[string]any{"clientSecret": "abc", "note": "hi"}},
		"empty_token": "",
		"monkey":      "banana",
		"apiKey":      "k1",
		"key":         "k2",
		"token count": "7",
	}
	counts := map[string]int{}
	got := RedactValue(in, counts)
	b, _ := json.Marshal(got)
	want := `{"apiKey":"[REDACTED:secret_field]","api_key":"[REDACTED:secret_field]","empty_token":"","key":"k2","max_tokens":"1000","monkey":"banana","nested":[{"clientSecret":"[REDACTED:secret_field]","note":"hi"}],"password":"[REDACTED:secret_field]","token count":"7"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if counts["secret_field"] != 4 {
		t.Errorf("counts = %v", counts)
	}
}

func TestRuleNames(t *testing.T) {
	names := RuleNames()
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
	}
	if !seen["aws_access_key"] || !seen["secret_assignment"] || len(names) < 14 {
		t.Errorf("RuleNames() = %v", names)
	}
}

// fixtureStrings collects every string in the fixture payloads, as fuzz seeds.
func fixtureStrings(tb testing.TB) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	// The recorded hook payloads, shared with package capture's tests.
	paths, _ := filepath.Glob("../capture/testdata/fixtures/*/*.json")
	if len(paths) == 0 {
		tb.Fatal("no fixture payloads under ../capture/testdata/fixtures")
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var payload any
		if err := json.Unmarshal(raw, &payload); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		walk(payload)
	}
	return out
}

func FuzzRedact(f *testing.F) {
	for _, s := range fixtureStrings(f) {
		f.Add(s)
	}
	f.Add("password=hunter2 AKIAIOSFODNN7EXAMPLE postgres://a:b@c")
	f.Add("--token \"a b\" Bearer xyzxyzxyz eyJabcdef.eyJabcdef.abcdefghijkl")
	f.Fuzz(func(t *testing.T, s string) {
		counts := map[string]int{}
		got := Redact(s, counts)
		if HasSecret(got) {
			t.Fatalf("a secret survived: %q -> %q", s, got)
		}
		if again := Redact(got, nil); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, got, again)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("broke UTF-8: %q -> %q", s, got)
		}
		n := 0
		for _, c := range counts {
			n += c
		}
		if n == 0 && got != s {
			t.Fatalf("changed without counting: %q -> %q", s, got)
		}
		if n > 0 && strings.Count(got, redactedPrefix) == 0 {
			t.Fatalf("counted %v but no marker in %q", counts, got)
		}
	})
}

func TestRedactEvent(t *testing.T) {
	e := event.Event{
		ID: "evt_1", Kind: event.KindUsage, SessionID: "s", Tier: 3,
		Usage:      &event.Usage{MessageID: "m", Model: "x", Text: "Wrote `.env` with the key `AKIAIOSFODNN7EXAMPLE`."},
		Commit:     &event.Commit{SHA: "abc", Message: "add key password=hunter2", Files: []string{"a.txt"}},
		Branch:     &event.Branch{Name: "feature/x", Action: "created"},
		Payload:    json.RawMessage(`{"n":12345678901234567890,"s":"token=abc123"}`),
		Redactions: map[string]int{"aws_access_key": 1},
	}
	orig := e.Usage // the caller's pointer: RedactEvent must copy, not write through it
	RedactEvent(&e)
	out, _ := json.Marshal(e)
	for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "hunter2", "abc123"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("%s left in %s", secret, out)
		}
	}
	if want := map[string]int{"aws_access_key": 2, "secret_assignment": 2}; !reflect.DeepEqual(e.Redactions, want) {
		t.Errorf("Redactions = %v, want %v", e.Redactions, want)
	}
	if !strings.Contains(string(e.Payload), "12345678901234567890") || e.Branch.Name != "feature/x" || e.Commit.Files[0] != "a.txt" {
		t.Errorf("event changed beyond its secrets: %s", out)
	}
	if orig.Text != "Wrote `.env` with the key `AKIAIOSFODNN7EXAMPLE`." {
		t.Errorf("RedactEvent changed the caller's Usage in place")
	}
}

func BenchmarkRedact(b *testing.B) {
	strs := fixtureStrings(b)
	var n int64
	for _, s := range strs {
		n += int64(len(s))
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range strs {
			Redact(s, nil)
		}
	}
}
