package hook

import (
	"encoding/json"
	"strings"
	"testing"
)

// BenchmarkBuild measures the capture path's CPU work on real PostToolUse payloads (no
// git: the fixture cwd is not a repository here, so head.Read fails fast).
func BenchmarkBuild(b *testing.B) {
	for _, c := range []struct {
		name, session, file string
		tier                int
	}{
		{"Edit/tier2", "commit", "006.json", 2},
		{"Bash/tier2", "commit", "010.json", 2},
		{"Bash-secrets/tier3", "secrets", "004.json", 3},
		{"Bash-secrets/tier1", "secrets", "004.json", 1},
	} {
		raw := mustFixture(b, c.session, c.file).raw
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Build(raw, cfgTier(c.tier), testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBuildLargeRead is a Read of a 1 MiB source file at tier 3, where every byte of
// the output body goes through redaction.
func BenchmarkBuildLargeRead(b *testing.B) {
	var src strings.Builder
	for src.Len() < 1<<20 {
		src.WriteString("func handler(w http.ResponseWriter, r *http.Request) { token := r.Header.Get(\"X-Key\") }\n")
	}
	raw, _ := json.Marshal(map[string]any{
		"session_id": "s", "hook_event_name": "PostToolUse", "tool_name": "Read", "tool_use_id": "t",
		"tool_input":    map[string]any{"file_path": "/src/main.go"},
		"tool_response": map[string]any{"type": "text", "file": map[string]any{"filePath": "/src/main.go", "content": src.String()}},
	})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(raw, cfgTier(3), testNow); err != nil {
			b.Fatal(err)
		}
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
