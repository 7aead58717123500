// Command gitleaksgen writes internal/privacy's gitleaks_rules.go: the token-format rules
// of gitleaks' default configuration (config/gitleaks.toml, MIT licence), as redaction
// rules the hook can run without linking gitleaks, whose config package pulls in viper.
//
// It keeps the rules whose pattern starts with a fixed prefix (ghp_, SG., dop_v1_, …):
// those the redactor finds with a plain substring search and checks with a pattern
// anchored there, which keeps redaction cheap on megabytes of tool output. Rules that
// need a key name before the value (generic-api-key and the service-name-then-value
// patterns) are left to the redactor's own key/value rules.
//
//	go run ./internal/privacy/internal/gitleaksgen -version v8.30.1 -o internal/privacy/gitleaks_rules.go
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

type config struct {
	Rules []struct {
		ID       string
		Regex    string
		Entropy  float64
		Keywords []string
		Path     string
	}
}

// A converted rule: hint is the lower-cased prefix the redactor searches for; re is the
// pattern anchored at it.
type converted struct {
	id, hint, re string
	fwd          int
	wordStart    bool
	entropy      float64
}

// terminator ends most gitleaks token patterns: a quote, space, semicolon or escaped
// newline must follow the token. Captured text also puts tokens before &, %26, commas,
// brackets and the end of a URL, so any byte that cannot continue a token will do.
const terminator = "(?:[\\x60'\"\\s;]|\\\\[nr]|$)"

func main() {
	version := flag.String("version", "v8.30.1", "gitleaks release to read the rules from")
	out := flag.String("o", "gitleaks_rules.go", "output file")
	flag.Parse()
	dir := moduleDir(*version)
	var cfg config
	if _, err := toml.DecodeFile(filepath.Join(dir, "config", "gitleaks.toml"), &cfg); err != nil {
		log.Fatal(err)
	}
	licence, err := os.ReadFile(filepath.Join(dir, "LICENSE"))
	if err != nil {
		log.Fatal(err)
	}
	var rules []converted
	for _, r := range cfg.Rules {
		if c, ok := convert(r.ID, r.Regex, r.Entropy); ok && r.Path == "" {
			rules = append(rules, c...)
		}
	}
	src, err := format.Source(render(*version, string(licence), rules))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d of %d gitleaks %s rules\n", *out, len(rules), len(cfg.Rules), *version)
}

// moduleDir downloads gitleaks through the Go module proxy (it is not a dependency of
// agent-trace) and returns where it is.
func moduleDir(version string) string {
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/zricethezav/gitleaks/v8@"+version).Output()
	if err != nil {
		log.Fatalf("go mod download: %v", err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		log.Fatalf("go mod download: no directory in %s", out)
	}
	return m.Dir
}

// convert turns a gitleaks pattern that starts with a fixed prefix into a rule anchored
// at that prefix; a pattern that starts with alternatives (hvs\.…|s\.…) becomes one rule
// per alternative, when each has a prefix of its own.
func convert(id, re string, entropy float64) ([]converted, bool) {
	if id == "generic-api-key" {
		return nil, false
	}
	s := strings.TrimPrefix(re, "(?:https?://)?") // the webhook URL rules: the host is the prefix
	fold := strings.HasPrefix(s, "(?i)")
	s = strings.TrimPrefix(s, "(?i)")
	word := strings.HasPrefix(s, `\b`)
	s = strings.TrimPrefix(s, `\b`)
	s = strings.ReplaceAll(s, terminator, "(?:[^0-9A-Za-z_-]|$)")
	if c, ok := anchor(id, s, fold, word, entropy); ok {
		return []converted{c}, true
	}
	var out []converted
	for _, alt := range alternatives(s) {
		c, ok := anchor(id, alt, fold, word, entropy)
		if !ok {
			return nil, false
		}
		out = append(out, c)
	}
	return out, len(out) > 0
}

// alternatives splits a pattern that starts with an alternation, inside capture groups
// or not, into one pattern per alternative, the rest of the pattern after each.
func alternatives(s string) []string {
	re, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return nil
	}
	slot := &re
	if re.Op == syntax.OpConcat {
		slot = &re.Sub[0]
	}
	for (*slot).Op == syntax.OpCapture {
		slot = &(*slot).Sub[0]
	}
	alt := *slot
	if alt.Op != syntax.OpAlternate {
		return nil
	}
	var out []string
	for _, a := range alt.Sub {
		*slot = a
		out = append(out, re.String())
	}
	*slot = alt
	return out
}

