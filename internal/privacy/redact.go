package privacy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/agent-trace/agent-trace/event"
)

// A redaction rule finds secrets in text.
//
// Redaction runs over every string of every payload on the capture path, so it must stay
// cheap on megabytes of tool output, and Go's regexp has no DFA: an unanchored pattern
// that starts with a character class costs about (text length × pattern size). So a rule
// starts where a literal hint is: hints are lower-case strings that begin every match
// (a token's prefix, a key name), found with strings.Index; at each hit, pre checks the
// text before it, and re, anchored with ^, runs on at most fwd bytes from the hit. Group 1
// of re (or the first group that matched) is the secret and the rest of the match (a key
// name, a separator) is kept; without groups the whole match is the secret.
//
// A rule with fwd 0 runs re unanchored over the whole text instead; that is only for
// patterns that start with a literal, which Go's regexp finds with strings.Index itself.
type rule struct {
	name  string
	hints []string
	pre   func(s string, at int) bool // nil: no condition
	re    *lazyRegexp
	fwd   int
	// value, when set, reads the secret that starts where re's match ends and returns its
	// length (0: none). Values can be long; parsing them by hand keeps re's window small.
	value func(s string) (offset, length int)
	// valid, when set, must accept a secret for it to count: gitleaks' entropy threshold,
	// which tells a random token from a word with the same prefix (sk-fading-circle).
	valid func(secret string) bool
}

// lazyRegexp compiles its pattern on first use. The hook is a short-lived process and
// most payloads hint at no rule at all: compiling every pattern at start-up cost ~0.9 ms
// of each hook run (measured with GODEBUG=inittrace=1), a third of the latency budget.
type lazyRegexp struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
}

func lazy(src string) *lazyRegexp { return &lazyRegexp{src: src} }

func (l *lazyRegexp) get() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.src) })
	return l.re
}

// redactedPrefix starts every replacement. A value that already starts with it is not a
// secret any more, which keeps Redact idempotent.
const redactedPrefix = "[REDACTED:"

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameByte(c byte) bool { return isWordByte(c) || c == '-' || c == '.' }

// tokenStart is where a token with a distinctive prefix may start: anywhere but right
// after a letter or digit, so MY_AKIA…, =ghp_… and "sk-… count and base64 runs do not.
func tokenStart(s string, at int) bool {
	if at == 0 {
		return true
	}
	c := s[at-1]
	return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
}

// wordStart is \b before a hint that starts with a word character.
func wordStart(s string, at int) bool { return at == 0 || !isWordByte(s[at-1]) }

// afterScheme requires a URL scheme right before "://".
func afterScheme(s string, at int) bool {
	return at > 0 && (isWordByte(s[at-1]) || s[at-1] == '+' || s[at-1] == '.' || s[at-1] == '-')
}

// flagName requires the key to end a command-line flag name: --db-password, -token.
func flagName(s string, at int) bool {
	i := at
	for i > 0 && isNameByte(s[i-1]) {
		i--
	}
	if i == at || s[i] != '-' {
		return false
	}
	return i == 0 || s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n' || s[i-1] == '"' || s[i-1] == '\''
}

// awsPrefix requires "aws" (or "aws_") right before secret_access_key.
func awsPrefix(s string, at int) bool {
	l := asciiLower(s[max(at-4, 0):at])
	return strings.HasSuffix(l, "aws_") || strings.HasSuffix(l, "aws")
}

// secretKeys are the hints of the key-value rules: where a key name that says its value
// is a secret ends. The key must end the name (the regexps want a separator right after
// it), so max_tokens or password_hash are not secrets, but GITHUB_TOKEN, PGPASSWORD,
// client_secret and api_key are.
var secretKeys = []string{"password", "passwd", "passphrase", "secret", "token", "credential", "key"}

