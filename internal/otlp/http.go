package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// OTLP/HTTP paths (the SDK appends them to OTEL_EXPORTER_OTLP_ENDPOINT) and the status
// path agent-trace-hook's deliverer asks.
const (
	PathLogs    = "/v1/logs"
	PathMetrics = "/v1/metrics"
	PathTraces  = "/v1/traces"
	PathStatus  = "/v1/otlp/status"
)

const (
	ctProtobuf = "application/x-protobuf"
	ctJSON     = "application/json"
)

// Register adds the OTLP/HTTP endpoints and GET /v1/otlp/status to mux.
func (r *Receiver) Register(mux *http.ServeMux) {
	mux.Handle("POST "+PathLogs, r.signal(decodeLogs))
	mux.Handle("POST "+PathMetrics, r.signal(decodeMetrics))
	mux.Handle("POST "+PathTraces, r.signal(decodeTraces))
	mux.HandleFunc("GET "+PathStatus, r.status)
}

// HTTPHandler serves the OTLP/HTTP endpoints and the status alone.
func (r *Receiver) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	r.Register(mux)
	return mux
}

// A decoder parses one signal's request body and returns the function that converts it
// and the function that encodes the answer (partial success) in the request's format.
type decoder func(body []byte, isJSON bool) (convert func(Converter) Result, answer func(Result) ([]byte, error), err error)

func decodeLogs(body []byte, isJSON bool) (func(Converter) Result, func(Result) ([]byte, error), error) {
	req := plogotlp.NewExportRequest()
	if err := unmarshal(body, isJSON, req.UnmarshalJSON, req.UnmarshalProto); err != nil {
		return nil, nil, err
	}
	return func(c Converter) Result { return c.Logs(req.Logs()) },
		func(res Result) ([]byte, error) {
			resp := plogotlp.NewExportResponse()
			if res.Rejected > 0 {
				resp.PartialSuccess().SetRejectedLogRecords(res.Rejected)
				resp.PartialSuccess().SetErrorMessage(res.Message)
			}
			return marshal(isJSON, resp.MarshalJSON, resp.MarshalProto)
		}, nil
}

func decodeMetrics(body []byte, isJSON bool) (func(Converter) Result, func(Result) ([]byte, error), error) {
	req := pmetricotlp.NewExportRequest()
	if err := unmarshal(body, isJSON, req.UnmarshalJSON, req.UnmarshalProto); err != nil {
		return nil, nil, err
	}
	return func(c Converter) Result { return c.Metrics(req.Metrics()) },
		func(res Result) ([]byte, error) {
			resp := pmetricotlp.NewExportResponse()
			if res.Rejected > 0 {
				resp.PartialSuccess().SetRejectedDataPoints(res.Rejected)
				resp.PartialSuccess().SetErrorMessage(res.Message)
			}
			return marshal(isJSON, resp.MarshalJSON, resp.MarshalProto)
		}, nil
}

func decodeTraces(body []byte, isJSON bool) (func(Converter) Result, func(Result) ([]byte, error), error) {
	req := ptraceotlp.NewExportRequest()
	if err := unmarshal(body, isJSON, req.UnmarshalJSON, req.UnmarshalProto); err != nil {
		return nil, nil, err
	}
	return func(c Converter) Result { return c.Traces(req.Traces()) },
		func(res Result) ([]byte, error) {
			resp := ptraceotlp.NewExportResponse()
			if res.Rejected > 0 {
				resp.PartialSuccess().SetRejectedSpans(res.Rejected)
				resp.PartialSuccess().SetErrorMessage(res.Message)
			}
			return marshal(isJSON, resp.MarshalJSON, resp.MarshalProto)
		}, nil
}

func unmarshal(body []byte, isJSON bool, fromJSON, fromProto func([]byte) error) (err error) {
	// pdata's decoders are generated code over attacker-controlled bytes: a panic in
	// them must become a 400 for this request, not take the server down.
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("undecodable payload")
		}
	}()
	if isJSON {
		return fromJSON(body)
	}
	return fromProto(body)
}

func marshal(isJSON bool, toJSON, toProto func() ([]byte, error)) ([]byte, error) {
	if isJSON {
		return toJSON()
	}
	return toProto()
}

// signal serves one OTLP/HTTP endpoint: read the bounded body, decode, consume, answer.
func (r *Receiver) signal(decode decoder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		isJSON, err := contentType(req.Header.Get("Content-Type"))
		if err == nil {
			err = auth.NotCrossSite(req.Header.Get, req.Host)
			if err != nil {
				err = fail(Forbidden, "%v", err)
			}
		}
		var body []byte
		if err == nil {
			body, err = r.readBody(w, req)
		}
		var convert func(Converter) Result
		var answer func(Result) ([]byte, error)
		if err == nil {
			convert, answer, err = decode(body, isJSON)
			if err != nil {
				err = fail(Invalid, "cannot decode the OTLP %s payload: %v", contentName(isJSON), err)
			}
		}
		var res Result
		if err == nil {
			res, err = r.consume(req.Context(), req.Header.Get("Authorization"), convert)
		}
		if err != nil {
			writeFailure(w, err, isJSON)
			return
		}
		out, err := answer(res)
		if err != nil {
			writeFailure(w, fail(Unavailable, "encode the answer: %v", err), isJSON)
			return
		}
		w.Header().Set("Content-Type", contentName(isJSON))
		_, _ = w.Write(out)
	})
}

