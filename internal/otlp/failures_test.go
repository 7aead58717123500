package otlp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
	"github.com/agent-trace/agent-trace/internal/otlp"
)

// firstLogs is the commit session's first logs payload as protobuf.
func firstLogs(tb testing.TB) []byte {
	tb.Helper()
	for _, p := range loadPayloads(tb, "http_json", "commit") {
		if p.Signal == "logs" {
			return reencode(tb, p, false)
		}
	}
	tb.Fatal("no logs payload")
	return nil
}

const secret = "at_test-secret"

// tokenAuth accepts secret alone, as internal/auth would with auth on.
func tokenAuth(_ context.Context, authorization, _ string) (*agenttrace.Token, error) {
	if authorization != "Bearer "+secret {
		return nil, fmt.Errorf("check token: %w", auth.ErrUnauthenticated)
	}
	return &agenttrace.Token{Scope: agenttrace.ScopeIngest, User: "ada"}, nil
}

func TestAuthRefused(t *testing.T) {
	s := mustServer(t, otlp.Options{Authorize: tokenAuth})
	body := firstLogs(t)
	for _, token := range []string{"", "wrong"} {
		resp, out := postHTTP(t, s.URL, "logs", body, "application/x-protobuf", "", token)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token %q: HTTP %d, want 401 (%s)", token, resp.StatusCode, out)
		}
		_, err := exportGRPC(context.Background(), mustGRPC(t, s.Addr), "logs", body, false, token)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("token %q: gRPC %v, want Unauthenticated", token, err)
		}
	}
	if got := s.kinds(t); len(got) != 0 {
		t.Fatalf("refused requests stored %v", got)
	}
	if resp, out := postHTTP(t, s.URL, "logs", body, "application/x-protobuf", "", secret); resp.StatusCode != http.StatusOK {
		t.Fatalf("with the token: HTTP %d %s", resp.StatusCode, out)
	}
	if _, err := exportGRPC(context.Background(), mustGRPC(t, s.Addr), "logs", body, true, secret); err != nil {
		t.Fatalf("gRPC with the token: %v", err)
	}
	if got := s.kinds(t); got["otel_event"] == 0 {
		t.Errorf("nothing stored with the token: %v", got)
	}
}

// failingStore is a store that is down.
type failingStore struct{}

func (failingStore) Ingest(context.Context, []event.Event) (agenttrace.IngestResult, error) {
	return agenttrace.IngestResult{}, errors.New("database is locked")
}

func TestRefusals(t *testing.T) {
	const limit = 64 << 10
	s := mustServer(t, otlp.Options{MaxBodyBytes: limit})
	down := mustServer(t, otlp.Options{Store: failingStore{}})
	body := firstLogs(t)
	bomb := gz(t, bytes.Repeat([]byte{0}, 4*limit)) // small on the wire, over the bound once unpacked
	tests := []struct {
		name           string
		srv            *server
		body           []byte
		ctype, enc     string
		want           int
		wantInResponse string
	}{
		{"content type", s, body, "text/plain", "", http.StatusBadRequest, "Content-Type"},
		{"no content type", s, body, "", "", http.StatusBadRequest, "Content-Type"},
		{"not protobuf", s, []byte("\xff\xff\xff\xff garbage"), "application/x-protobuf", "", http.StatusBadRequest, "decode"},
		{"not json", s, []byte("{not json"), "application/json", "", http.StatusBadRequest, "decode"},
		{"bad gzip", s, []byte("not gzip"), "application/x-protobuf", "gzip", http.StatusBadRequest, "gzip"},
		{"encoding", s, body, "application/x-protobuf", "br", http.StatusBadRequest, "Content-Encoding"},
		{"too large", s, bytes.Repeat([]byte{0}, 2*limit), "application/x-protobuf", "", http.StatusRequestEntityTooLarge, "over"},
		{"too large unpacked", s, bomb, "application/x-protobuf", "gzip", http.StatusRequestEntityTooLarge, "decompression"},
		{"store down", down, body, "application/x-protobuf", "", http.StatusServiceUnavailable, "retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := postHTTP(t, tt.srv.URL, "logs", tt.body, tt.ctype, tt.enc, "")
			if resp.StatusCode != tt.want || !bytes.Contains(out, []byte(tt.wantInResponse)) {
				t.Errorf("HTTP %d %q, want %d mentioning %q", resp.StatusCode, out, tt.want, tt.wantInResponse)
			}
			if tt.want == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
	_, err := exportGRPC(context.Background(), mustGRPC(t, down.Addr), "logs", body, false, "")
	if status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC with the store down: %v, want Unavailable", err)
	}
	var out []byte
	garbage := []byte("\xff\xff\xff\xff garbage")
	err = mustGRPC(t, s.Addr).Invoke(context.Background(), "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
		&garbage, &out, grpc.ForceCodec(bytesCodec{}))
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("gRPC with an undecodable payload: %v, want InvalidArgument", err)
	}
	big := plog.NewLogs()
	big.ResourceLogs().AppendEmpty().Resource().Attributes().PutStr("x", strings.Repeat("x", 2*limit))
	pb, _ := plogotlp.NewExportRequestFromLogs(big).MarshalProto()
	for _, gzipped := range []bool{false, true} {
		_, err = exportGRPC(context.Background(), mustGRPC(t, s.Addr), "logs", pb, gzipped, "")
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("gRPC over the bound (gzip %v): %v, want ResourceExhausted", gzipped, err)
		}
	}
	if got := s.kinds(t); len(got) != 0 {
		t.Errorf("refused requests stored %v", got)
	}
}

