package projection_test

import (
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// TestOTelJoinsHooks: a session reported by hooks, transcripts and OTel is one session
// whose totals are the hooks-only totals: every API request counted once, every prompt
// and tool call once. OTel adds its cost estimate, decisions and request details.
func TestOTelJoinsHooks(t *testing.T) {
	for _, f := range loadOTelFixtures() {
		t.Run(f.name, func(t *testing.T) {
			want := projection.Project(f.hooks, storetest.TestPricer{})
			got := projection.Project(append(append([]event.Event(nil), f.hooks...), f.otel...), storetest.TestPricer{})
			if got.ID != want.ID {
				t.Fatalf("session %q, want %q", got.ID, want.ID)
			}
			if got.Usage != want.Usage {
				t.Errorf("usage %+v, want %+v (hooks only)", got.Usage, want.Usage)
			}
			if costOf(got.CostUSD) != costOf(want.CostUSD) {
				t.Errorf("cost %v, want %v (hooks only)", costOf(got.CostUSD), costOf(want.CostUSD))
			}
			for _, c := range []struct {
				what      string
				got, want int
			}{
				{"prompts", got.PromptCount, want.PromptCount},
				{"tool calls", got.ToolCallCount, want.ToolCallCount},
				{"commits", got.CommitCount, want.CommitCount},
				{"tool errors", got.ErrorCount, want.ErrorCount},
			} {
				if c.got != c.want {
					t.Errorf("%s %d, want %d (hooks only)", c.what, c.got, c.want)
				}
			}
			if n := requestCount(f.otel); n > 0 && got.OTelCostUSD == nil {
				t.Errorf("no OTel cost for %d api_requests", n)
			}
			for _, p := range got.Prompts {
				for _, r := range p.Requests {
					if r.Error == "" && r.Sources != "transcript+otel" && r.RequestID != "" {
						t.Errorf("prompt %d request %s from %q, want transcript+otel", p.Index, r.RequestID, r.Sources)
					}
				}
			}
		})
	}
}

// TestOTelOnlySession: OTel alone gives the list and the replay their prompts, tool
// calls with status, commits (from tool_result's SHA) and tokens (the api_requests').
func TestOTelOnlySession(t *testing.T) {
	for _, f := range loadOTelFixtures() {
		t.Run(f.name, func(t *testing.T) {
			hooks := projection.Project(f.hooks, storetest.TestPricer{})
			got := projection.Project(f.otel, storetest.TestPricer{})
			if got.PromptCount != hooks.PromptCount {
				t.Errorf("prompts %d, want %d", got.PromptCount, hooks.PromptCount)
			}
			if got.FirstPrompt != hooks.FirstPrompt {
				t.Errorf("first prompt %q, want %q", got.FirstPrompt, hooks.FirstPrompt)
			}
			if got.ToolCallCount != hooks.ToolCallCount {
				t.Errorf("tool calls %d, want %d", got.ToolCallCount, hooks.ToolCallCount)
			}
			if got, want := got.Usage, requestUsage(f.otel); got != want {
				t.Errorf("usage %+v, want the api_requests' %+v", got, want)
			}
			if got, want := shas(got.Commits), shas(hooks.Commits); !equalStrings(got, want) {
				t.Errorf("commits %v, want %v", got, want)
			}
			for _, p := range got.Prompts {
				for _, c := range p.ToolCalls {
					if c.Status == agenttrace.ToolPending {
						t.Errorf("call %s (%s) pending: OTel said how it ended", c.ID, c.Name)
					}
				}
			}
		})
	}
}

// TestOTelRecordedOutcomes checks the outcomes each recorded session is about, from OTel
// alone and with the hooks.
func TestOTelRecordedOutcomes(t *testing.T) {
	fixtures := map[string]otelFixture{}
	for _, f := range loadOTelFixtures() {
		fixtures[f.name] = f
	}
	tests := []struct {
		name, session string
		check         func(t *testing.T, s *agenttrace.Session)
	}{
		{"denied calls are rejected", "denied", func(t *testing.T, s *agenttrace.Session) {
			if got := countStatus(s, agenttrace.ToolRejected); got != 2 {
				t.Errorf("rejected calls %d, want 2 (Write, Bash)", got)
			}
		}},
		{"api errors", "apierror", func(t *testing.T, s *agenttrace.Session) {
			if s.APIErrorCount != 1 {
				t.Errorf("api errors %d, want 1 (retries exhausted is no new failure)", s.APIErrorCount)
			}
			if len(s.Prompts) != 1 || len(s.Prompts[0].Requests) != 2 || s.Prompts[0].Requests[0].StatusCode != 529 {
				t.Errorf("prompt requests %+v, want the 529 attempt and retries exhausted", s.Prompts)
			}
		}},
		{"commit from tool_result", "commit", func(t *testing.T, s *agenttrace.Session) {
			if len(s.Commits) != 1 || s.Commits[0].SHA != "b7c617907941a0f3bbe32a2b6007c3aee2cd416a" ||
				s.Commits[0].ToolUseID == "" || s.Commits[0].PromptID == "" {
				t.Errorf("commits %+v, want b7c61790 under its prompt and call", s.Commits)
			}
		}},
		{"active time", "commit", func(t *testing.T, s *agenttrace.Session) {
			if s.ActiveUserSeconds != 1.5 || s.ActiveCLISeconds != 1.5 {
				t.Errorf("active user %v cli %v, want 1.5 and 1.5", s.ActiveUserSeconds, s.ActiveCLISeconds)
			}
		}},
		{"subagent completed", "subagent", func(t *testing.T, s *agenttrace.Session) {
			if len(s.Subagents) != 1 || s.Subagents[0].Type == "" {
				t.Errorf("subagents %+v, want one with its type", s.Subagents)
			}
		}},
	}
	for _, tt := range tests {
		f := fixtures[tt.session]
		t.Run(tt.name+"/otel-only", func(t *testing.T) { tt.check(t, projection.Project(f.otel, storetest.TestPricer{})) })
		t.Run(tt.name+"/with-hooks", func(t *testing.T) {
			tt.check(t, projection.Project(append(append([]event.Event(nil), f.hooks...), f.otel...), storetest.TestPricer{}))
		})
	}
}

// TestOTelMetricsCountOnce: delta points add up; cumulative points of one series count
// their largest, whatever order they come in or how often they are re-sent.
func TestOTelMetricsCountOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	point := func(id string, at int, typ string, v float64, cumulative bool, start int) event.Event {
		return event.Event{ID: id, Kind: event.KindMetric, SessionID: "s", Time: t0.Add(time.Duration(at) * time.Second),
			Tier: 2, OTel: &event.OTel{Name: "active_time.total", Attrs: map[string]string{"type": typ},
				Metric: &event.MetricPoint{Value: v, Cumulative: cumulative, Series: "type=" + typ,
					Start: t0.Add(time.Duration(start) * time.Second)}}}
	}
	tests := []struct {
		name      string
		events    []event.Event
		user, cli float64
	}{
		{"delta", []event.Event{point("a", 1, "user", 1, false, 0), point("b", 2, "user", 2, false, 1),
			point("b", 2, "user", 2, false, 1), point("c", 3, "cli", 0.5, false, 2)}, 3, 0.5},
		{"cumulative out of order", []event.Event{point("c", 3, "user", 6, true, 0), point("a", 1, "user", 1, true, 0),
			point("b", 2, "user", 4, true, 0)}, 6, 0},
		{"cumulative restart", []event.Event{point("a", 1, "cli", 2, true, 0), point("b", 2, "cli", 3, true, 0),
			point("c", 9, "cli", 1, true, 8)}, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := projection.Project(tt.events, nil)
			if s.ActiveUserSeconds != tt.user || s.ActiveCLISeconds != tt.cli {
				t.Errorf("active user %v cli %v, want %v and %v", s.ActiveUserSeconds, s.ActiveCLISeconds, tt.user, tt.cli)
			}
		})
	}
}

