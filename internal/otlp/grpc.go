package otlp

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // Claude Code sends grpc-encoding: gzip with OTEL_EXPORTER_OTLP_COMPRESSION=gzip
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// GRPCServer returns a gRPC server with the OTLP logs, metrics and traces services.
// Its message bound (after decompression) is the receiver's MaxBodyBytes.
//
// The services take the request as bytes and decode it with pdata themselves (rawCodec),
// so a payload that is not OTLP gets InvalidArgument, a permanent error the exporter
// drops; grpc's own decoding would answer Internal.
func (r *Receiver) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(int(r.opts.MaxBodyBytes)), grpc.ForceServerCodec(rawCodec{})}, opts...)
	s := grpc.NewServer(opts...)
	s.RegisterService(r.service("opentelemetry.proto.collector.logs.v1.LogsService", decodeLogs), r)
	s.RegisterService(r.service("opentelemetry.proto.collector.metrics.v1.MetricsService", decodeMetrics), r)
	s.RegisterService(r.service("opentelemetry.proto.collector.trace.v1.TraceService", decodeTraces), r)
	return s
}

// service is one OTLP service: its Export decodes, consumes and answers like the
// OTLP/HTTP endpoint of the same signal.
func (r *Receiver) service(name string, decode decoder) *grpc.ServiceDesc {
	export := func(ctx context.Context, req any) (any, error) {
		convert, answer, err := decode(*req.(*[]byte), false)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, "cannot decode the OTLP protobuf payload: "+err.Error())
		}
		res, err := r.consume(ctx, authorization(ctx), convert)
		if err != nil {
			return nil, grpcError(err)
		}
		out, err := answer(res)
		if err != nil {
			return nil, status.Error(codes.Internal, "encode the answer: "+err.Error())
		}
		return &out, nil
	}
	return &grpc.ServiceDesc{
		ServiceName: name,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Export",
			Handler: func(_ any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
				var body []byte
				if err := dec(&body); err != nil {
					return nil, err
				}
				if icpt == nil {
					return export(ctx, &body)
				}
				return icpt(ctx, &body, &grpc.UnaryServerInfo{Server: r, FullMethod: "/" + name + "/Export"}, export)
			},
		}},
	}
}

// rawCodec hands request bodies to the services as bytes and sends their answers as
// they encoded them.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	// grpc reuses data's buffer once Unmarshal returns.
	*b = slices.Clone(data)
	return nil
}

// Name is "proto": the codec answers the default content subtype, application/grpc.
func (rawCodec) Name() string { return "proto" }

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
