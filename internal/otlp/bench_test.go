package otlp_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/agent-trace/agent-trace/internal/otlp"
)

// withSession returns p's protobuf body with every session.id set to id, so each
// benchmark iteration stores new events instead of duplicates.
func withSession(tb testing.TB, p payload, id string) []byte {
	tb.Helper()
	pb := reencode(tb, p, false)
	set := func(m pcommon.Map) {
		if _, ok := m.Get("session.id"); ok {
			m.PutStr("session.id", id)
		}
	}
	var out []byte
	var err error
	switch p.Signal {
	case "logs":
		req := plogotlp.NewExportRequest()
		_ = req.UnmarshalProto(pb)
		for _, rl := range req.Logs().ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					set(lr.Attributes())
				}
			}
		}
		out, err = req.MarshalProto()
	case "metrics":
		req := pmetricotlp.NewExportRequest()
		_ = req.UnmarshalProto(pb)
		for _, rm := range req.Metrics().ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					for _, dp := range m.Sum().DataPoints().All() {
						set(dp.Attributes())
					}
				}
			}
		}
		out, err = req.MarshalProto()
	default:
		req := ptraceotlp.NewExportRequest()
		_ = req.UnmarshalProto(pb)
		for _, rs := range req.Traces().ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					set(sp.Attributes())
				}
			}
		}
		out, err = req.MarshalProto()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkOTLPIngest sends the recorded commit session (52 log records, 24 metric
// points, 18 spans) as a new session per iteration over gRPC and OTLP/HTTP protobuf to
// a receiver over a real SQLite store, and reports stored events per second.
func BenchmarkOTLPIngest(b *testing.B) {
	payloads := loadPayloads(b, "grpc", "commit")
	for _, transport := range []string{"grpc", "http"} {
		b.Run(transport+"/sqlite", func(b *testing.B) {
			var c counter
			s := mustServer(b, otlp.Options{Notify: c.notify})
			conn := mustGRPC(b, s.Addr)
			i := 0
			for b.Loop() {
				b.StopTimer()
				bodies := make([][]byte, len(payloads))
				for j, p := range payloads {
					bodies[j] = withSession(b, p, fmt.Sprintf("bench-%d", i))
				}
				i++
				b.StartTimer()
				for j, p := range payloads {
					if transport == "grpc" {
						if _, err := exportGRPC(context.Background(), conn, p.Signal, bodies[j], false, ""); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if resp, out := postHTTP(b, s.URL, p.Signal, bodies[j], "application/x-protobuf", "", ""); resp.StatusCode != http.StatusOK {
						b.Fatalf("HTTP %d %s", resp.StatusCode, out)
					}
				}
			}
			stored, _ := c.reset()
			b.ReportMetric(float64(stored)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(stored)/float64(b.N), "events/op")
		})
	}
}
