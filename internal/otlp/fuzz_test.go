package otlp_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/otlp"
)

// validatingStore stands in for the store in the fuzz target (a real one would make each
// run milliseconds long): it fails the run when the receiver hands it an event the store
// would refuse.
type validatingStore struct{ tb testing.TB }

func (s validatingStore) Ingest(_ context.Context, evs []event.Event) (agenttrace.IngestResult, error) {
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			s.tb.Fatalf("receiver passed an invalid event: %v (%+v)", err, evs[i])
		}
	}
	return agenttrace.IngestResult{Stored: len(evs)}, nil
}

var fuzzSignals = []string{"logs", "metrics", "traces"}

// FuzzOTLPHTTP posts arbitrary bodies to the OTLP/HTTP endpoints, as protobuf or JSON,
// gzipped or not: the answer is 200, 400 or 413, never a 5xx or a panic, and every event
// the receiver hands the store is valid. Seeded with the recorded sessions.
func FuzzOTLPHTTP(f *testing.F) {
	for _, p := range loadPayloads(f, "http_json", "commit")[:6] {
		sig := byte(0)
		for i, s := range fuzzSignals {
			if s == p.Signal {
				sig = byte(i)
			}
		}
		f.Add(sig, true, false, reencode(f, p, true))
		f.Add(sig, false, false, reencode(f, p, false))
		f.Add(sig, false, true, gz(f, reencode(f, p, false)))
	}
	f.Fuzz(func(t *testing.T, sig byte, isJSON, gzipped bool, body []byte) {
		r := otlp.New(otlp.Options{Store: validatingStore{t}, MaxBodyBytes: 1 << 20})
		h := r.HTTPHandler()
		ct, enc := "application/x-protobuf", ""
		if isJSON {
			ct = "application/json"
		}
		if gzipped {
			enc = "gzip"
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/"+fuzzSignals[int(sig)%3], bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Content-Encoding", enc)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("HTTP %d: %s", w.Code, w.Body.Bytes())
		}
	})
}
