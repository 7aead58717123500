package otlp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"

	"github.com/agent-trace/agent-trace/internal/otlp"
	"github.com/agent-trace/agent-trace/internal/otlp/otlptest"
	"github.com/agent-trace/agent-trace/internal/sqlite"
	"github.com/agent-trace/agent-trace/internal/storetest"

	_ "modernc.org/sqlite" // the test reads the store's file directly
)

// payload is one recorded export (otlptest.Payload).
type payload = otlptest.Payload

// loadPayloads reads testdata/<encoding>/<session>, in arrival order.
func loadPayloads(tb testing.TB, encoding, session string) []payload {
	tb.Helper()
	ps, err := otlptest.Load(encoding, session)
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}

// server is a receiver on a real listener (gRPC and OTLP/HTTP on one port, h2c) in
// front of a real SQLite store.
type server struct {
	URL    string // http://127.0.0.1:port
	Addr   string
	DBPath string
	Store  *sqlite.Store
	Recv   *otlp.Receiver
}

// mustServer starts a receiver with opts (Store filled in when nil) over a fresh store.
func mustServer(tb testing.TB, opts otlp.Options) *server {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "data.db")
	st, err := sqlite.Open(path, sqlite.WithPricer(storetest.TestPricer{}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if opts.Store == nil {
		opts.Store = st
	}
	if opts.Sources == nil {
		opts.Sources = st
	}
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r := otlp.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: r.Handler(r.GRPCServer())}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return &server{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), DBPath: path, Store: st, Recv: r}
}

// kinds counts the stored events per kind, read from the database file itself.
func (s *server) kinds(tb testing.TB) map[string]int {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+s.DBPath+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT kind, count(*) FROM events GROUP BY kind`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			tb.Fatal(err)
		}
		out[k] = n
	}
	return out
}

// sender delivers one payload the way one recorded encoding did.
type sender func(tb testing.TB, s *server, p payload) (rejected int64)

func gz(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// reencode decodes p and encodes it as JSON or protobuf.
func reencode(tb testing.TB, p payload, toJSON bool) []byte {
	tb.Helper()
	if p.JSON == toJSON {
		return p.Body
	}
	req, err := otlptest.Decode(p)
	if err != nil {
		tb.Fatal(err)
	}
	var out []byte
	if toJSON {
		out, err = req.MarshalJSON()
	} else {
		out, err = req.MarshalProto()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// postHTTP sends body to the signal's OTLP/HTTP path and returns the answer.
func postHTTP(tb testing.TB, base, signal string, body []byte, contentType, encoding, token string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/"+signal, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// httpSender posts payloads as OTLP/HTTP in JSON or protobuf, gzipped or not.
func httpSender(asJSON, gzipped bool) sender {
	return func(tb testing.TB, s *server, p payload) int64 {
		body := reencode(tb, p, asJSON)
		ct, enc := "application/x-protobuf", ""
		if asJSON {
			ct = "application/json"
		}
		if gzipped {
			body, enc = gz(tb, body), "gzip"
		}
		resp, out := postHTTP(tb, s.URL, p.Signal, body, ct, enc, "")
		if resp.StatusCode != http.StatusOK {
			tb.Fatalf("%s: HTTP %d: %s", p.Name, resp.StatusCode, out)
		}
		return partialRejected(tb, p.Signal, out, asJSON)
	}
}

func partialRejected(tb testing.TB, signal string, out []byte, asJSON bool) int64 {
	tb.Helper()
	var n int64
	var err error
	switch signal {
	case "logs":
		r := plogotlp.NewExportResponse()
		err = unmarshalResp(out, asJSON, r.UnmarshalJSON, r.UnmarshalProto)
		n = r.PartialSuccess().RejectedLogRecords()
	case "metrics":
		r := pmetricotlp.NewExportResponse()
		err = unmarshalResp(out, asJSON, r.UnmarshalJSON, r.UnmarshalProto)
		n = r.PartialSuccess().RejectedDataPoints()
	default:
		r := ptraceotlp.NewExportResponse()
		err = unmarshalResp(out, asJSON, r.UnmarshalJSON, r.UnmarshalProto)
		n = r.PartialSuccess().RejectedSpans()
	}
	if err != nil {
		tb.Fatalf("answer %q: %v", out, err)
	}
	return n
}

func unmarshalResp(b []byte, asJSON bool, j, p func([]byte) error) error {
	if asJSON {
		return j(b)
	}
	return p(b)
}

// grpcSender exports payloads over a real gRPC client connection, gzipped or not.
func grpcSender(gzipped bool) sender {
	return func(tb testing.TB, s *server, p payload) int64 {
		conn := mustGRPC(tb, s.Addr)
		n, err := exportGRPC(context.Background(), conn, p.Signal, reencode(tb, p, false), gzipped, "")
		if err != nil {
			tb.Fatalf("%s: %v", p.Name, err)
		}
		return n
	}
}

var conns = map[string]*grpc.ClientConn{}

func mustGRPC(tb testing.TB, addr string) *grpc.ClientConn {
	tb.Helper()
	if c := conns[addr]; c != nil {
		return c
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	conns[addr] = c
	tb.Cleanup(func() { c.Close(); delete(conns, addr) })
	return c
}

// exportGRPC sends one protobuf request body over conn and returns the rejected count.
func exportGRPC(ctx context.Context, conn *grpc.ClientConn, signal string, pb []byte, gzipped bool, token string) (int64, error) {
	var opts []grpc.CallOption
	if gzipped {
		opts = append(opts, grpc.UseCompressor(grpcgzip.Name))
	}
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return otlptest.ExportGRPC(ctx, conn, signal, pb, opts...)
}

// senders is how each recorded encoding is delivered again.
var senders = map[string]sender{
	"http_json":          httpSender(true, false),
	"http_json_optin":    httpSender(true, false),
	"http_json_gzip":     httpSender(true, true),
	"http_protobuf":      httpSender(false, false),
	"http_protobuf_gzip": httpSender(false, true),
	"grpc":               grpcSender(false),
	"grpc_gzip":          grpcSender(true),
}
