package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// Examples shown in /openapi.json and /docs: one small, consistent session.
var (
	exStart    = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	exEnd      = exStart.Add(95 * time.Second)
	exCost     = 0.4213
	exRepCost  = 0.4213
	exOTelCost = 0.4187
	exReqCost  = 0.2105
	exUsage    = agenttrace.Usage{InputTokens: 1204, OutputTokens: 3312, CacheCreationInputTokens: 18044, CacheCreation5mTokens: 18044, CacheReadInputTokens: 120877}
	exSummary  = agenttrace.SessionSummary{
		ID: "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60", StartedAt: exStart, EndedAt: &exEnd, LastEventAt: exEnd,
		Status: agenttrace.StatusEnded, DurationMS: 95000, CWD: "/home/ada/src/demo",
		Repo: "github.com/example/demo", Branch: "main", Branches: []string{"main"},
		Models: []string{"claude-opus-4-5"}, ClaudeCodeVersion: "2.1.332", User: "ada", Host: "laptop", Tier: 2,
		FirstPrompt: "add a --verbose flag and commit", PromptCount: 1, ToolCallCount: 2, CommitCount: 1,
		LinesAdded: 12, LinesRemoved: 3, Usage: exUsage, CostUSD: &exCost, ReportedCostUSD: &exRepCost, EventCount: 14,
		OTelCostUSD: &exOTelCost, APIErrorCount: 1, ActiveUserSeconds: 41.5, ActiveCLISeconds: 52.25,
	}
	exToolEnd = exStart.Add(20 * time.Second)
	exCommit  = agenttrace.Commit{
		SHA: "9fceb02d0ae598e95dc970b74767f19372d61af8", SessionID: exSummary.ID, PromptID: "p-5b1e",
		ToolUseID: "toolu_02", Message: "Add --verbose flag", Branch: "main", Repo: "github.com/example/demo",
		CommittedAt: exStart.Add(60 * time.Second), Files: []string{"main.go"}, FilesChanged: 1, LinesAdded: 12, LinesRemoved: 3, User: "ada",
	}
	exPR = agenttrace.PullRequest{
		URL: "https://github.com/example/demo/pull/42", Forge: "github", Repo: "example/demo", Number: 42,
		SessionID: exSummary.ID, PromptID: "p-5b1e", SeenAt: exStart.Add(80 * time.Second), User: "ada",
	}
	exSession = agenttrace.Session{
		SessionSummary: exSummary,
		Prompts: []agenttrace.Prompt{{
			ID: "p-5b1e", Index: 0, Text: "add a --verbose flag and commit", StartedAt: exStart, DurationMS: 90000,
			Usage: exUsage, CostUSD: &exCost, Models: []string{"claude-opus-4-5"},
			ToolCalls: []agenttrace.ToolCall{
				{ID: "toolu_01", Name: "Edit", Status: agenttrace.ToolOK, StartedAt: exStart.Add(10 * time.Second), EndedAt: &exToolEnd, DurationMS: 10000, FilePath: "main.go", LinesAdded: 12, LinesRemoved: 3, Decision: "accept", DecisionSource: "config"},
				{ID: "toolu_02", Name: "Bash", Status: agenttrace.ToolOK, StartedAt: exStart.Add(55 * time.Second), DurationMS: 840, Command: "git commit -am 'Add --verbose flag'"},
			},
			Commits: []agenttrace.Commit{exCommit}, PullRequests: []agenttrace.PullRequest{}, LinesAdded: 12, LinesRemoved: 3,
			Requests: []agenttrace.APIRequest{
				{RequestID: "req_011CX1", Time: exStart.Add(5 * time.Second), Model: "claude-opus-4-5", StatusCode: 529,
					Attempt: 1, DurationMS: 310, Error: "overloaded", QuerySource: "main", Sources: "otel"},
				{RequestID: "req_011CX2", Time: exStart.Add(9 * time.Second), Model: "claude-opus-4-5", Usage: exUsage,
					CostUSD: &exReqCost, OTelCostUSD: &exReqCost, DurationMS: 4200, TTFTMS: 610, QuerySource: "main",
					Sources: "transcript+otel"},
			},
		}},
		Commits:      []agenttrace.Commit{exCommit},
		PullRequests: []agenttrace.PullRequest{},
	}
	exEvent = event.Event{
		ID: "evt_5f0c6b1e3b9f4c2a8d7e6f5a4b3c2d1e", Kind: event.KindHook, SessionID: exSummary.ID, Time: exStart.Add(10 * time.Second),
		Tier: 2, HookEvent: "PreToolUse", PromptID: "p-5b1e", ToolUseID: "toolu_01", ToolName: "Edit", User: "ada", Host: "laptop",
		Payload: json.RawMessage(`{"hook_event_name":"PreToolUse","tool_name":"Edit","tool_input":{"file_path":"main.go"}}`),
	}
)

// withExample documents v as the example of op's success response.
func withExample(op huma.Operation, v any) huma.Operation {
	status := op.DefaultStatus
	if status == 0 {
		status = http.StatusOK
	}
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	op.Responses[strconv.Itoa(status)] = &huma.Response{Content: map[string]*huma.MediaType{"application/json": {Example: v}}}
	return op
}
