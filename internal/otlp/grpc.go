package otlp

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // Claude Code sends grpc-encoding: gzip with OTEL_EXPORTER_OTLP_COMPRESSION=gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// GRPCServer returns a gRPC server with the OTLP logs, metrics and traces services.
// Its message bound (after decompression) is the receiver's MaxBodyBytes.
func (r *Receiver) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(int(r.opts.MaxBodyBytes))}, opts...)
	s := grpc.NewServer(opts...)
	plogotlp.RegisterGRPCServer(s, &logsService{r: r})
	pmetricotlp.RegisterGRPCServer(s, &metricsService{r: r})
	ptraceotlp.RegisterGRPCServer(s, &tracesService{r: r})
	return s
}

// Handler serves gRPC and OTLP/HTTP on one listener: requests with a gRPC content
// type go to g (HTTP/2, cleartext h2c with prior knowledge, as Claude Code's exporter
// speaks it), everything else to the HTTP endpoints. The http.Server serving it must
// allow unencrypted HTTP/2 (Protocols.SetUnencryptedHTTP2).
func (r *Receiver) Handler(g *grpc.Server) http.Handler {
	h := r.HTTPHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.ProtoMajor == 2 && strings.HasPrefix(req.Header.Get("Content-Type"), "application/grpc") {
			g.ServeHTTP(w, req)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// authorization is the request's "authorization" metadata, as OTLP exporters send
// OTEL_EXPORTER_OTLP_HEADERS over gRPC.
func authorization(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// grpcError maps a refusal to its status.
func grpcError(err error) error {
	f := asFailure(err)
	return status.Error(grpcCode(f.Code), f.Message)
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s *logsService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	resp := plogotlp.NewExportResponse()
	res, err := s.r.consume(ctx, authorization(ctx), func(c Converter) Result { return c.Logs(req.Logs()) })
	if err != nil {
		return resp, grpcError(err)
	}
	if res.Rejected > 0 {
		resp.PartialSuccess().SetRejectedLogRecords(res.Rejected)
		resp.PartialSuccess().SetErrorMessage(res.Message)
	}
	return resp, nil
}

type metricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s *metricsService) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	resp := pmetricotlp.NewExportResponse()
	res, err := s.r.consume(ctx, authorization(ctx), func(c Converter) Result { return c.Metrics(req.Metrics()) })
	if err != nil {
		return resp, grpcError(err)
	}
	if res.Rejected > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(res.Rejected)
		resp.PartialSuccess().SetErrorMessage(res.Message)
	}
	return resp, nil
}

type tracesService struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

func (s *tracesService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	resp := ptraceotlp.NewExportResponse()
	res, err := s.r.consume(ctx, authorization(ctx), func(c Converter) Result { return c.Traces(req.Traces()) })
	if err != nil {
		return resp, grpcError(err)
	}
	if res.Rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(res.Rejected)
		resp.PartialSuccess().SetErrorMessage(res.Message)
	}
	return resp, nil
}
