package otlp_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/otlp"
)

// convertAll converts every payload of one recorded session with c.
func convertAll(tb testing.TB, c otlp.Converter, encoding, session string) []event.Event {
	tb.Helper()
	var out []event.Event
	for _, p := range loadPayloads(tb, encoding, session) {
		body := reencode(tb, p, false)
		var res otlp.Result
		switch p.Signal {
		case "logs":
			req := plogotlp.NewExportRequest()
			if err := req.UnmarshalProto(body); err != nil {
				tb.Fatal(err)
			}
			res = c.Logs(req.Logs())
		case "metrics":
			req := pmetricotlp.NewExportRequest()
			if err := req.UnmarshalProto(body); err != nil {
				tb.Fatal(err)
			}
			res = c.Metrics(req.Metrics())
		default:
			req := ptraceotlp.NewExportRequest()
			if err := req.UnmarshalProto(body); err != nil {
				tb.Fatal(err)
			}
			res = c.Traces(req.Traces())
		}
		if res.Rejected != 0 {
			tb.Fatalf("%s: %d rejected: %s", p.Name, res.Rejected, res.Message)
		}
		out = append(out, res.Events...)
	}
	return out
}

func find(evs []event.Event, kind string, ok func(e event.Event) bool) *event.Event {
	for i := range evs {
		if evs[i].Kind == kind && (ok == nil || ok(evs[i])) {
			return &evs[i]
		}
	}
	return nil
}

const commitSession = "032ff37c-da75-4182-ad4b-94d974218cd9"

// The fields the projection joins on and counts come out of the attributes, numbers
// Claude Code sends as strings included.
func TestConvertCommitSession(t *testing.T) {
	evs := convertAll(t, otlp.Converter{Tier: event.TierFull}, "http_json", "commit")
	for _, e := range evs {
		if e.SessionID != commitSession {
			t.Fatalf("%s %s: session %q, want %q", e.Kind, e.OTel.Name, e.SessionID, commitSession)
		}
		if e.Tier != event.TierFull {
			t.Fatalf("tier = %d", e.Tier)
		}
	}
	req := find(evs, event.KindAPIRequest, nil)
	if req == nil || req.Usage == nil {
		t.Fatal("no api_request with usage")
	}
	if u := req.Usage; u.RequestID == "" || u.RequestID != req.OTel.RequestID || u.Model != "claude-opus-5-5" ||
		u.MessageID != "" || u.InputTokens+u.OutputTokens == 0 || req.OTel.CostUSD <= 0 || req.OTel.DurationMS <= 0 {
		t.Errorf("api_request = %+v, usage %+v", req.OTel, u)
	}
	if req.ID != event.OTelID(event.KindAPIRequest, commitSession, req.OTel.RequestID) {
		t.Errorf("api_request id is not derived from its request_id")
	}

	res := find(evs, event.KindToolResult, func(e event.Event) bool { return e.OTel.CommitSHA != "" })
	if res == nil {
		t.Fatal("no tool_result with a commit")
	}
	o := res.OTel
	if got, want := o.CommitSHA, "b7c617907941a0f3bbe32a2b6007c3aee2cd416a"; got != want {
		t.Errorf("commit sha = %q, want %q", got, want)
	}
	if o.Branch != "main" || o.Success == nil || !*o.Success || o.DurationMS != 823 || res.ToolName != "Bash" ||
		res.ToolUseID != "toolu_5bdea9780df0494db6aeee16" || res.PromptID == "" {
		t.Errorf("tool_result = %+v (tool %q %q, prompt %q)", o, res.ToolName, res.ToolUseID, res.PromptID)
	}
	if o.Parameters["git_commit_id"] != o.CommitSHA || o.Parameters["command"] == nil {
		t.Errorf("parameters = %v, want tool_parameters and tool_input merged", o.Parameters)
	}
	if _, ok := o.Attrs["session.id"]; ok {
		t.Errorf("attrs keep the common session.id: %v", o.Attrs)
	}

	prompt := find(evs, event.KindUserPrompt, nil)
	if prompt == nil || prompt.OTel.Text == "" || prompt.OTel.Length == 0 || prompt.PromptID == "" {
		t.Errorf("user_prompt = %+v", prompt)
	}
	span := find(evs, event.KindSpan, func(e event.Event) bool { return e.OTel.Span.ParentID != "" })
	if span == nil || len(span.OTel.Span.TraceID) != 32 || len(span.OTel.Span.SpanID) != 16 || span.OTel.Span.Start.After(span.Time) {
		t.Errorf("child span = %+v", span)
	}
	m := find(evs, event.KindMetric, func(e event.Event) bool { return e.OTel.Name == "token.usage" })
	if m == nil || m.OTel.Metric.Cumulative || !strings.Contains(m.OTel.Metric.Series, "type=") ||
		strings.Contains(m.OTel.Metric.Series, "session.id") || m.OTel.Metric.Value <= 0 {
		t.Errorf("token.usage point = %+v", m)
	}
}

// Claude Code exports delta points unless told otherwise; the opt-in recording asked
// for cumulative ones.
func TestConvertTemporality(t *testing.T) {
	for _, tt := range []struct {
		encoding, session string
		cumulative        bool
	}{{"http_json", "utils", false}, {"http_json_optin", "utils", true}} {
		evs := convertAll(t, otlp.Converter{Tier: event.TierDetails}, tt.encoding, tt.session)
		for _, e := range evs {
			if e.Kind == event.KindMetric && e.OTel.Metric.Cumulative != tt.cumulative {
				t.Fatalf("%s: %s cumulative = %v, want %v", tt.encoding, e.OTel.Name, e.OTel.Metric.Cumulative, tt.cumulative)
			}
		}
	}
}

// At tier 1 nothing but metadata is left: no prompt text, parameters or error text.
func TestConvertTier1(t *testing.T) {
	evs := convertAll(t, otlp.Converter{Tier: event.TierMetadata}, "http_json", "utils")
	for _, e := range evs {
		o := e.OTel
		if o.Text != "" || o.Parameters != nil || o.Error != "" || e.Tier != event.TierMetadata {
			t.Errorf("%s %s at tier 1 keeps text %q, parameters %v, error %q", e.Kind, o.Name, o.Text, o.Parameters, o.Error)
		}
		for _, k := range []string{"full_command", "file_path", "user_prompt", "prompt", "tool_parameters", "tool_input"} {
			if _, ok := o.Attrs[k]; ok {
				t.Errorf("%s %s at tier 1 keeps attr %s", e.Kind, o.Name, k)
			}
		}
	}
	if find(evs, event.KindToolResult, func(e event.Event) bool { return e.OTel.CommitSHA != "" }) == nil {
		t.Error("tier 1 lost the commit SHA (metadata)")
	}
}
