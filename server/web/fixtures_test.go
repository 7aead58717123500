package web

import (
	"fmt"
	"time"

	"github.com/agent-trace/agent-trace/server"
)

const xssText = `<script>alert(1)</script> and <img src=x onerror=alert(1)>`

var baseTime = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// commitSession mirrors the recorded "commit" fixture at tier 3: Write, Edit, Read and a
// Bash `git commit`, one prompt, a Markdown response with a Python block.
func commitSession() *server.Session {
	id := "02ffe567-4617-41ff-b977-3528b6d21881"
	pid := "6054bf7f-251e-4fe0-9023-89fdca143dab"
	t0 := baseTime
	commit := server.Commit{SHA: "f5e602f0c0ffee0000000000000000000000beef", SessionID: id, PromptID: pid,
		Message: "Add hello module", Branch: "main", Repo: "github.com/example/demo",
		CommittedAt: t0.Add(40 * time.Second), FilesChanged: 1, LinesAdded: 2}
	return &server.Session{
		SessionSummary: server.SessionSummary{
			ID: id, StartedAt: t0, LastEventAt: t0.Add(50 * time.Second), EndedAt: ptr(t0.Add(50 * time.Second)),
			Status: server.StatusEnded, DurationMS: 50_000, CWD: "/home/dev/src/demo",
			Repo: "github.com/example/demo", Branch: "main", Models: []string{"claude-opus-5-5"},
			ClaudeCodeVersion: "2.1.332", User: "dev", Host: "devbox", Tier: 3,
			FirstPrompt: "Create hello.py and commit it", PromptCount: 1, ToolCallCount: 4, CommitCount: 1,
			LinesAdded: 3, LinesRemoved: 1,
			Usage:   server.Usage{InputTokens: 1200, OutputTokens: 340, CacheCreationInputTokens: 5000, CacheReadInputTokens: 20000},
			CostUSD: ptr(0.0926), ReportedCostUSD: ptr(0.0931), EventCount: 12,
		},
		Prompts: []server.Prompt{{
			ID: pid, Index: 0, Text: "Create hello.py and commit it", StartedAt: t0.Add(time.Second),
			DurationMS: 45_000, CostUSD: ptr(0.0926), Models: []string{"claude-opus-5-5"},
			Usage:    server.Usage{InputTokens: 1200, OutputTokens: 340},
			Response: "Created `hello.py` and committed it:\n\n```python\ndef hello():\n    return 'hello, world'\n```",
			ToolCalls: []server.ToolCall{
				{ID: "toolu_write", Name: "Write", Status: server.ToolOK, StartedAt: t0.Add(2 * time.Second), DurationMS: 8,
					FilePath: "/home/dev/src/demo/hello.py", LinesAdded: 2,
					Diff: []server.DiffHunk{{OldStart: 0, OldLines: 0, NewStart: 1, NewLines: 2, Lines: []string{"+def hello():", "+    return 'hi'"}}}},
				{ID: "toolu_edit", Name: "Edit", Status: server.ToolOK, StartedAt: t0.Add(3 * time.Second), DurationMS: 4,
					FilePath: "/home/dev/src/demo/hello.py", LinesAdded: 1, LinesRemoved: 1,
					Diff: []server.DiffHunk{{OldStart: 1, OldLines: 2, NewStart: 1, NewLines: 2,
						Lines: []string{" def hello():", "-    return 'hi'", "+    return 'hello, world'"}}}},
				{ID: "toolu_read", Name: "Read", Status: server.ToolOK, StartedAt: t0.Add(4 * time.Second), DurationMS: 10,
					FilePath: "/home/dev/src/demo/hello.py", Output: "def hello():\n    return 'hello, world'\n"},
				{ID: "toolu_bash", Name: "Bash", Status: server.ToolOK, StartedAt: t0.Add(5 * time.Second), DurationMS: 65,
					Command: "git add hello.py && git commit -m 'Add hello module'", Description: "Commit the new module",
					Output: "[main f5e602f] Add hello module\n 1 file changed, 2 insertions(+)"},
			},
			Commits: []server.Commit{commit},
		}},
		Commits: []server.Commit{commit},
	}
}