// Records the receiver cannot use (no session.id) are reported as a partial success;
// the rest are stored.
func TestPartialSuccess(t *testing.T) {
	s := mustServer(t, otlp.Options{})
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i, sess := range []string{"s1", ""} {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(time.Duration(i) * time.Second)))
		lr.Body().SetStr("claude_code.hook_registered")
		lr.Attributes().PutStr("event.name", "hook_registered")
		if sess != "" {
			lr.Attributes().PutStr("session.id", sess)
		}
	}
	pb, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	n, err := exportGRPC(context.Background(), mustGRPC(t, s.Addr), "logs", pb, false, "")
	if err != nil || n != 1 {
		t.Errorf("gRPC: rejected %d, %v; want 1", n, err)
	}
	resp, out := postHTTP(t, s.URL, "logs", pb, "application/x-protobuf", "", "")
	if got := partialRejected(t, "logs", out, false); resp.StatusCode != http.StatusOK || got != 1 {
		t.Errorf("HTTP %d, rejected %d; want 200 and 1", resp.StatusCode, got)
	}
	if got := s.kinds(t); got["otel_event"] != 1 {
		t.Errorf("stored %v, want the one record with a session", got)
	}
}

const marker = "MARKER-7f3e9c"

// markedRequests are a log and a span that carry the marker in every text field a tier
// decides about.
func markedRequests(tb testing.TB) (logs, traces []byte) {
	tb.Helper()
	now := time.Now()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("team", "a "+marker+" team")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	add := func(name string, attrs map[string]string) {
		lr := lrs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now))
		lr.Body().SetStr("claude_code." + name)
		lr.Attributes().PutStr("event.name", name)
		lr.Attributes().PutStr("session.id", "sess-marker")
		for k, v := range attrs {
			lr.Attributes().PutStr(k, v)
		}
	}
	add("user_prompt", map[string]string{"prompt.id": "p1", "prompt": "say " + marker, "prompt_length": "12"})
	add("assistant_response", map[string]string{"response": "answer " + marker})
	add("tool_result", map[string]string{"tool_use_id": "t1", "tool_name": "Bash", "success": "false",
		"error": "exit 1: " + marker, "tool_parameters": `{"full_command":"echo ` + marker + `"}`,
		"tool_input": `{"command":"echo ` + marker + `"}`})
	add("api_error", map[string]string{"error": "boom " + marker, "status_code": "529"})
	add("hook_execution_complete", map[string]string{"hook_name": "PreToolUse:" + marker + " /x y"})
	logs, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("claude_code.tool")
	sp.SetTraceID(pcommon.TraceID{1, 2, 3})
	sp.SetSpanID(pcommon.SpanID{4, 5, 6})
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("failed: " + marker)
	sp.Attributes().PutStr("session.id", "sess-marker")
	sp.Attributes().PutStr("full_command", "echo "+marker)
	sp.Attributes().PutStr("file_path", "/home/"+marker+"/x.go")
	traces, err = ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	return logs, traces
}

