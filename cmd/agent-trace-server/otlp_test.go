package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// recordedLogs is one logs export Claude Code sent (the otlp package's testdata).
func recordedLogs(tb testing.TB) plogotlp.ExportRequest {
	tb.Helper()
	files, _ := filepath.Glob("../../internal/otlp/testdata/grpc/commit/*_logs.pb")
	if len(files) == 0 {
		tb.Fatal("no recorded logs")
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		tb.Fatal(err)
	}
	req := plogotlp.NewExportRequest()
	if err := req.UnmarshalProto(b); err != nil {
		tb.Fatal(err)
	}
	return req
}

func otlpStatus(tb testing.TB, base, token string) (int, string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/otlp/status", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The whole server takes Claude Code's telemetry over gRPC on the OTLP port and over
// OTLP/HTTP on both ports, with the ingest token when auth is on, and says when it last
// stored some on the collector port.
func TestServeOTLP(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	token, err := run(t, "token", "create", "--db", db, "--name", "hook", "--scope", "ingest")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	srv := mustStart(t, db, func(m *Main) { m.OTLPPort = -1; m.PrivacyTier = 1 })
	col, otlpAddr := srv.URL("collector"), srv.Addr("otlp")
	if otlpAddr == "" {
		t.Fatal("no otlp listener")
	}
	if code, body := otlpStatus(t, col, token); code != http.StatusOK || !strings.Contains(body, `"last_received_at":null`) {
		t.Fatalf("status before: %d %s", code, body)
	}

	conn, err := grpc.NewClient(otlpAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := plogotlp.NewGRPCClient(conn)
	req := recordedLogs(t)
	if _, err := client.Export(context.Background(), req); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gRPC without a token: %v, want Unauthenticated", err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	if _, err := client.Export(ctx, req); err != nil {
		t.Fatalf("gRPC export: %v", err)
	}
	if code, body := otlpStatus(t, col, ""); code != http.StatusUnauthorized {
		t.Errorf("status without a token: %d %s", code, body)
	}
	code, body := otlpStatus(t, col, token)
	var st struct {
		LastReceivedAt *string `json:"last_received_at"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || st.LastReceivedAt == nil {
		t.Fatalf("status after: %d %s", code, body)
	}

	js, _ := req.MarshalJSON()
	for _, base := range []string{col, "http://" + otlpAddr} {
		for _, tok := range []string{"", token} {
			hr, _ := http.NewRequest(http.MethodPost, base+"/v1/logs", bytes.NewReader(js))
			hr.Header.Set("Content-Type", "application/json")
			if tok != "" {
				hr.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := http.StatusOK
			if tok == "" {
				want = http.StatusUnauthorized
			}
			if resp.StatusCode != want {
				t.Errorf("POST %s/v1/logs token=%v: HTTP %d, want %d", base, tok != "", resp.StatusCode, want)
			}
		}
	}
}

func TestOTLPFlagsFallBackToEnvironment(t *testing.T) {
	for _, tt := range []struct {
		port, tier   string
		wantPort     int
		wantTier     int
		args         []string
		wantArgsPort int
	}{
		{"", "", 4717, 2, nil, 4717},
		{"0", "1", 0, 1, nil, 0},
		{"5000", "3", 5000, 3, []string{"--otlp-port", "6000", "--privacy-tier", "1"}, 6000},
	} {
		t.Setenv("OTLP_PORT", tt.port)
		t.Setenv("OTEL_PRIVACY_TIER", tt.tier)
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		m := &Main{}
		addServeFlags(fs, m)
		if m.OTLPPort != tt.wantPort || m.PrivacyTier != tt.wantTier {
			t.Errorf("env %q %q: port %d tier %d, want %d %d", tt.port, tt.tier, m.OTLPPort, m.PrivacyTier, tt.wantPort, tt.wantTier)
		}
		if err := fs.Parse(tt.args); err != nil || m.OTLPPort != tt.wantArgsPort {
			t.Errorf("flags %v: port %d (%v), want %d", tt.args, m.OTLPPort, err, tt.wantArgsPort)
		}
	}
	m := &Main{DBPath: filepath.Join(t.TempDir(), "d.db"), PrivacyTier: 4}
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "privacy tier") {
		t.Errorf("Run with tier 4 = %v, want a privacy tier error", err)
	}
}
