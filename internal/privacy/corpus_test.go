package privacy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/capture"
	"github.com/agent-trace/agent-trace/internal/privacy"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/secrets.jsonl and testdata/lookalikes.jsonl")

const (
	secretsFile    = "testdata/secrets.jsonl"
	lookalikesFile = "testdata/lookalikes.jsonl"
)

// TestSecretCorpusFile keeps the checked-in corpora equal to what the generators make, so
// a change to a generator cannot be tested against a stale file.
func TestSecretCorpusFile(t *testing.T) {
	for _, c := range []struct {
		path string
		rows any
	}{{secretsFile, secretCorpus()}, {lookalikesFile, lookalikeCorpus()}} {
		want := jsonLines(t, c.rows)
		if *updateCorpus {
			if err := os.WriteFile(c.path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the generator makes; run go test ./internal/privacy -run TestSecretCorpusFile -update-corpus", c.path)
		}
	}
}

func jsonLines(t *testing.T, rows any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	v, _ := json.Marshal(rows)
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		t.Fatal(err)
	}
	for _, row := range list {
		var x any
		_ = json.Unmarshal(row, &x)
		if err := enc.Encode(x); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func readJSONLines[T any](t *testing.T, path string) []T {
	f, err := os.Open(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row T
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, row)
	}
	return out
}

// TestSecretCorpus runs every secret of the corpus through redaction as the hook applies
// it (capture.Build at tiers 1, 2 and 3, with the text as a command, its output, a path
// and, for JSON, as the tool's input object) and through Redact itself. Every secret must
// be gone from every result: 100 %, per kind and per context.
func TestSecretCorpus(t *testing.T) {
	entries := readJSONLines[corpusEntry](t, secretsFile)
	if len(entries) < 200 {
		t.Fatalf("%d corpus entries, want at least 200", len(entries))
	}
	byKind, byContext := map[string][2]int{}, map[string][2]int{}
	var missed []string
	for _, e := range entries {
		where := leaks(t, e)
		for _, mk := range []struct {
			m map[string][2]int
			k string
		}{{byKind, e.Kind}, {byContext, e.Context}} {
			m, k := mk.m, mk.k
			c := m[k]
			c[1]++
			if where == "" {
				c[0]++
			}
			m[k] = c
		}
		if where != "" {
			missed = append(missed, fmt.Sprintf("%s in %s: %s\n    text: %q", e.Kind, e.Context, where, e.Text))
		}
	}
	t.Logf("secret corpus: %d of %d caught\n%s\n%s", len(entries)-len(missed), len(entries),
		rateTable("kind", byKind), rateTable("context", byContext))
	for _, m := range missed {
		t.Errorf("missed %s", m)
	}
}

func rateTable(title string, m map[string][2]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-34s %7s %6s\n", title, "caught", "rate")
	for _, k := range slices.Sorted(mapsKeys(m)) {
		c := m[k]
		fmt.Fprintf(&b, "%-34s %3d/%-3d %5.1f%%\n", k, c[0], c[1], 100*float64(c[0])/float64(c[1]))
	}
	return b.String()
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// leaks returns where e's secret survives redaction ("" when nowhere).
func leaks(t *testing.T, e corpusEntry) string {
	if s := privacy.Redact(e.Text, nil); leaked(s, e.Secret) {
		return "Redact: " + s
	}
	for tier := 1; tier <= 3; tier++ {
		evs, err := capture.Build(hookPayload(t, e), agentconfig.Config{Tier: tier}, time.Unix(1764936000, 0))
		if err != nil {
			t.Fatalf("%s in %s: Build: %v", e.Kind, e.Context, err)
		}
		out, _ := json.Marshal(evs)
		if leaked(string(out), e.Secret) {
			return fmt.Sprintf("tier %d event: %s", tier, out)
		}
	}
	return ""
}

// hookPayload is a Bash PostToolUse that carries the text everywhere a tier keeps text:
// the command and its output (tier 2 and 3), the working directory and the agent type
// (tier 1), and, when the text is JSON, as an object in the tool's input, keys and all.
func hookPayload(t *testing.T, e corpusEntry) []byte {
	input := map[string]any{"command": e.Text, "description": "run it"}
	var obj any
	if json.Unmarshal([]byte(e.Text), &obj) == nil {
		input["payload"] = obj
	}
	raw, err := json.Marshal(map[string]any{
		"session_id": "corpus", "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "toolu_1",
		"cwd": e.Text, "agent_type": e.Text, "tool_input": input,
		"tool_response": map[string]any{"stdout": e.Text, "stderr": "", "interrupted": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// leaked reports whether any part of secret longer than a few characters is still in
// out, as it is or in any encoding a context or the event's JSON gives it: a token cut
// in half is still half a token, so every 16-byte window (stride 8) is looked for.
func leaked(out, secret string) bool {
	q := url.QueryEscape(secret)
	j := strings.Trim(jsonString(secret), `"`)
	for _, form := range []string{secret, j, strings.Trim(jsonString(j), `"`), q, url.QueryEscape(q), url.PathEscape(secret)} {
		const w = 16
		if len(form) <= w {
			if strings.Contains(out, form) {
				return true
			}
			continue
		}
		for i := 0; i+w <= len(form); i += w / 2 {
			if strings.Contains(out, form[i:i+w]) {
				return true
			}
		}
		if strings.Contains(out, form[len(form)-w:]) {
			return true
		}
	}
	return false
}

// maxFalsePositiveRate is the share of look-alike texts the redactor may change. Every
// change is text a reader loses, but the look-alikes are chosen to be the hardest case
// (hashes next to words like token and key); past 5 % the rules would be guessing.
const maxFalsePositiveRate = 0.05

// TestLookalikeCorpus reports the false-positive rate: how many texts that hold no secret
// the redactor changes, per kind of look-alike.
func TestLookalikeCorpus(t *testing.T) {
	rows := readJSONLines[lookalike](t, lookalikesFile)
	byKind := map[string][2]int{}
	changed := 0
	for _, l := range rows {
		c := byKind[l.Kind]
		c[1]++
		if got := privacy.Redact(l.Text, nil); got != l.Text {
			c[0]++
			changed++
			t.Logf("false positive (%s): %q -> %q", l.Kind, l.Text, got)
		}
		byKind[l.Kind] = c
	}
	rate := float64(changed) / float64(len(rows))
	t.Logf("look-alike corpus: %d of %d changed, false-positive rate %.1f%%\n%s", changed, len(rows), 100*rate, rateTable("look-alike (changed)", byKind))
	if rate > maxFalsePositiveRate {
		t.Errorf("false-positive rate %.1f%%, want at most %.0f%%", 100*rate, 100*maxFalsePositiveRate)
	}
}
