package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// otlpStatusPath is where the collector says when its OTLP receiver last stored
// something: {"last_received_at": "<RFC3339>"} or {"last_received_at": null}, and
// with ?source=<device id> also "source_last_received_at" for that installation.
const otlpStatusPath = "/v1/otlp/status"

// otlpStatus asks the collector at base when it last received Claude Code's telemetry,
// with the ingest token the deliverer sends, and says what it found in a few words for
// `agent-trace-hook status` and `init --otel`. The hook links no HTTP client, so it
// runs this binary to ask. device is this machine's Claude Code device id (its OTel
// user.id), "" when unknown: then only the server's last arrival from anyone is told.
func otlpStatus(ctx context.Context, base, token, device string, now time.Time) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	u := strings.TrimRight(base, "/") + otlpStatusPath
	if device != "" {
		u += "?source=" + url.QueryEscape(device)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
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
		SourceAt       *time.Time `json:"source_last_received_at"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return "not checked: unexpected answer from " + otlpStatusPath + ": " + oneLine(err.Error())
	}
	return statusWords(body.LastReceivedAt, body.SourceAt, device != "", now)
}

// statusWords says when the server last received telemetry: from this machine when it
// knows (a server older than per-source status never says), else from anyone.
func statusWords(anyAt, mineAt *time.Time, asked bool, now time.Time) string {
	when := func(t time.Time) string {
		return fmt.Sprintf("%s ago (%s)", ago(now, t), t.Local().Format(time.DateTime))
	}
	switch {
	case anyAt == nil:
		return "server has received none yet"
	case mineAt != nil:
		return "from this machine: last received " + when(*mineAt)
	case asked:
		return "none from this machine yet; the server last received some " + when(*anyAt)
	}
	return "last received " + when(*anyAt)
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
