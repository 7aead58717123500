package hook

import (
	"regexp"
	"strings"
)

// A redaction rule finds secrets in text. Group 1 of re, when present, is the secret and
// the rest of the match (a key name, a scheme and user) is kept; otherwise the whole match
// is the secret. hints are lower-case literals one of which every match contains, so most
// strings skip the regexp entirely: redaction runs over every string of every payload on
// the capture path and must stay cheap.
type rule struct {
	name  string
	re    *regexp.Regexp
	hints []string
}

// redactedPrefix starts every replacement. A value that already starts with it is not a
// secret any more, which keeps Redact idempotent.
const redactedPrefix = "[REDACTED:"

// secretKey matches key names whose value is a secret: the keyword must end the name, so
// max_tokens or password_hash are not secrets but GITHUB_TOKEN and PGPASSWORD are.
const secretKey = `[A-Za-z0-9_.\-]*(?:password|passwd|passphrase|secret|token|api[_\-]?key|apikey|access[_\-]?key|secret[_\-]?key|private[_\-]?key|auth[_\-]?key|credentials?)`

// rules run in order; specific token formats come before the generic assignment forms so
// the count names the kind of secret.
var rules = []rule{
	{"private_key", regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*)`), []string{"private key-----"}},
	{"aws_access_key", regexp.MustCompile(`\b((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})\b`), []string{"akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva", "aipa"}},
	{"aws_secret_key", regexp.MustCompile(`(?i)aws_?secret(?:_?access)?_?key\\*["']?\s*(?:[:=]|:=|=>)\s*\\*["']?([A-Za-z0-9/+=]{40})`), []string{"secret"}},
	{"github_token", regexp.MustCompile(`\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`), []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}},
	{"gitlab_token", regexp.MustCompile(`\b(glpat-[A-Za-z0-9_\-]{20,})`), []string{"glpat-"}},
	{"anthropic_key", regexp.MustCompile(`\b(sk-ant-[A-Za-z0-9_\-]{20,})`), []string{"sk-ant-"}},
	{"openai_key", regexp.MustCompile(`\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,})`), []string{"sk-"}},
	{"slack_token", regexp.MustCompile(`\b(xox[abposr]-[A-Za-z0-9\-]{10,})`), []string{"xox"}},
	{"stripe_key", regexp.MustCompile(`\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,})`), []string{"_live_", "_test_"}},
	{"google_api_key", regexp.MustCompile(`\b(AIza[0-9A-Za-z_\-]{35})`), []string{"aiza"}},
	{"jwt", regexp.MustCompile(`\b(eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,})`), []string{"eyj"}},
	{"bearer_token", regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)`), []string{"bearer"}},
	{"authorization", regexp.MustCompile(`(?i)\bauthorization\\*["']?\s*[:=]\s*\\*["']?(?:basic|token|digest)\s+([A-Za-z0-9\-._~+/]{6,}=*)`), []string{"authorization"}},
	// scheme://user:password@host keeps the scheme, the user and the host.
	{"url_password", regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9+.\-]{0,20}://[^\s:/@"'\[\]]+:([^\s@/"']+)@`), []string{"://"}},
	// password=x, "token": "x", PASSWORD: x, --api-key=x, secret := "x".
	{"secret_assignment", regexp.MustCompile(`(?i)\b` + secretKey + `\\*["']?\s*(?::=|=>|[:=])\s*(?:\\*"([^"\\\n]+)\\*"|'([^'\n]+)'|([^\s"'\x60,;&|(){}\[\]<>\\]+))`), []string{"pass", "secret", "token", "key", "credential"}},
	// --password hunter2, -token x.
	{"secret_assignment", regexp.MustCompile(`(?i)(?:^|[\s"'])--?` + secretKey + `\s+(?:"([^"\n]+)"|'([^'\n]+)'|([^\s"'\x60,;&|(){}\[\]<>\\]+))`), []string{"pass", "secret", "token", "key", "credential"}},
	// "the db password is hunter2": prose in prompts.
	{"password_phrase", regexp.MustCompile(`(?i)\b(?:password|passwd|passphrase)\s+(?:is|was|=)\s*:?\s+["'\x60]?([^\s"'\x60,;]+)`), []string{"pass"}},
}

// RuleNames lists the names a redaction is counted under, in rule order without repeats.
func RuleNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, r := range rules {
		if !seen[r.name] {
			seen[r.name] = true
			names = append(names, r.name)
		}
	}
	return names
}

// Redact replaces every secret in s with [REDACTED:<rule>] and adds one to counts[rule]
// for each replacement (counts may be nil). It is idempotent: Redact of its own output
// changes nothing.
func Redact(s string, counts map[string]int) string {
	if len(s) < 6 {
		return s
	}
	// Replacing a secret can expose another (a key name and a value joined by a removed
	// token), so run the rules until nothing changes; two passes are the norm.
	for range 8 {
		out, n := redactOnce(s, counts)
		if n == 0 {
			return out
		}
		s = out
	}
	return s
}

func redactOnce(s string, counts map[string]int) (string, int) {
	lower := asciiLower(s)
	total := 0
	for i := range rules {
		r := &rules[i]
		if !r.hinted(lower) {
			continue
		}
		spans := r.secrets(s)
		if len(spans) == 0 {
			continue
		}
		var b strings.Builder
		b.Grow(len(s))
		last := 0
		for _, sp := range spans {
			b.WriteString(s[last:sp[0]])
			b.WriteString(redactedPrefix)
			b.WriteString(r.name)
			b.WriteByte(']')
			last = sp[1]
		}
		b.WriteString(s[last:])
		s = b.String()
		lower = asciiLower(s)
		if counts != nil {
			counts[r.name] += len(spans)
		}
		total += len(spans)
	}
	return s, total
}

func (r *rule) hinted(lower string) bool {
	for _, h := range r.hints {
		if strings.Contains(lower, h) {
			return true
		}
	}
	return false
}

// secrets returns the byte spans of the secrets r finds in s, skipping values that are
// already redactions.
func (r *rule) secrets(s string) [][2]int {
	var spans [][2]int
	for _, m := range r.re.FindAllStringSubmatchIndex(s, -1) {
		start, end := m[0], m[1]
		for g := 1; g*2 < len(m); g++ {
			if m[g*2] >= 0 {
				start, end = m[g*2], m[g*2+1]
				break
			}
		}
		if start == end || strings.HasPrefix(s[start:], redactedPrefix) {
			continue
		}
		spans = append(spans, [2]int{start, end})
	}
	return spans
}

// HasSecret reports whether any rule still finds a secret in s.
func HasSecret(s string) bool {
	lower := asciiLower(s)
	for i := range rules {
		if rules[i].hinted(lower) && len(rules[i].secrets(s)) > 0 {
			return true
		}
	}
	return false
}

// secretField reports whether an object key names a secret, so its whole string value is
// one (an MCP tool's {"api_key": "..."} carries no pattern a rule could see).
var secretField = regexp.MustCompile(`(?i)^` + secretKey + `$`)

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