// keyEnd checks what comes before a hint: "key" alone is too common a word, so it counts
// only as the end of api_key, access-key, secretKey, privatekey, auth_key or AccountKey
// (Azure's connection strings), or of "API key", "secret key" in prose.
func keyEnd(s string, at int) bool {
	if s[at] != 'k' && s[at] != 'K' {
		return true
	}
	l := strings.TrimRight(s[max(at-8, 0):at], "_- ")
	for _, p := range []string{"api", "access", "secret", "private", "auth", "account"} {
		if len(l) >= len(p) && strings.EqualFold(l[len(l)-len(p):], p) {
			return true
		}
	}
	return false
}

// flagKey is keyEnd for a command-line flag: --db-password, -token, --api-key.
func flagKey(s string, at int) bool { return keyEnd(s, at) && flagName(s, at) }

const keyAlt = `(?:password|passwd|passphrase|secret|token|credentials?|key)`

// assignedValue reads a value after a key and separator: a double-quoted string (its
// quotes may be escaped, for JSON inside a JSON string), a single-quoted one, or a bare
// word. A quote that never closes runs to the end of the line: better too much redacted
// than a password with a backslash left. It returns the value's offset and length
// within s; length 0 means none.
func assignedValue(s string) (int, int) {
	i := 0
	for i < len(s) && s[i] == '\\' {
		i++
	}
	if i < len(s) && (s[i] == '"' || s[i] == '\'') && (i == 0 || s[i] == '"') {
		rest := s[i+1:]
		n := strings.IndexAny(rest, string(s[i])+"\n")
		if n < 0 {
			n = len(rest)
		}
		for n > 0 && rest[n-1] == '\\' {
			n--
		}
		return i + 1, n
	}
	if i > 0 {
		return 0, 0
	}
	n := 0
	for n < len(s) && !strings.ContainsRune(" \t\n\r\f\v\"'`,;&|(){}[]<>\\", rune(s[n])) {
		n++
	}
	return 0, n
}

// phraseValue reads the word after "password is": optionally quoted, up to a space,
// quote, comma or semicolon.
func phraseValue(s string) (int, int) {
	i := 0
	if len(s) > 0 && (s[0] == '"' || s[0] == '\'' || s[0] == '`') {
		i = 1
	}
	n := 0
	for i+n < len(s) && !strings.ContainsRune(" \t\n\r\f\v\"'`,;", rune(s[i+n])) {
		n++
	}
	return i, n
}