func costOf(c *float64) float64 {
	if c == nil {
		return -1
	}
	return *c
}

func requestCount(evs []event.Event) int {
	n := 0
	for _, e := range evs {
		if e.Kind == event.KindAPIRequest {
			n++
		}
	}
	return n
}

func requestUsage(evs []event.Event) agenttrace.Usage {
	var u agenttrace.Usage
	for _, e := range evs {
		if e.Kind == event.KindAPIRequest {
			u = u.Add(projection.ToUsage(e.Usage))
		}
	}
	return u
}

func shas(cs []agenttrace.Commit) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.SHA)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func countStatus(s *agenttrace.Session, status string) int {
	n := 0
	var walk func([]agenttrace.ToolCall)
	walk = func(cs []agenttrace.ToolCall) {
		for _, c := range cs {
			if c.Status == status {
				n++
			}
			walk(c.Children)
		}
	}
	for _, p := range s.Prompts {
		walk(p.ToolCalls)
	}
	return n
}

// TestOTelPullRequests: a PR URL in a tool_result's parameters is a PR with its URL; the
// pull_request.count metric alone is a count beside PRCount, not a PR row.
func TestOTelPullRequests(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ok := true
	result := event.Event{ID: "r1", Kind: event.KindToolResult, SessionID: "s", Time: t0, Tier: event.TierDetails,
		PromptID: "p1", ToolUseID: "t1", ToolName: "Bash", OTel: &event.OTel{Name: "tool_result", Success: &ok,
			Parameters: map[string]any{"full_command": "gh pr view https://github.com/example/demo/pull/7"}}}
	metric := event.Event{ID: "m1", Kind: event.KindMetric, SessionID: "s", Time: t0.Add(time.Second), Tier: event.TierDetails,
		OTel: &event.OTel{Name: "pull_request.count", Metric: &event.MetricPoint{Value: 2, Start: t0}}}
	tier1 := result
	tier1.Tier = event.TierMetadata
	tests := []struct {
		name    string
		events  []event.Event
		prs     int
		url     string
		counted int
	}{
		{"url in parameters", []event.Event{result}, 1, "https://github.com/example/demo/pull/7", 0},
		{"metric only", []event.Event{metric}, 0, "", 2},
		{"both", []event.Event{result, metric}, 1, "https://github.com/example/demo/pull/7", 2},
		{"tier 1 keeps no parameters", []event.Event{tier1}, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := projection.Project(tt.events, nil)
			if len(s.PullRequests) != tt.prs || s.OTelPRCount != tt.counted {
				t.Fatalf("PRs %+v, OTel count %d; want %d PRs, count %d", s.PullRequests, s.OTelPRCount, tt.prs, tt.counted)
			}
			if tt.prs > 0 && (s.PullRequests[0].URL != tt.url || s.PullRequests[0].PromptID != "p1") {
				t.Errorf("PR %+v, want %s under p1", s.PullRequests[0], tt.url)
			}
		})
	}
}
