package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/agent-trace/agent-trace/event"
)

// envelope is the original agent-trace's EventEnvelope (its schema 1.0), which its
// collector takes one per POST /v1/hooks: what its hook builds from a hook's payload.
type envelope struct {
	SchemaVersion  string          `json:"schemaVersion"`
	Source         string          `json:"source"`
	EventID        string          `json:"eventId"`
	SessionID      string          `json:"sessionId"`
	PromptID       string          `json:"promptId,omitempty"`
	EventType      string          `json:"eventType"`
	EventTimestamp string          `json:"eventTimestamp"`
	IngestedAt     string          `json:"ingestedAt"`
	PrivacyTier    int             `json:"privacyTier"`
	Payload        json.RawMessage `json:"payload"`
}

func toEnvelope(e event.Event) envelope {
	typ, source := e.HookEvent, "hook"
	if typ == "" { // a transcript's usage reading, which the original reads from transcripts
		typ, source = "api_"+e.Kind, "transcript"
	}
	payload := e.Payload
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	tier := e.Tier
	if tier < 1 || tier > 3 {
		tier = 2
	}
	return envelope{SchemaVersion: "1.0", Source: source, EventID: e.ID, SessionID: e.SessionID, PromptID: e.PromptID,
		EventType: typ, EventTimestamp: e.Time.UTC().Format(time.RFC3339Nano), IngestedAt: time.Now().UTC().Format(time.RFC3339Nano),
		PrivacyTier: tier, Payload: payload}
}

// driveOriginal sends the one-event measurement's events to the original's collector,
// one envelope per request from 4 clients, as its hooks send them.
func driveOriginal(ctx context.Context, o options) ([]IngestRow, error) {
	url := strings.TrimSuffix(strings.TrimSuffix(o.Original, "/"), "/v1/hooks") + "/v1/hooks"
	fmt.Fprintf(os.Stderr, "original at %s, one event per request …\n", url)
	send := func(ctx context.Context, b []event.Event) error {
		for _, e := range b {
			body, err := json.Marshal(toEnvelope(e))
			if err != nil {
				return err
			}
			if err := postBody(ctx, url, body); err != nil {
				return err
			}
		}
		return nil
	}
	row, err := ingest(ctx, "one event per request", phaseSessions(o.Phase, 4, 9_000_000), 1, 0, send)
	if err != nil {
		return nil, err
	}
	return []IngestRow{row}, nil
}
