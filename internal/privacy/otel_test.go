package privacy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/privacy"
)

const awsKey = "AKIAIOSFODNN7EXAMPLE"

// otelEvent carries a secret and the word "TEXT" in every free-text field of an OTel event.
func otelEvent(kind string) event.Event {
	return event.Event{
		ID: "evt_x", Kind: kind, SessionID: "s", Tier: event.TierFull,
		OTel: &event.OTel{
			Name:       kind,
			Text:       "TEXT use " + awsKey,
			Error:      "TEXT failed with " + awsKey,
			Parameters: map[string]any{"command": "TEXT echo " + awsKey, "api_key": "plain"},
			Attrs:      map[string]string{"full_command": "TEXT " + awsKey, "team": "platform", "note": "TEXT free " + awsKey, "password": "hunter2"},
			Span:       &event.Span{SpanID: "1", Status: "error", Message: "TEXT " + awsKey},
		},
	}
}

func TestApplyOTel(t *testing.T) {
	tests := []struct {
		kind     string
		tier     int
		wantText bool // any "TEXT" field survives
		wantResp bool // the event's Text survives
	}{
		{event.KindUserPrompt, event.TierMetadata, false, false},
		{event.KindUserPrompt, event.TierDetails, true, true},
		{event.KindAssistantResponse, event.TierDetails, true, false},
		{event.KindAssistantResponse, event.TierFull, true, true},
	}
	for _, tt := range tests {
		orig := otelEvent(tt.kind)
		e := orig // shares OTel and its maps with orig
		privacy.ApplyOTel(&e, tt.tier)
		b, _ := json.Marshal(e)
		got := string(b)
		if strings.Contains(got, awsKey) || strings.Contains(got, "hunter2") {
			t.Errorf("%s tier %d: a secret survived: %s", tt.kind, tt.tier, got)
		}
		if strings.Contains(got, "TEXT") != tt.wantText {
			t.Errorf("%s tier %d: text kept = %v, want %v: %s", tt.kind, tt.tier, !tt.wantText, tt.wantText, got)
		}
		if (e.OTel.Text != "") != tt.wantResp {
			t.Errorf("%s tier %d: Text = %q", tt.kind, tt.tier, e.OTel.Text)
		}
		if e.OTel.Attrs["team"] != "platform" || e.Tier != tt.tier {
			t.Errorf("%s tier %d: enum attr or tier lost: %+v", tt.kind, tt.tier, e)
		}
		if tt.wantText && e.Redactions["aws_access_key"] == 0 {
			t.Errorf("%s tier %d: redactions = %v", tt.kind, tt.tier, e.Redactions)
		}
		if !strings.Contains(orig.OTel.Text, awsKey) || !strings.Contains(orig.OTel.Attrs["note"], awsKey) {
			t.Error("ApplyOTel changed the OTel record another copy of the event shares")
		}
	}
}
