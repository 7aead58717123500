package deliver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/capture"
	"github.com/agent-trace/agent-trace/internal/spool"
)

// eventCollector keeps every event it accepts.
type eventCollector struct {
	*httptest.Server
	mu     sync.Mutex
	events []event.Event
}

func newEventCollector(t *testing.T) *eventCollector {
	c := &eventCollector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b event.Batch
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.events = append(c.events, b.Events...)
		c.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *eventCollector) ofKind(kind string) []event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []event.Event
	for _, e := range c.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
		"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// hookCapture builds events from a payload exactly as the hook does (tier, redaction,
// HEAD read from the payload's cwd) and appends them to the spool.
func hookCapture(t *testing.T, home string, cfg agentconfig.Config, payload map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(payload)
	evts, err := capture.Build(raw, cfg, time.Now())
	if err != nil {
		t.Fatalf("capture.Build: %v", err)
	}
	if _, err := spool.Capture(home, spool.Options{}, evts); err != nil {
		t.Fatal(err)
	}
}

func wiredOptions(home, url string) Options {
	opts := fastOptions(home, url)
	Wire(&opts)
	return opts
}

func TestGitOutcomesFromARealRepository(t *testing.T) {
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(repo, "a.txt"), []byte("a\n"), 0o644)
	git(t, repo, "add", "a.txt")
	git(t, repo, "commit", "-q", "-m", "initial")

	home := t.TempDir()
	c := newEventCollector(t)
	cfg := agentconfig.Config{Tier: event.TierDetails, User: "dev", Host: "box"}
	const session = "sess-git"
	bash := func(hookEvent, id, command string) map[string]any {
		return map[string]any{
			"session_id": session, "cwd": repo, "hook_event_name": hookEvent, "prompt_id": "prompt-1",
			"tool_name": "Bash", "tool_use_id": id, "tool_input": map[string]any{"command": command},
		}
	}
	hookCapture(t, home, cfg, map[string]any{"session_id": session, "cwd": repo, "hook_event_name": "SessionStart"})

	// A successful commit.
	hookCapture(t, home, cfg, bash("PreToolUse", "toolu_commit", "git commit"))
	os.WriteFile(filepath.Join(repo, "b.txt"), []byte("b\nb\n"), 0o644)
	git(t, repo, "add", "b.txt")
	git(t, repo, "commit", "-q", "-m", "Add b")
	wantSHA := git(t, repo, "rev-parse", "HEAD")
	hookCapture(t, home, cfg, bash("PostToolUse", "toolu_commit", "git commit"))

	// Deliver in between: the PreToolUse of the next call is sent before its PostToolUse
	// is captured, so its HEAD must survive in the spool's state.
	if _, err := Run(context.Background(), wiredOptions(home, c.URL)); err != nil {
		t.Fatal(err)
	}
	hookCapture(t, home, cfg, bash("PreToolUse", "toolu_fail", "git commit && false"))
	if _, err := Run(context.Background(), wiredOptions(home, c.URL)); err != nil {
		t.Fatal(err)
	}
	// HEAD moves but the call fails: no commit is recorded.
	os.WriteFile(filepath.Join(repo, "c.txt"), []byte("c\n"), 0o644)
	git(t, repo, "add", "c.txt")
	git(t, repo, "commit", "-q", "-m", "failed call")
	failedSHA := git(t, repo, "rev-parse", "HEAD")
	hookCapture(t, home, cfg, bash("PostToolUseFailure", "toolu_fail", "git commit && false"))

	// A branch created and switched to, HEAD's SHA unchanged.
	hookCapture(t, home, cfg, bash("PreToolUse", "toolu_branch", "git checkout -b feature"))
	git(t, repo, "checkout", "-q", "-b", "feature")
	hookCapture(t, home, cfg, bash("PostToolUse", "toolu_branch", "git checkout -b feature"))

	if _, err := Run(context.Background(), wiredOptions(home, c.URL)); err != nil {
		t.Fatal(err)
	}

	commits := c.ofKind(event.KindCommit)
	if len(commits) != 1 {
		t.Fatalf("commit events = %d, want 1: %+v", len(commits), commits)
	}
	got := commits[0]
	if got.Commit.SHA != wantSHA || got.ID != event.ID(event.KindCommit, session, wantSHA) {
		t.Fatalf("commit %s (id %s), want %s", got.Commit.SHA, got.ID, wantSHA)
	}
	if got.ToolUseID != "toolu_commit" || got.PromptID != "prompt-1" || got.User != "dev" || got.Tier != event.TierDetails {
		t.Fatalf("commit event keys = %+v", got)
	}
	if got.Commit.Message != "Add b" || got.Commit.LinesAdded != 2 || got.Commit.Branch != "main" {
		t.Fatalf("commit = %+v", got.Commit)
	}
	for _, e := range commits {
		if e.Commit.SHA == failedSHA {
			t.Fatal("a failed call's commit was recorded")
		}
	}
	branches := c.ofKind(event.KindBranch)
	var actions []string
	for _, b := range branches {
		if b.ToolUseID != "toolu_branch" || b.Branch.Name != "feature" {
			t.Fatalf("branch event = %+v", b)
		}
		actions = append(actions, b.Branch.Action)
	}
	if strings.Join(actions, ",") != "created,switched" {
		t.Fatalf("branch actions = %v, want created,switched", actions)
	}
}