// Nothing above the tier reaches the disk: at tier 1 no byte of the database or its
// write-ahead log holds the marker; at tier 3 (the control) it is there.
func TestTier1MarkerNeverOnDisk(t *testing.T) {
	logs, traces := markedRequests(t)
	for _, tier := range []int{event.TierMetadata, event.TierFull} {
		s := mustServer(t, otlp.Options{Tier: tier})
		for sig, body := range map[string][]byte{"logs": logs, "traces": traces} {
			if resp, out := postHTTP(t, s.URL, sig, body, "application/x-protobuf", "", ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("tier %d %s: HTTP %d %s", tier, sig, resp.StatusCode, out)
			}
		}
		if got := s.kinds(t); got["span"] != 1 || got["tool_result"] != 1 {
			t.Fatalf("tier %d stored %v", tier, got)
		}
		found := false
		files, _ := filepath.Glob(s.DBPath + "*")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if i := bytes.Index(b, []byte(marker)); i >= 0 {
				found = true
				if tier == event.TierMetadata {
					t.Errorf("%s holds the marker at tier 1: …%q…", filepath.Base(f), b[max(0, i-80):min(len(b), i+40)])
				}
			}
		}
		if tier == event.TierFull && !found {
			t.Errorf("tier 3 control: marker not found in %v", files)
		}
	}
}

func TestStatus(t *testing.T) {
	s := mustServer(t, otlp.Options{Authorize: tokenAuth})
	get := func(token string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+otlp.PathStatus, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("without a token: HTTP %d, want 401", code)
	}
	code, body := get(secret)
	if v, ok := body["last_received_at"]; code != http.StatusOK || !ok || v != nil {
		t.Errorf("before any: HTTP %d %v, want last_received_at null", code, body)
	}
	before := time.Now().Add(-time.Second)
	postHTTP(t, s.URL, "logs", firstLogs(t), "application/x-protobuf", "", secret)
	_, body = get(secret)
	ts, _ := body["last_received_at"].(string)
	got, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || got.Before(before) || !strings.HasSuffix(ts, "Z") {
		t.Errorf("after storing: last_received_at %q (%v)", ts, err)
	}
}

// recordedDevice is the OTel user.id (Claude Code's device id) of the recorded sessions.
const recordedDevice = "c4c06cb2185e4983e8daa5b268460d2af1695e06bb02f7fb824ea72a8b57bc18"

// TestStatusPerSourceAcrossReplicas: what one receiver stored, another receiver on the
// same store (a second replica, or this one restarted) reports, for the installation
// that sent it and for no other.
func TestStatusPerSourceAcrossReplicas(t *testing.T) {
	a := mustServer(t, otlp.Options{})
	b := otlp.New(otlp.Options{Store: a.Store, Sources: a.Store})
	replica := httptest.NewServer(b.Handler(b.GRPCServer()))
	defer replica.Close()
	status := func(source string) map[string]*time.Time {
		resp, err := http.Get(replica.URL + otlp.PathStatus + "?source=" + source)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]*time.Time
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("status: HTTP %d, %v", resp.StatusCode, err)
		}
		return body
	}
	if got := status(recordedDevice); got["last_received_at"] != nil || got["source_last_received_at"] != nil {
		t.Fatalf("before any: %v, want nulls", got)
	}
	before := time.Now().Add(-time.Second)
	postHTTP(t, a.URL, "logs", firstLogs(t), "application/x-protobuf", "", "")
	got := status(recordedDevice)
	for _, k := range []string{"last_received_at", "source_last_received_at"} {
		if got[k] == nil || got[k].Before(before) {
			t.Errorf("the other replica's %s = %v, want a time after %v", k, got[k], before)
		}
	}
	if other := status("another-device"); other["source_last_received_at"] != nil || other["last_received_at"] == nil {
		t.Errorf("another installation: %v, want no source time and the server's last time", other)
	}
}

// bytesCodec lets a test send bytes that are not a protobuf message over gRPC.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) ([]byte, error)   { return *v.(*[]byte), nil }
func (bytesCodec) Unmarshal(b []byte, v any) error { *v.(*[]byte) = b; return nil }
func (bytesCodec) Name() string                    { return "proto" }
