package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Generated data's shape: who, where and which models. Exported so benchmarks and tests
// can filter on values that exist.
var (
	GenUsers  = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	GenRepos  = []string{"github.com/acme/api", "github.com/acme/web", "github.com/acme/infra", "gitlab.com/acme/mobile", "github.com/acme/docs"}
	GenModels = []string{"claude-opus-5-5", "claude-opus-5-5", "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"}
	// GenEnd is the end of the 90 days generated sessions are spread over.
	GenEnd = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
)

var genTools = []string{"Bash", "Read", "Edit", "Write", "Grep", "Glob", "Bash", "Read", "Edit"}

// Generate makes realistic sessions for benchmarks and tests: each has exactly
// eventsPerSession events (at least 8) in time order: a SessionStart, prompts with their
// tool calls (PreToolUse and PostToolUse, some failures), one usage event per API
// response, some commits and pull requests, a Stop per prompt and, for most sessions, a
// SessionEnd. Sessions spread over the 90 days before GenEnd, across GenUsers, GenRepos
// and GenModels. The same seed gives the same events.
func Generate(seed int64, sessions, eventsPerSession int) [][]event.Event {
	if eventsPerSession < 8 {
		eventsPerSession = 8
	}
	rng := rand.New(rand.NewSource(seed))
	out := make([][]event.Event, sessions)
	for i := range out {
		out[i] = genSession(rng, eventsPerSession)
	}
	return out
}

type genState struct {
	rng     *rand.Rand
	id      string
	user    string
	host    string
	repo    string
	branch  string
	model   string
	cwd     string
	tier    int
	fast    bool // fast mode, billed at a premium
	t       time.Time
	events  []event.Event
	n       int
	promptN int
	callN   int
	msgN    int
}