// handRules are agent-trace's own: the token formats it has always named (github_token,
// aws_access_key …), then the structural rules no token list covers: PEM blocks,
// credentials in URLs, key/value assignments, Authorization headers, prose.
var handRules = []rule{
	{"private_key", []string{"private key-----"}, nil,
		lazy(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*)`), 0, nil, nil},
	{"aws_access_key", []string{"akia", "asia"}, tokenStart,
		lazy(`^(?:AKIA|ASIA)[A-Z0-9]{16}\b`), 24, nil, nil},
	{"aws_secret_key", []string{"secret_access_key", "secretaccesskey", "secret_key", "secretkey"}, awsPrefix,
		lazy(`(?i)^secret_?(?:access_?)?key\\*["']?\s*(?::=|=>|[:=])\s*\\*["']?([A-Za-z0-9/+=]{40})`), 128, nil, nil},
	{"github_token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, tokenStart,
		lazy(`^(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})`), 300, nil, nil},
	{"gitlab_token", []string{"glpat-"}, tokenStart, lazy(`^glpat-[A-Za-z0-9_\-]{20,}`), 256, nil, nil},
	{"anthropic_key", []string{"sk-ant-"}, tokenStart, lazy(`^sk-ant-[A-Za-z0-9_\-]{20,}`), 256, nil, nil},
	{"openai_key", []string{"sk-"}, tokenStart, lazy(`^sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}`), 256, nil, generated},
	{"slack_token", []string{"xox"}, tokenStart, lazy(`^xox[abposr]-[A-Za-z0-9\-]{10,}`), 256, nil, nil},
	{"stripe_key", []string{"sk_live_", "rk_live_", "sk_test_", "rk_test_"}, tokenStart, lazy(`^[sr]k_(?:live|test)_[A-Za-z0-9]{10,}`), 256, nil, nil},
	{"npm_token", []string{"npm_"}, tokenStart, lazy(`^npm_[A-Za-z0-9]{36}\b`), 48, nil, nil},
	{"huggingface_token", []string{"hf_"}, tokenStart, lazy(`^hf_[A-Za-z]{34}\b`), 48, nil, nil},
	{"google_api_key", []string{"aiza"}, tokenStart, lazy(`^AIza[0-9A-Za-z_\-]{35}`), 40, nil, nil},
	{"dockerhub_token", []string{"dckr_"}, tokenStart, lazy(`^dckr_(?:pat|oat)_[A-Za-z0-9_\-]{20,}`), 128, nil, nil},
	{"google_client_secret", []string{"gocspx-"}, tokenStart, lazy(`^GOCSPX-[A-Za-z0-9_\-]{28}`), 40, nil, nil},
	{"jwt", []string{"eyj"}, tokenStart, lazy(`^eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,}`), 4096, nil, nil},
	{"bearer_token", []string{"bearer"}, wordStart, lazy(`(?i)^bearer\s+([^\s"'\x60\\,;]{8,})`), 1024, nil, nil},
	{"authorization", []string{"authorization"}, wordStart,
		lazy(`(?i)^authorization\\*["']?\s*[:=]\s*\\*["']?(?:basic|token|digest)\s+([A-Za-z0-9\-._~+/]{6,}=*)`), 1024, nil, nil},
	// scheme://user:password@host keeps the scheme, the user and the host.
	{"url_password", []string{"://"}, afterScheme, lazy(`^://[^\s:/@"'\[\]]*:([^\s@/"']+)@`), 1024, nil, nil},
	// password=x, "token": "x", PASSWORD: x, --api-key=x, secret := "x".
	{"secret_assignment", secretKeys, keyEnd, lazy(`(?i)^` + keyAlt + `\\*["']?[ \t]*(?::=|=>|[:=])\s*`), 64, assignedValue, nil},
	// --password hunter2, -token x.
	{"secret_assignment", secretKeys, flagKey, lazy(`(?i)^` + keyAlt + `[ \t]+`), 64, assignedValue, nil},
	// Basic dXNlcjpwYXNz anywhere (a header without its name, a header value in JSON).
	{"authorization", []string{"basic"}, wordStart, lazy(`(?i)^basic\s+`), 16, basicCredentials, nil},
	// "the db password is hunter2": prose in prompts.
	{"password_phrase", []string{"password", "passwd", "passphrase"}, wordStart,
		lazy(`(?i)^(?:password|passwd|passphrase)\s+(?:is|was|=)\s*:?\s+`), 64, phraseValue, nil},
	// "my API key is 3f9a…", "the access token is …": only a value that looks generated.
	{"secret_phrase", []string{"key", "token", "secret", "credential"}, phraseKey,
		lazy(`(?i)^(?:key|token|secret|credentials?)\s+(?:is|was|=)\s*:?\s+`), 64, generatedValue, nil},
}

// wordEnd is a hint that ends a word: "API key is", "access token was".
func wordEnd(s string, at int) bool {
	for _, w := range []string{"key", "token", "secret", "credentials", "credential"} {
		if end := at + len(w); end <= len(s) && strings.EqualFold(s[at:end], w) {
			return end == len(s) || !isWordByte(s[end])
		}
	}
	return false
}

// phraseKey is wordEnd, and for "key" keyEnd too: "the API key is", not "the cache key is".
func phraseKey(s string, at int) bool { return wordEnd(s, at) && keyEnd(s, at) }

// generatedValue is phraseValue when the word looks generated (12 bytes or more, letters
// and digits both): "the token is invalid" keeps its last word.
func generatedValue(s string) (int, int) {
	off, n := phraseValue(s)
	if n < 12 {
		return 0, 0
	}
	w := s[off : off+n]
	if !strings.ContainsAny(w, "0123456789") || strings.IndexFunc(w, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }) < 0 {
		return 0, 0
	}
	return off, n
}

// basicCredentials reads the base64 after "Basic " and keeps it only when it decodes to
// user:password, so "basic auth" or "Basic setup" in prose stay.
func basicCredentials(s string) (int, int) {
	n := 0
	for n < len(s) && (isWordByte(s[n]) && s[n] != '_' || s[n] == '+' || s[n] == '/' || s[n] == '=') {
		n++
	}
	if n < 8 {
		return 0, 0
	}
	d, err := base64.StdEncoding.DecodeString(s[:n])
	if err != nil {
		d, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s[:n], "="))
	}
	if err != nil || bytes.IndexByte(d, ':') <= 0 {
		return 0, 0
	}
	return 0, n
}