// xssSession puts hostile markup in every user-controlled field.
func xssSession() *server.Session {
	id := "xss-session"
	pid := "xss-prompt"
	t0 := baseTime.Add(time.Hour)
	return &server.Session{
		SessionSummary: server.SessionSummary{
			ID: id, StartedAt: t0, LastEventAt: t0, Status: server.StatusActive, Tier: 3,
			CWD: "/home/dev/src/<b>evil</b>", Repo: "github.com/evil/<script>alert(3)</script>", Branch: "<i>br</i>",
			User: "<img src=x onerror=alert(4)>", FirstPrompt: xssText, PromptCount: 1, ToolCallCount: 2,
			Models: []string{"claude-opus-5-5"}, CostUSD: ptr(0.5),
		},
		Prompts: []server.Prompt{{
			ID: pid, Text: xssText, StartedAt: t0,
			Response: "Here: <script>alert(5)</script>\n\n<img src=x onerror=alert(6)>\n\n[click](javascript:alert(7))\n\n```html\n<script>alert(8)</script>\n```",
			ToolCalls: []server.ToolCall{
				{ID: "toolu_x1", Name: "Bash", Status: server.ToolError, StartedAt: t0,
					Command: `echo "<script>alert(9)</script>"`, Description: "<b>desc</b>",
					Error: "<img src=x onerror=alert(10)>", Output: "<script>alert(11)</script>"},
				{ID: "toolu_x2", Name: "Edit", Status: server.ToolOK, StartedAt: t0.Add(time.Second),
					FilePath: "/tmp/<script>alert(12)</script>.html",
					Diff: []server.DiffHunk{{OldStart: 1, OldLines: 1, NewStart: 1, NewLines: 1,
						Lines: []string{"-<p>old</p>", "+<script>alert(13)</script>"}}}},
			},
		}},
	}
}

// tier1Session has metadata only.
func tier1Session() *server.Session {
	t0 := baseTime.Add(-time.Hour)
	return &server.Session{
		SessionSummary: server.SessionSummary{
			ID: "tier1-session", StartedAt: t0, LastEventAt: t0, Status: server.StatusEnded, Tier: 1,
			Repo: "github.com/example/private", Branch: "main", PromptCount: 1, ToolCallCount: 1, User: "dev",
		},
		Prompts: []server.Prompt{{ID: "t1-prompt", StartedAt: t0, ToolCalls: []server.ToolCall{
			{ID: "toolu_t1", Name: "Bash", Status: server.ToolOK, StartedAt: t0, DurationMS: 12},
		}}},
	}
}

// spunSession worked hard and committed nothing.
func spunSession() *server.Session {
	t0 := baseTime.Add(-2 * time.Hour)
	var calls []server.ToolCall
	for i := range 30 {
		st := server.ToolOK
		if i%3 == 0 {
			st = server.ToolError
		}
		calls = append(calls, server.ToolCall{ID: fmt.Sprintf("toolu_spin_%d", i), Name: "Bash", Status: st,
			StartedAt: t0.Add(time.Duration(i) * time.Second), Command: "go test ./...", DurationMS: 900})
	}
	return &server.Session{
		SessionSummary: server.SessionSummary{
			ID: "spun-session", StartedAt: t0, LastEventAt: t0, Status: server.StatusEnded, Tier: 2,
			Repo: "github.com/example/demo", Branch: "fix-flake", PromptCount: 1, ToolCallCount: 30, ErrorCount: 10,
			FirstPrompt: "make the flaky test pass", User: "dev", CostUSD: ptr(12.4), Models: []string{"claude-opus-5-5"},
		},
		Prompts: []server.Prompt{{ID: "spin-prompt", Text: "make the flaky test pass", StartedAt: t0, ToolCalls: calls}},
	}
}

// subagentSession has an Agent call whose subagent ran its own Bash call.
func subagentSession() *server.Session {
	t0 := baseTime.Add(-3 * time.Hour)
	return &server.Session{
		SessionSummary: server.SessionSummary{
			ID: "subagent-session", StartedAt: t0, LastEventAt: t0, Status: server.StatusEnded, Tier: 2,
			PromptCount: 1, ToolCallCount: 2, FirstPrompt: "count the files with a subagent",
			PRCount: 1, User: "dev",
		},
		Prompts: []server.Prompt{{ID: "sub-prompt", Text: "count the files with a subagent", StartedAt: t0,
			ToolCalls: []server.ToolCall{{ID: "toolu_agent", Name: "Agent", Status: server.ToolOK, StartedAt: t0,
				Description: "Count files", Children: []server.ToolCall{
					{ID: "toolu_child", Name: "Bash", Status: server.ToolOK, StartedAt: t0, AgentID: "agent-1", Command: "ls | wc -l"},
				}}},
			PullRequests: []server.PullRequest{{URL: "https://github.com/example/demo/pull/7", Forge: "github",
				Repo: "example/demo", Number: 7, SessionID: "subagent-session", PromptID: "sub-prompt", SeenAt: t0}},
		}},
		PullRequests: []server.PullRequest{{URL: "https://github.com/example/demo/pull/7", Forge: "github",
			Repo: "example/demo", Number: 7, SessionID: "subagent-session", PromptID: "sub-prompt", SeenAt: t0}},
	}
}

func allSessions() []*server.Session {
	return []*server.Session{commitSession(), xssSession(), tier1Session(), spunSession(), subagentSession()}
}