func anchor(id, s string, fold, word bool, entropy float64) (converted, bool) {
	compiled, err := regexp.Compile(s)
	if err != nil {
		return converted{}, false
	}
	prefix, _ := compiled.LiteralPrefix()
	if len(prefix) < 2 || !isAlnum(prefix[0]) {
		return converted{}, false
	}
	anchored := "^" + s
	if fold {
		anchored = "^(?i)" + s
	}
	if _, err := regexp.Compile(anchored); err != nil {
		return converted{}, false
	}
	fwd := 2048 // an unbounded pattern (ey…{17,}): the longest token worth finding
	if tree, err := syntax.Parse(anchored, syntax.Perl); err == nil {
		if n := maxLen(tree); n >= 0 && n < fwd {
			fwd = n
		}
	}
	return converted{id: id, hint: strings.ToLower(prefix), re: anchored, fwd: fwd, wordStart: word, entropy: entropy}, true
}

// maxLen is the most bytes re can match, or -1 when it is unbounded. It sets the rule's
// window: Go's backtracking matcher clears a bit per byte of its input and instruction
// on every call, so a window no longer than the longest match keeps the many calls at
// hints that lead nowhere (http, curl) cheap.
func maxLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) > 0 && re.Rune[len(re.Rune)-1] < 0x80 {
			return 1
		}
		return 4 // a UTF-8 rune at most
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 4
	case syntax.OpCapture, syntax.OpQuest:
		return maxLen(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return -1
	case syntax.OpRepeat:
		n := maxLen(re.Sub[0])
		if re.Max < 0 || n < 0 {
			return -1
		}
		return n * re.Max
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, sub := range re.Sub {
			n := maxLen(sub)
			if n < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				total += n
			} else {
				total = max(total, n)
			}
		}
		return total
	}
	return 0 // empty-width assertions
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func render(version, licence string, rules []converted) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by gitleaksgen from gitleaks %s config/gitleaks.toml; DO NOT EDIT.\n\n", version)
	b.WriteString("// The patterns below are gitleaks' (github.com/gitleaks/gitleaks), used under its licence:\n//\n")
	for _, l := range strings.Split(strings.TrimSpace(licence), "\n") {
		b.WriteString(strings.TrimRight("//\t"+l, " \t") + "\n")
	}
	b.WriteString("\npackage privacy\n\n")
	fmt.Fprintf(&b, "// gitleaksVersion is the gitleaks release gitleaksRules come from.\nconst gitleaksVersion = %q\n\n", version)
	b.WriteString("// gitleaksRules are gitleaks' token-format rules, each anchored at its fixed prefix.\n")
	b.WriteString("var gitleaksRules = []rule{\n")
	for _, r := range rules {
		pre := "nil"
		if r.wordStart {
			pre = "tokenStart"
		}
		lit := "`" + r.re + "`"
		if strings.Contains(r.re, "`") {
			lit = strconv.Quote(r.re)
		}
		valid := ""
		if r.entropy > 0 {
			valid = ", valid: minEntropy(" + strconv.FormatFloat(r.entropy, 'g', -1, 64) + ")"
		}
		fmt.Fprintf(&b, "\t{name: %q, hints: []string{%q}, pre: %s, re: lazy(%s), fwd: %d%s},\n",
			r.id, r.hint, pre, lit, r.fwd, valid)
	}
	b.WriteString("}\n")
	return b.Bytes()
}