func contentName(isJSON bool) string {
	if isJSON {
		return ctJSON
	}
	return ctProtobuf
}

// contentType accepts OTLP/HTTP's two encodings.
func contentType(v string) (isJSON bool, err error) {
	mt, _, perr := mime.ParseMediaType(v)
	switch {
	case perr != nil && v != "":
		return false, fail(Invalid, "bad Content-Type %q: %v", v, perr)
	case mt == ctJSON:
		return true, nil
	case mt == ctProtobuf:
		return false, nil
	}
	return false, fail(Invalid, "unsupported Content-Type %q: send %s or %s", v, ctProtobuf, ctJSON)
}

// readBody reads the body, gunzipping it when Content-Encoding says so, and refuses it
// (413) when it is over the bound before or after decompression.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request) ([]byte, error) {
	limit := r.opts.MaxBodyBytes
	var src io.Reader = http.MaxBytesReader(w, req.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, readFailure(err, "gzip")
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fail(Invalid, "unsupported Content-Encoding %q: send gzip or none", enc)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(src, limit+1))
	if err != nil {
		return nil, readFailure(err, "body")
	}
	if n > limit {
		return nil, fail(TooLarge, "body is over %d bytes after decompression", limit)
	}
	return buf.Bytes(), nil
}

func readFailure(err error, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fail(TooLarge, "body is over %d bytes", mbe.Limit)
	}
	return fail(Invalid, "read %s: %v", what, err)
}

// httpStatus and grpcCode are where each refusal is mapped, once.
func httpStatus(c Code) int {
	switch c {
	case Invalid:
		return http.StatusBadRequest
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Unauthenticated:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	}
	return http.StatusServiceUnavailable
}

func grpcCode(c Code) codes.Code {
	switch c {
	case Invalid:
		return codes.InvalidArgument
	case TooLarge:
		return codes.ResourceExhausted
	case Unauthenticated:
		return codes.Unauthenticated
	case Forbidden:
		return codes.PermissionDenied
	}
	return codes.Unavailable
}

// writeFailure answers with the status OTLP/HTTP asks for and a google.rpc.Status body
// in the request's encoding, so an SDK can log the message.
func writeFailure(w http.ResponseWriter, err error, isJSON bool) {
	f := asFailure(err)
	status := httpStatus(f.Code)
	switch status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="agent-trace"`)
	}
	st := &spb.Status{Code: int32(grpcCode(f.Code)), Message: f.Message}
	var body []byte
	if isJSON {
		body, _ = protojson.Marshal(st)
	} else {
		body, _ = proto.Marshal(st)
	}
	w.Header().Set("Content-Type", contentName(isJSON))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func asFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return fail(Unavailable, "%v", err)
}

// status answers GET /v1/otlp/status: when the server last stored telemetry from any
// installation and, with ?source=<Claude Code's user.id>, from that one. With a store of
// sources the answer holds for every replica and across restarts (to within
// sourceEvery). Any token that may ingest or read may ask (the deliverer asks with its
// ingest token).
func (r *Receiver) status(w http.ResponseWriter, req *http.Request) {
	authz := req.Header.Get("Authorization")
	_, err := r.authorize(req.Context(), authz, agenttrace.ScopeIngest)
	if f := asFailure(err); err != nil && f.Code == Forbidden {
		_, err = r.authorize(req.Context(), authz, agenttrace.ScopeRead)
	}
	if err != nil {
		writeFailure(w, err, true)
		return
	}
	latest, err := r.seen(req.Context(), "")
	if err != nil {
		writeFailure(w, err, true)
		return
	}
	body := map[string]*time.Time{"last_received_at": latest}
	if src := req.URL.Query().Get("source"); src != "" {
		if body["source_last_received_at"], err = r.seen(req.Context(), src); err != nil {
			writeFailure(w, err, true)
			return
		}
	}
	w.Header().Set("Content-Type", ctJSON)
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body)
}

// seen is when telemetry from source ("" for any) last arrived, nil for never: the later
// of what the store of sources and this receiver know.
func (r *Receiver) seen(ctx context.Context, source string) (*time.Time, error) {
	var t time.Time
	if source == "" {
		t = r.LastReceived()
	}
	if r.opts.Sources != nil {
		stored, err := r.opts.Sources.TelemetrySeen(ctx, source)
		if err != nil {
			r.log.Error("otlp: read telemetry sources", "err", err)
			return nil, fail(Unavailable, "storage is unavailable; retry later")
		}
		if stored.After(t) {
			t = stored
		}
	}
	if t.IsZero() {
		return nil, nil
	}
	return &t, nil
}