// rules run in order: ours, whose names the counts have always used, then gitleaks'
// token formats for whatever ours do not know (gitleaks_rules.go, made by go generate).
// Specific token formats come before the generic assignment forms so the count names the
// kind of secret.
var rules = append(handRules, gitleaksRules...)

//go:generate go run ./internal/gitleaksgen -version v8.30.1 -o gitleaks_rules.go

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
		s = out
		if n == 0 {
			break
		}
	}
	if hasEscape(s) {
		s = redactEncoded(s, counts)
	}
	return s
}

// redactEncoded finds secrets in the percent-decoded form of s and redacts them where they
// stand in s, escapes and all: query strings, form bodies and redirect URLs carry keys and
// tokens as access_token%3Dghp_… or X-Amz-Credential%3DAKIA….
func redactEncoded(s string, counts map[string]int) string {
	for range 8 {
		d, src := percentDecodeAll(s, false)
		if len(d) == len(s) {
			return s // no escapes left: the plain pass saw this text already
		}
		out, n := redactMapped(s, d, src, counts)
		if n == 0 && strings.IndexByte(d, '+') >= 0 {
			// A + is a space in a form or query string (Basic+dXNl…, BEGIN+RSA+PRIVATE+KEY)
			// but itself in a path or a password (%2B decoded once): try both readings.
			d, src = percentDecodeAll(s, true)
			out, n = redactMapped(s, d, src, counts)
		}
		if n == 0 {
			return s
		}
		s = out
	}
	return s
}

// redactMapped redacts in s the secrets the first rule that finds any finds in d, the
// decoded s (src maps each byte of d, and len(d), to its offset in s).
func redactMapped(s, d string, src []int, counts map[string]int) (string, int) {
	lower := asciiLower(d)
	set := ruleHints().hinted(lower)
	for i := range rules {
		r := &rules[i]
		if !set.has(i) {
			continue
		}
		spans := r.secrets(d, lower)
		if len(spans) == 0 {
			continue
		}
		var b strings.Builder
		last := 0
		for _, sp := range spans {
			b.WriteString(s[last:src[sp[0]]])
			b.WriteString(redactedPrefix + r.name + "]")
			last = src[sp[1]]
		}
		b.WriteString(s[last:])
		if counts != nil {
			counts[r.name] += len(spans)
		}
		return b.String(), len(spans)
	}
	return s, 0
}

// percentDecodeAll decodes s until no escape is left (at most three times: a redirect URL
// inside a query string is encoded twice, %253D), composing the offset maps so each byte
// of the result still maps to where it starts in s.
func percentDecodeAll(s string, plus bool) (string, []int) {
	d, src := percentDecode(s, plus)
	for range 2 {
		d2, src2 := percentDecode(d, plus)
		if len(d2) == len(d) {
			break
		}
		for i, j := range src2 {
			src2[i] = src[j]
		}
		d, src = d2, src2
	}
	return d, src
}

// percentDecode decodes every %XX escape of s, leaving any other % as it is, and maps
// each decoded byte to the offset in s where it starts (with one more entry, len(s)).
// With plus, a + decodes to a space, as in form encoding.
func percentDecode(s string, plus bool) (string, []int) {
	var b strings.Builder
	b.Grow(len(s))
	src := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			src = append(src, i)
			i += 3
			continue
		}
		c := s[i]
		if c == '+' && plus {
			c = ' '
		}
		b.WriteByte(c)
		src = append(src, i)
		i++
	}
	return b.String(), append(src, len(s))
}

