// Package otlptest gives tests and benchmarks of the OTLP receiver the recorded Claude
// Code exports (internal/otlp/testdata) and a way to send one session again as a new
// one, so a benchmark stores new events on every round instead of duplicates.
package otlptest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// Payload is one recorded export: its signal ("logs", "metrics", "traces") and body, in
// the encoding its file name says (.json raw OTLP/JSON, .pb protobuf).
type Payload struct {
	Name, Signal string
	Body         []byte
	JSON         bool
}

// Dir is internal/otlp/testdata, found from this file so any package's tests can read it.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Load reads the recording of one session in one encoding (testdata/<encoding>/<session>),
// in arrival order.
func Load(encoding, session string) ([]Payload, error) {
	dir := filepath.Join(Dir(), encoding, session)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load recording: %w", err)
	}
	var out []Payload
	for _, e := range ents {
		name := e.Name()
		ext := filepath.Ext(name)
		if ext != ".json" && ext != ".pb" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("load recording: %w", err)
		}
		_, sig, _ := strings.Cut(strings.TrimSuffix(name, ext), "_")
		out = append(out, Payload{Name: name, Signal: sig, Body: b, JSON: ext == ".json"})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load recording: no payloads in %s", dir)
	}
	return out, nil
}

// Request is the three pdata export request types' shared surface.
type Request interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// NewRequest returns an empty export request of the signal.
func NewRequest(signal string) Request {
	switch signal {
	case "logs":
		return plogotlp.NewExportRequest()
	case "metrics":
		return pmetricotlp.NewExportRequest()
	}
	return ptraceotlp.NewExportRequest()
}

// Decode parses p into an export request of its signal.
func Decode(p Payload) (Request, error) {
	req := NewRequest(p.Signal)
	var err error
	if p.JSON {
		err = req.UnmarshalJSON(p.Body)
	} else {
		err = req.UnmarshalProto(p.Body)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", p.Name, err)
	}
	return req, nil
}

// WithSession returns p as protobuf with every session.id set to id.
func WithSession(p Payload, id string) ([]byte, error) {
	req, err := Decode(p)
	if err != nil {
		return nil, err
	}
	set := func(m pcommon.Map) {
		if _, ok := m.Get("session.id"); ok {
			m.PutStr("session.id", id)
		}
	}
	switch r := req.(type) {
	case plogotlp.ExportRequest:
		for _, rl := range r.Logs().ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					set(lr.Attributes())
				}
			}
		}
	case pmetricotlp.ExportRequest:
		for _, rm := range r.Metrics().ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					for _, dp := range m.Sum().DataPoints().All() {
						set(dp.Attributes())
					}
				}
			}
		}
	case ptraceotlp.ExportRequest:
		for _, rs := range r.Traces().ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					set(sp.Attributes())
				}
			}
		}
	}
	return req.MarshalProto()
}

// ExportGRPC sends one protobuf request body of the signal over conn, as an OTLP
// exporter does, and returns the count the receiver rejected (partial success).
func ExportGRPC(ctx context.Context, conn *grpc.ClientConn, signal string, pb []byte, opts ...grpc.CallOption) (int64, error) {
	req := NewRequest(signal)
	if err := req.UnmarshalProto(pb); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	switch r := req.(type) {
	case plogotlp.ExportRequest:
		resp, err := plogotlp.NewGRPCClient(conn).Export(ctx, r, opts...)
		if err != nil {
			return 0, err
		}
		return resp.PartialSuccess().RejectedLogRecords(), nil
	case pmetricotlp.ExportRequest:
		resp, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, r, opts...)
		if err != nil {
			return 0, err
		}
		return resp.PartialSuccess().RejectedDataPoints(), nil
	}
	resp, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, req.(ptraceotlp.ExportRequest), opts...)
	if err != nil {
		return 0, err
	}
	return resp.PartialSuccess().RejectedSpans(), nil
}