func TestGitOutcomesTier1DropsMessage(t *testing.T) {
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "commit", "-q", "--allow-empty", "-m", "initial")
	home := t.TempDir()
	c := newEventCollector(t)
	cfg := agentconfig.Config{Tier: event.TierMetadata}
	p := func(ev string) map[string]any {
		return map[string]any{"session_id": "s1", "cwd": repo, "hook_event_name": ev, "tool_name": "Bash", "tool_use_id": "t1",
			"tool_input": map[string]any{"command": "git commit"}}
	}
	hookCapture(t, home, cfg, p("PreToolUse"))
	git(t, repo, "commit", "-q", "--allow-empty", "-m", "secret plans")
	hookCapture(t, home, cfg, p("PostToolUse"))
	if _, err := Run(context.Background(), wiredOptions(home, c.URL)); err != nil {
		t.Fatal(err)
	}
	commits := c.ofKind(event.KindCommit)
	if len(commits) != 1 || commits[0].Commit.Message != "" || commits[0].Tier != event.TierMetadata {
		t.Fatalf("tier-1 commits = %+v", commits)
	}
}

// modelUsage is the CLI's own totals from a fixture's result*.json.
type modelUsage struct {
	ModelUsage map[string]struct {
		InputTokens              int64 `json:"inputTokens"`
		OutputTokens             int64 `json:"outputTokens"`
		CacheReadInputTokens     int64 `json:"cacheReadInputTokens"`
		CacheCreationInputTokens int64 `json:"cacheCreationInputTokens"`
	} `json:"modelUsage"`
}

// copyTranscripts copies a fixture session's transcripts into a projects directory and
// returns the main file's path.
func copyTranscripts(t *testing.T, name, session string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "projects", "-home-dev-src-demo")
	main := filepath.Join(dir, session+".jsonl")
	copyFile(t, filepath.Join("testdata", name+".jsonl"), main)
	subs, _ := filepath.Glob(filepath.Join("testdata", name, "subagents", "*.jsonl"))
	for _, s := range subs {
		copyFile(t, s, filepath.Join(dir, session, "subagents", filepath.Base(s)))
	}
	return main
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(to), 0o755)
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sumUsage(evts []event.Event) (in, out, read, write int64) {
	for _, e := range evts {
		in += e.Usage.InputTokens
		out += e.Usage.OutputTokens
		read += e.Usage.CacheReadInputTokens
		write += e.Usage.CacheCreationInputTokens
	}
	return
}