func genUUID(rng *rand.Rand) string {
	b := make([]byte, 16)
	rng.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func genSession(rng *rand.Rand, n int) []event.Event {
	g := &genState{rng: rng, n: n}
	g.id = genUUID(rng)
	g.user = GenUsers[rng.Intn(len(GenUsers))]
	g.host = g.user + "-laptop"
	g.repo = GenRepos[rng.Intn(len(GenRepos))]
	g.branch = "main"
	if rng.Intn(3) == 0 {
		g.branch = fmt.Sprintf("feature/%s-%d", g.user, rng.Intn(100))
	}
	g.model = GenModels[rng.Intn(len(GenModels))]
	g.fast = rng.Intn(10) == 0
	g.cwd = "/home/" + g.user + "/src/" + g.repo[len(g.repo)-3:]
	g.tier = event.TierDetails
	if rng.Intn(4) == 0 {
		g.tier = event.TierFull
	}
	g.t = GenEnd.Add(-time.Duration(rng.Int63n(int64(90 * 24 * time.Hour)))).Truncate(time.Millisecond)
	ended := rng.Intn(10) != 0

	g.hook("SessionStart", "", "", "", map[string]any{"source": "startup", "model": g.model})
	reserve := 1 // the final Stop
	if ended {
		reserve++
	}
	for g.left() > reserve {
		g.prompt(reserve)
	}
	for g.left() > 0 {
		if ended && g.left() == 1 {
			g.hook("SessionEnd", g.promptID(), "", "", map[string]any{"reason": "prompt_input_exit"})
		} else {
			g.hook("Stop", g.promptID(), "", "", map[string]any{"stop_hook_active": false,
				"last_assistant_message": "Done: the change is in place and the tests pass."})
		}
	}
	return g.events
}

func (g *genState) left() int { return g.n - len(g.events) }

func (g *genState) promptID() string {
	return fmt.Sprintf("%s-p%03d", g.id[:8], g.promptN)
}

func (g *genState) tick(max time.Duration) {
	// Millisecond steps: what stores index and what hooks record.
	g.t = g.t.Add(time.Millisecond * time.Duration(1+g.rng.Int63n(int64(max/time.Millisecond))))
}

func (g *genState) base(kind string) event.Event {
	g.tick(2 * time.Second)
	return event.Event{Kind: kind, SessionID: g.id, Time: g.t, Tier: g.tier, User: g.user, Host: g.host,
		Git: &event.GitState{Root: g.cwd, Remote: g.repo, Branch: g.branch}}
}

func (g *genState) hook(name, promptID, toolUseID, toolName string, payload map[string]any) {
	e := g.base(event.KindHook)
	payload["session_id"] = g.id
	payload["hook_event_name"] = name
	payload["cwd"] = g.cwd
	payload["transcript_path"] = "/home/" + g.user + "/.claude/projects/x/" + g.id + ".jsonl"
	if promptID != "" {
		payload["prompt_id"] = promptID
	}
	if toolUseID != "" {
		payload["tool_use_id"] = toolUseID
		payload["tool_name"] = toolName
	}
	raw, _ := json.Marshal(payload)
	e.ID = event.HookID(g.id, name, toolUseID, promptID, "", raw)
	e.HookEvent, e.PromptID, e.ToolUseID, e.ToolName, e.Payload = name, promptID, toolUseID, toolName, raw
	g.events = append(g.events, e)
}

func (g *genState) usage(promptID string, toolUseIDs []string) {
	e := g.base(event.KindUsage)
	g.msgN++
	msg := fmt.Sprintf("msg_%s_%05d", g.id[:8], g.msgN)
	req := fmt.Sprintf("req_%s_%05d", g.id[:8], g.msgN)
	e.ID = event.ID(event.KindUsage, g.id, msg, req)
	e.PromptID = promptID
	e.Git = nil
	cw := int64(0)
	if g.msgN == 1 {
		cw = 2000 + g.rng.Int63n(8000)
	}
	e.Usage = &event.Usage{MessageID: msg, RequestID: req, Model: g.model, StopReason: "tool_use",
		InputTokens: 1000 + g.rng.Int63n(3000), OutputTokens: 50 + g.rng.Int63n(800),
		CacheCreationInputTokens: cw, CacheCreation5mTokens: cw, CacheReadInputTokens: g.rng.Int63n(60000),
		ToolUseIDs: toolUseIDs}
	if len(toolUseIDs) == 0 {
		e.Usage.StopReason = "end_turn"
	}
	if g.fast {
		e.Usage.Speed = "fast"
	}
	if g.rng.Intn(15) == 0 {
		e.Usage.WebSearchRequests = 1 + g.rng.Int63n(3)
	}
	g.events = append(g.events, e)
}

var genPrompts = []string{
	"Fix the flaky test in the payment service and explain the cause",
	"Add pagination to the users endpoint",
	"Refactor the config loader to read environment overrides",
	"Why does the build fail on CI but not locally?",
	"Write a migration that adds an index on orders.created_at",
	"Update the README with the new deployment steps",
}

// prompt emits one prompt with as many tool calls as fit, leaving reserve events.
func (g *genState) prompt(reserve int) {
	g.promptN++
	pid := g.promptID()
	text := genPrompts[g.rng.Intn(len(genPrompts))]
	g.hook("UserPromptSubmit", pid, "", "", map[string]any{"prompt": text, "permission_mode": "default"})
	calls := 1 + g.rng.Intn(12)
	for c := 0; c < calls && g.left() > reserve+3; c++ {
		g.call(pid, reserve)
	}
	if g.left() > reserve+1 {
		g.usage(pid, nil)
	}
	if g.left() > reserve+1 {
		g.hook("Stop", pid, "", "", map[string]any{"stop_hook_active": false,
			"last_assistant_message": "I made the change and ran the tests; everything passes."})
	}
}

// call emits a usage event requesting a tool call, its PreToolUse and its PostToolUse
// (or PostToolUseFailure), and sometimes the commit or pull request it produced.
func (g *genState) call(pid string, reserve int) {
	g.callN++
	id := fmt.Sprintf("toolu_%s%06d", g.id[:8], g.callN)
	tool := genTools[g.rng.Intn(len(genTools))]
	file := fmt.Sprintf("%s/internal/pkg%d/file%d.go", g.cwd, g.rng.Intn(20), g.rng.Intn(50))
	input := map[string]any{}
	response := map[string]any{}
	var added, removed int
	switch tool {
	case "Bash":
		input["command"] = "go test ./... -run TestHandler -count=1"
		input["description"] = "Run the handler tests"
		response["stdout"] = genTestOutput(g.rng)
		response["stderr"] = ""
	case "Read":
		input["file_path"] = file
		response["type"] = "text"
		content := genGoFile(g.rng)
		response["file"] = map[string]any{"filePath": file, "content": content, "numLines": strings.Count(content, "\n")}
	case "Edit":
		input["file_path"] = file
		input["old_string"] = "return nil"
		input["new_string"] = "return validate(req)"
		lines := []string{" func Handler() error {", "-\treturn nil", "+\tif err := validate(req); err != nil {", "+\t\treturn err", "+\t}", "+\treturn nil", " }"}
		response["filePath"] = file
		response["structuredPatch"] = []map[string]any{{"oldStart": 3, "oldLines": 3, "newStart": 3, "newLines": 6, "lines": lines}}
		added, removed = 4, 1
	case "Write":
		input["file_path"] = file
		content := "package pkg\n\n// Validate checks a request.\nfunc validate(r any) error {\n\treturn nil\n}\n"
		input["content"] = content
		response["type"] = "create"
		response["filePath"] = file
		response["content"] = content
		response["structuredPatch"] = []any{}
		added = 6
	case "Grep":
		input["pattern"] = "func Handler"
		response["filenames"] = []string{file}
		response["numFiles"] = 1
	case "Glob":
		input["pattern"] = "**/*_test.go"
		response["filenames"] = []string{file}
	}
	g.usage(pid, []string{id})
	g.hook("PreToolUse", pid, id, tool, map[string]any{"tool_input": input})
	fail := g.rng.Intn(12) == 0
	if fail {
		g.hook("PostToolUseFailure", pid, id, tool, map[string]any{"tool_input": input,
			"error": "Exit code 1\n--- FAIL: TestHandler (0.00s)", "is_interrupt": false, "duration_ms": 100 + g.rng.Intn(5000)})
		return
	}
	if g.tier < event.TierFull {
		response = map[string]any{"structuredPatch": response["structuredPatch"], "type": response["type"]}
	}
	g.hook("PostToolUse", pid, id, tool, map[string]any{"tool_input": input, "tool_response": response,
		"duration_ms": 5 + g.rng.Intn(3000)})
	g.events[len(g.events)-1].LinesAdded = added
	g.events[len(g.events)-1].LinesRemoved = removed

	if tool == "Bash" && g.left() > reserve+3 && g.rng.Intn(6) == 0 {
		e := g.base(event.KindCommit)
		sha := fmt.Sprintf("%040x", g.rng.Uint64())
		e.ID = event.ID(event.KindCommit, g.id, sha)
		e.PromptID, e.ToolUseID = pid, id
		e.Commit = &event.Commit{SHA: sha, Message: "Validate handler requests", Branch: g.branch, Repo: g.repo,
			CommittedAt: e.Time, FilesChanged: 1 + g.rng.Intn(4), LinesAdded: 1 + g.rng.Intn(80), LinesRemoved: g.rng.Intn(30)}
		g.events = append(g.events, e)
		if g.rng.Intn(3) == 0 && g.left() > reserve+3 {
			p := g.base(event.KindPullRequest)
			num := 1 + g.rng.Intn(5000)
			parts := strings.SplitN(g.repo, "/", 3)
			host, owner, name := parts[0], parts[1], parts[2]
			forge := strings.TrimSuffix(host, ".com")
			p.ID = event.ID(event.KindPullRequest, g.id, forge, owner, name, fmt.Sprint(num))
			p.PromptID, p.ToolUseID = pid, id
			p.PullRequest = &event.PullRequest{URL: fmt.Sprintf("https://%s/%s/%s/pull/%d", host, owner, name, num),
				Forge: forge, Owner: owner, Repo: name, Number: num}
			g.events = append(g.events, p)
		}
	}
}

// genGoFile is a plausible source file of 40 to 120 lines (a Read's output, ~3 KB).
func genGoFile(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("package pkg\n\nimport (\n\t\"context\"\n\t\"fmt\"\n)\n\n")
	for n := 40 + rng.Intn(80); n > 0; n -= 5 {
		f := rng.Intn(1000)
		fmt.Fprintf(&b, "// Handler%d serves one request kind.\nfunc Handler%d(ctx context.Context, req Request) error {\n", f, f)
		fmt.Fprintf(&b, "\tif err := validate(req); err != nil {\n\t\treturn fmt.Errorf(\"handler %d: %%w\", err)\n\t}\n\treturn nil\n}\n\n", f)
	}
	return b.String()
}

// genTestOutput is a plausible `go test` output of 10 to 30 lines (a Bash call's stdout).
func genTestOutput(rng *rand.Rand) string {
	var b strings.Builder
	n := 10 + rng.Intn(20)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "=== RUN   TestHandler/case_%02d\n--- PASS: TestHandler/case_%02d (0.%02ds)\n", i, i, rng.Intn(100))
	}
	fmt.Fprintf(&b, "PASS\nok  \tgithub.com/acme/api/internal/handler\t0.%03ds\n", rng.Intn(1000))
	return b.String()
}

// Flatten puts generated sessions one after another, as a deliverer sends them.
func Flatten(sessions [][]event.Event) []event.Event {
	n := 0
	for _, s := range sessions {
		n += len(s)
	}
	out := make([]event.Event, 0, n)
	for _, s := range sessions {
		out = append(out, s...)
	}
	return out
}

// IngestInBatches ingests events in batches of size, failing tb on the first error. The
// benchmarks of every backend use it with size 500.
func IngestInBatches(tb testing.TB, s agenttrace.Store, events []event.Event, size int) {
	tb.Helper()
	for len(events) > 0 {
		n := min(size, len(events))
		if _, err := s.Ingest(context.Background(), events[:n]); err != nil {
			tb.Fatalf("ingest batch of %d: %v", n, err)
		}
		events = events[n:]
	}
}
