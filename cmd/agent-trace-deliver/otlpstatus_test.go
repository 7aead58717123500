package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeOTLPStatus is a collector answering GET /v1/otlp/status with status and body,
// recording the Authorization header it got.
func fakeOTLPStatus(t *testing.T, status int, body string) (*httptest.Server, *string) {
	t.Helper()
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/otlp/status" {
			http.NotFound(w, r)
			return
		}
		auth = r.Header.Get("Authorization")
		if src := r.URL.Query().Get("source"); src != "" && src != "dev-1" {
			t.Errorf("source = %q, want this machine's device id dev-1", src)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &auth
}

func TestOTLPStatus(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		device string
		status int
		body   string
		want   string
	}{
		{"received", "", 200, `{"last_received_at": "2026-05-01T11:57:30Z"}`, "last received 2m30s ago"},
		{"received long ago", "", 200, `{"last_received_at": "2026-04-30T09:00:00.123Z"}`, "last received 27h0m0s ago"},
		{"never", "", 200, `{"last_received_at": null}`, "server has received none yet"},
		{"from this machine", "dev-1", 200, `{"last_received_at": "2026-05-01T11:59:50Z", "source_last_received_at": "2026-05-01T11:57:30Z"}`,
			"from this machine: last received 2m30s ago"},
		{"others only", "dev-1", 200, `{"last_received_at": "2026-05-01T11:59:50Z", "source_last_received_at": null}`,
			"none from this machine yet; the server last received some 10s ago"},
		{"server without sources", "dev-1", 200, `{"last_received_at": "2026-05-01T11:59:50Z"}`, "none from this machine yet"},
		{"old server", "", 404, `404 page not found`, "server too old for OTel"},
		{"token refused", "", 401, ``, "refused the token (HTTP 401)"},
		{"server error", "", 503, ``, "answered HTTP 503"},
		{"not JSON", "", 200, `<html>`, "unexpected answer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, auth := fakeOTLPStatus(t, tt.status, tt.body)
			got := otlpStatus(context.Background(), srv.URL+"/", "atk_tok", tt.device, now)
			if !strings.Contains(got, tt.want) {
				t.Errorf("otlpStatus = %q, want it to contain %q", got, tt.want)
			}
			if *auth != "Bearer atk_tok" {
				t.Errorf("Authorization = %q, want the ingest token", *auth)
			}
		})
	}
	if got := otlpStatus(context.Background(), "http://127.0.0.1:1", "", "", now); !strings.Contains(got, "unreachable") {
		t.Errorf("otlpStatus with nothing listening = %q, want unreachable", got)
	}
}

// The hidden --otlp-status flag is what agent-trace-hook runs: it sends the token
// delivery uses (config, then AGENT_TRACE_TOKEN) and prints one line.
func TestRunOTLPStatusSendsTheConfiguredToken(t *testing.T) {
	srv, auth := fakeOTLPStatus(t, 200, `{"last_received_at": null}`)
	t.Setenv("AGENT_TRACE_HOME", filepath.Join(t.TempDir(), "home with spaces"))
	t.Setenv("AGENT_TRACE_TOKEN", "env-token")
	t.Setenv("CLAUDE_CONFIG_DIR", t.TempDir()) // no device id: the test does not read the real one
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--otlp-status", srv.URL}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got, want := out.String(), "server has received none yet\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if *auth != "Bearer env-token" {
		t.Errorf("Authorization = %q, want Bearer env-token", *auth)
	}
}