func TestTranscriptUsageWithSubagentMatchesCLITotals(t *testing.T) {
	const session = "d04f3c58-1e16-4770-9cf3-d9f8ce8512ba"
	main := copyTranscripts(t, "subagent-session", session)
	home := t.TempDir()
	c := newEventCollector(t)
	cfg := agentconfig.Config{Tier: event.TierDetails}
	ev := func(name string) map[string]any {
		return map[string]any{"session_id": session, "transcript_path": main, "cwd": "/nonexistent", "hook_event_name": name}
	}
	hookCapture(t, home, cfg, ev("SessionStart"))
	if _, err := Run(context.Background(), wiredOptions(home, c.URL)); err != nil {
		t.Fatal(err)
	}
	hookCapture(t, home, cfg, ev("Stop"))
	hookCapture(t, home, cfg, ev("SessionEnd"))
	if _, err := Run(context.Background(), wiredOptions(home, c.URL)); err != nil {
		t.Fatal(err)
	}

	var want modelUsage
	raw, err := os.ReadFile(filepath.Join("testdata", "subagent-result1.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &want)
	var wIn, wOut, wRead, wWrite int64
	for _, m := range want.ModelUsage {
		wIn, wOut, wRead, wWrite = wIn+m.InputTokens, wOut+m.OutputTokens, wRead+m.CacheReadInputTokens, wWrite+m.CacheCreationInputTokens
	}
	usage := c.ofKind(event.KindUsage)
	in, out, read, write := sumUsage(usage)
	if in != wIn || out != wOut || read != wRead || write != wWrite {
		t.Fatalf("delivered usage in/out/read/write = %d/%d/%d/%d, CLI says %d/%d/%d/%d", in, out, read, write, wIn, wOut, wRead, wWrite)
	}
	ids := map[string]bool{}
	var sidechain int
	for _, u := range usage {
		if ids[u.ID] {
			t.Fatalf("usage %s delivered twice", u.ID)
		}
		ids[u.ID] = true
		if u.SessionID != session || u.Tier != event.TierDetails || u.Usage.Text != "" {
			t.Fatalf("usage event = %+v", u)
		}
		if u.AgentID != "" {
			sidechain++
		}
	}
	if sidechain == 0 {
		t.Fatal("no usage from the subagent's transcript")
	}
}

func TestQuietTranscriptReadAsFinalWithoutSessionEnd(t *testing.T) {
	const session = "02ffe567-4617-41ff-b977-3528b6d21881"
	main := copyTranscripts(t, "commit-session", session)
	home := t.TempDir()
	c := newEventCollector(t)
	cfg := agentconfig.Config{Tier: event.TierDetails}
	// The session stops a turn and is then killed: no SessionEnd ever comes.
	hookCapture(t, home, cfg, map[string]any{"session_id": session, "transcript_path": main, "cwd": "/nonexistent", "hook_event_name": "Stop"})
	opts := wiredOptions(home, c.URL)
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	held := len(c.ofKind(event.KindUsage))

	// Later the file has been quiet for longer than QuietFinal; a deliverer run for any
	// reason (here: another session's hook) reads it to the end.
	old := time.Now().Add(-time.Minute)
	os.Chtimes(main, old, old)
	hookCapture(t, home, cfg, map[string]any{"session_id": "other", "cwd": "/nonexistent", "hook_event_name": "SessionStart"})
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	all := len(c.ofKind(event.KindUsage))
	if all != held+1 {
		t.Fatalf("usage events: %d while the transcript was live, %d after it went quiet; want exactly the held-back response added", held, all)
	}
	s, _ := spool.Open(spool.Path(home), spool.Options{})
	defer s.Close()
	if open, _ := s.StatePrefix(stateOpen); len(open) != 0 {
		t.Fatalf("transcript still marked open: %v", open)
	}
}

func TestHeldBackResponseRedactedInSpool(t *testing.T) {
	const session = "1b99b927-2428-4aac-bc09-8a6ccc271b5d"
	main := copyTranscripts(t, "secrets-session", session)
	home := t.TempDir()
	c := newEventCollector(t)
	// A turn stops; the last response is held back in the spool's transcript state
	// until more lines or the session's end arrive.
	hookCapture(t, home, agentconfig.Config{Tier: event.TierFull},
		map[string]any{"session_id": session, "transcript_path": main, "cwd": "/nonexistent", "hook_event_name": "Stop"})
	if _, err := Run(context.Background(), wiredOptions(home, c.URL)); err != nil {
		t.Fatal(err)
	}
	s, _ := spool.Open(spool.Path(home), spool.Options{})
	state, _ := s.State(stateTranscript + main)
	s.Close()
	if !strings.Contains(string(state), "REDACTED") {
		t.Fatalf("transcript state %s holds no redacted response: the test proves nothing", state)
	}
	data, _ := os.ReadFile(spool.Path(home))
	for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "hunter2"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("spool.db contains %s", secret)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		raw, _ := json.Marshal(e)
		if strings.Contains(string(raw), "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("delivered %s with the secret", e.ID)
		}
	}
}
