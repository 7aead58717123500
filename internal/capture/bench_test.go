package capture

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/internal/agentconfig"
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

// BenchmarkBuildGit is a Bash PreToolUse in a real repository: Build reads HEAD, the ref
// and origin from .git on every call.
func BenchmarkBuildGit(b *testing.B) {
	repo := b.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"remote", "add", "origin", "git@github.com:example/demo.git"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "first"},
		{"pack-refs", "--all"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Skipf("git %v: %v %s", args, err, out)
		}
	}
	raw, _ := json.Marshal(map[string]any{
		"session_id": "s", "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": "t",
		"cwd": repo, "tool_input": map[string]any{"command": "git status"},
	})
	b.ReportAllocs()
	for b.Loop() {
		evs, err := Build(raw, cfgTier(2), testNow)
		if err != nil || evs[0].Git == nil || evs[0].Git.Head == "" {
			b.Fatalf("%v %+v", err, evs)
		}
	}
}

// BenchmarkCapture is the whole library side of the hook's hot path: read stdin, load the
// config file, Build.
func BenchmarkCapture(b *testing.B) {
	home := b.TempDir()
	if err := agentconfig.SaveConfig(home, agentconfig.Config{Tier: 2}); err != nil {
		b.Fatal(err)
	}
	raw := mustFixture(b, "commit", "010.json").raw
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Capture(bytes.NewReader(raw), home, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