// hasEscape reports whether s holds a %XX escape. Redaction runs over every string the
// hook captures, megabytes of tool output among them; decoding (and its offset map, eight
// bytes per byte) is only worth building when there is something to decode.
func hasEscape(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); {
		if isHex(s[i+1]) && isHex(s[i+2]) {
			return true
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func redactOnce(s string, counts map[string]int) (string, int) {
	lower := asciiLower(s)
	x := ruleHints()
	set := x.hinted(lower)
	if set.isEmpty() {
		return s, 0
	}
	total := 0
	for i := range rules {
		r := &rules[i]
		if !set.has(i) {
			continue
		}
		spans := r.secrets(s, lower)
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
		// A replacement can join a hint's halves: look again, for the rules after this one.
		set = x.hinted(lower)
		if counts != nil {
			counts[r.name] += len(spans)
		}
		total += len(spans)
	}
	return s, total
}

// secrets returns the byte spans of the secrets r finds in s (lower is s lower-cased,
// byte for byte), in order and without overlaps, skipping values that are already
// redactions.
func (r *rule) secrets(s, lower string) [][2]int {
	var spans [][2]int
	if r.fwd == 0 {
		for _, m := range r.re.get().FindAllStringSubmatchIndex(s, -1) {
			spans = r.add(spans, s, 0, m)
		}
		return spans
	}
	var hits []int
	for _, h := range r.hints {
		for i := 0; ; {
			j := strings.Index(lower[i:], h)
			if j < 0 {
				break
			}
			hits = append(hits, i+j)
			i += j + 1
		}
	}
	slices.Sort(hits)
	for _, at := range hits {
		if n := len(spans); n > 0 && at < spans[n-1][1] {
			continue
		}
		if r.pre != nil && !r.pre(s, at) {
			continue
		}
		m := r.re.get().FindStringSubmatchIndex(s[at:min(at+r.fwd, len(s))])
		if m == nil {
			continue
		}
		if r.value != nil {
			end := at + m[1]
			off, n := r.value(s[end:])
			m = []int{m[0], m[1], end - at + off, end - at + off + n}
		}
		spans = r.add(spans, s, at, m)
	}
	return spans
}

// add appends the secret of match m (offsets relative to at) unless it is empty, already
// a redaction, or overlaps the previous span.
func (r *rule) add(spans [][2]int, s string, at int, m []int) [][2]int {
	a, b := m[0], m[1]
	for g := 1; g*2 < len(m); g++ {
		if m[g*2] >= 0 {
			a, b = m[g*2], m[g*2+1]
			break
		}
	}
	a, b = a+at, b+at
	if a == b || strings.HasPrefix(s[a:], redactedPrefix) || r.valid != nil && !r.valid(s[a:b]) {
		return spans
	}
	if n := len(spans); n > 0 && a < spans[n-1][1] {
		return spans
	}
	return append(spans, [2]int{a, b})
}

// minEntropy accepts a secret whose Shannon entropy is at least bits per byte.
func minEntropy(bits float64) func(string) bool {
	return func(s string) bool { return entropy(s) >= bits }
}

// generated accepts a token with a digit in it: a generated key of twenty characters or
// more all but always has one, a CSS class or a slug (sk-fading-circle-spinner) has none.
func generated(s string) bool { return strings.ContainsAny(s, "0123456789") }

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var n [256]int
	for i := 0; i < len(s); i++ {
		n[s[i]]++
	}
	h := 0.0
	for _, c := range n {
		if c > 0 {
			p := float64(c) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// HasSecret reports whether any rule still finds a secret in s.
func HasSecret(s string) bool {
	lower := asciiLower(s)
	set := ruleHints().hinted(lower)
	for i := range rules {
		if set.has(i) && len(rules[i].secrets(s, lower)) > 0 {
			return true
		}
	}
	return false
}

// isSecretField reports whether an object key names a secret, so its whole string value
// is one (an MCP tool's {"api_key": "..."} carries no pattern a rule could see): a name
// made of [A-Za-z0-9_.-] that ends with one of secretKeys, "key" only as api_key & co.
func isSecretField(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isNameByte(k[i]) {
			return false
		}
	}
	l := asciiLower(k)
	for _, w := range []string{"password", "passwd", "passphrase", "secret", "token", "credential", "credentials"} {
		if strings.HasSuffix(l, w) {
			return true
		}
	}
	return strings.HasSuffix(l, "key") && keyEnd(k, len(k)-3)
}

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

// RedactEvent redacts every free-text field of an event that did not come through Build:
// the transcript's assistant text, a commit's message and file names, branch names, a
// PR's URL, and the payload's strings. Counts are added to e.Redactions. The deliverer
// calls it on the events it derives, so they meet the same rules as captured ones.
func RedactEvent(e *event.Event) {
	counts := map[string]int{}
	red := func(p *string) { *p = Redact(*p, counts) }
	if u := e.Usage; u != nil && u.Text != "" {
		c := *u
		red(&c.Text)
		e.Usage = &c
	}
	if cm := e.Commit; cm != nil {
		c := *cm
		red(&c.Message)
		red(&c.Branch)
		red(&c.Repo)
		if len(c.Files) > 0 {
			c.Files = slices.Clone(c.Files)
			for i := range c.Files {
				red(&c.Files[i])
			}
		}
		e.Commit = &c
	}
	if b := e.Branch; b != nil {
		c := *b
		red(&c.Name)
		red(&c.From)
		e.Branch = &c
	}
	if pr := e.PullRequest; pr != nil {
		c := *pr
		red(&c.URL)
		e.PullRequest = &c
	}
	if len(e.Payload) > 0 {
		dec := json.NewDecoder(bytes.NewReader(e.Payload))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			if out, err := Marshal(RedactValue(v, counts)); err == nil {
				e.Payload = out
			}
		}
	}
	addRedactions(e, counts)
}

// addRedactions adds counts to e.Redactions, in a new map: the event's may be shared
// with a copy the caller keeps.
func addRedactions(e *event.Event, counts map[string]int) {
	if len(counts) == 0 {
		return
	}
	merged := maps.Clone(e.Redactions)
	if merged == nil {
		merged = map[string]int{}
	}
	for k, n := range counts {
		merged[k] += n
	}
	e.Redactions = merged
}

// RedactValue redacts every string in v, walking objects and arrays. Object keys are
// kept; a string under a key that names a secret (api_key, password) is replaced whole.
func RedactValue(v any, counts map[string]int) any {
	switch v := v.(type) {
	case string:
		return Redact(v, counts)
	case map[string]any:
		out := make(map[string]any, len(v))
		// Sorted, so two secret keys that redact alike get the same suffixes every run.
		for _, k := range slices.Sorted(maps.Keys(v)) {
			e := v[k]
			key := redactKey(k, out, counts)
			if isSecretField(k) {
				out[key] = secretValue(e, counts)
				continue
			}
			out[key] = RedactValue(e, counts)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = RedactValue(e, counts)
		}
		return out
	}
	return v
}

// secretValue is the value under a key that names a secret (password, api_key): every
// string, number and boolean in it is replaced whole, however deep, since the key says
// what it is. Empty strings, nulls and values already redacted are kept.
func secretValue(v any, counts map[string]int) any {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		if v == "" || strings.HasPrefix(v, redactedPrefix) {
			return v
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = secretValue(e, counts)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = secretValue(e, counts)
		}
		return out
	}
	if counts != nil {
		counts["secret_field"]++
	}
	return redactedPrefix + "secret_field]"
}

// redactKey is an object key with its secrets redacted: tools that take arbitrary maps
// (an MCP server's env or headers) can carry a secret as a key. A key that collides with
// one already in out (two keys that redact alike, or a redacted key that reads like a
// plain one) gets a #2, #3 … suffix, so no value is lost.
func redactKey(k string, out map[string]any, counts map[string]int) string {
	r := Redact(k, counts)
	key := r
	for n := 2; ; n++ {
		if _, taken := out[key]; !taken {
			return key
		}
		key = r + "#" + strconv.Itoa(n)
	}
}

// Marshal encodes v as agent-trace stores payloads: JSON without HTML escaping.
func Marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Payloads are stored and served as JSON, never pasted into HTML unescaped; keeping
	// <, > and & readable keeps the stored bytes close to what Claude Code sent.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
