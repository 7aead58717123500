package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/clickhouse"
	"github.com/agent-trace/agent-trace/internal/otlp"
	"github.com/agent-trace/agent-trace/internal/otlp/otlptest"
)

// BenchmarkOTLPIngestTeam is otlp's BenchmarkOTLPIngest on the team store: the recorded
// commit session (94 records) sent as a new session per round over gRPC and OTLP/HTTP
// protobuf to a receiver on one h2c listener over PostgreSQL + ClickHouse. A request is
// acknowledged once PostgreSQL committed it; ClickHouse is fed from there in the
// background, and flushed before the clock stops.
func BenchmarkOTLPIngestTeam(b *testing.B) {
	payloads, err := otlptest.Load("grpc", "commit")
	if err != nil {
		b.Fatal(err)
	}
	for _, transport := range []string{"grpc", "http"} {
		b.Run(transport+"/postgres+clickhouse", func(b *testing.B) {
			s := openTestTeam(b, clickhouse.Options{})
			var stored atomic.Int64
			r := otlp.New(otlp.Options{Store: s, Notify: func(res agenttrace.IngestResult, _ []event.Event) {
				stored.Add(int64(res.Stored))
			}})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: r.Handler(r.GRPCServer()), Protocols: new(http.Protocols)}
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetUnencryptedHTTP2(true)
			go srv.Serve(ln)
			defer srv.Close()
			conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			i := 0
			for b.Loop() {
				b.StopTimer()
				bodies := make([][]byte, len(payloads))
				for j, p := range payloads {
					if bodies[j], err = otlptest.WithSession(p, fmt.Sprintf("bench-%d", i)); err != nil {
						b.Fatal(err)
					}
				}
				i++
				b.StartTimer()
				for j, p := range payloads {
					if transport == "grpc" {
						_, err = otlptest.ExportGRPC(context.Background(), conn, p.Signal, bodies[j])
					} else {
						err = postOne("http://"+ln.Addr().String(), p.Signal, bodies[j])
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := s.ShipAll(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(stored.Load())/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func postOne(base, signal string, pb []byte) error {
	resp, err := http.Post(base+"/v1/"+signal, "application/x-protobuf", bytes.NewReader(pb))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/%s: HTTP %d", signal, resp.StatusCode)
	}
	return nil
}
