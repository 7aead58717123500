package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// otlpStatusPath is where the collector says when its OTLP receiver last stored
// something: {"last_received_at": "<RFC3339>"} or {"last_received_at": null}.
const otlpStatusPath = "/v1/otlp/status"

// otlpStatus asks the collector at base when it last received Claude Code's telemetry,
// with the ingest token the deliverer sends, and says what it found in a few words for
// `agent-trace-hook status` and `init --otel`. The hook links no HTTP client, so it
// runs this binary to ask.
func otlpStatus(ctx context.Context, base, token string, now time.Time) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+otlpStatusPath, nil)
	if err != nil {
		return "not checked: bad URL: " + oneLine(err.Error())
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "not checked: collector unreachable: " + oneLine(err.Error())
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "server too old for OTel (no " + otlpStatusPath + "); upgrade agent-trace-server to receive Claude Code's telemetry"
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Sprintf("not checked: the collector refused the token (HTTP %d)", resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return fmt.Sprintf("not checked: %s answered HTTP %d", otlpStatusPath, resp.StatusCode)
	}
	var body struct {
		LastReceivedAt *time.Time `json:"last_received_at"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return "not checked: unexpected answer from " + otlpStatusPath + ": " + oneLine(err.Error())
	}
	if body.LastReceivedAt == nil {
		return "server has received none yet"
	}
	t := *body.LastReceivedAt
	return fmt.Sprintf("last received %s ago (%s)", ago(now, t), t.Local().Format(time.DateTime))
}

// ago is a rounded duration for people: seconds under an hour, minutes above.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0 // a server clock a little ahead is "just now"
	}
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
