package otlp_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/agent-trace/agent-trace/internal/otlp"
	"github.com/agent-trace/agent-trace/internal/otlp/otlptest"
)

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
					body, err := otlptest.WithSession(p, fmt.Sprintf("bench-%d", i))
					if err != nil {
						b.Fatal(err)
					}
					bodies[j] = body
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
