package transcript_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// FuzzTail feeds arbitrary bytes, split at an arbitrary point, to Tail: it must never
// panic or fail, every event it returns must be valid, and reading in two steps must give
// the same usage as one read.
//
//	go test ./internal/transcript -run '^$' -fuzz FuzzTail -fuzztime 30s
func FuzzTail(f *testing.F) {
	fx, _ := filepath.Glob("testdata/*/transcripts/*/*.jsonl")
	for _, p := range fx {
		b, _ := os.ReadFile(p)
		for _, line := range bytes.SplitAfter(b, []byte("\n")) {
			// Short lines only: the fuzzer mutates small inputs far faster.
			if len(line) < 4096 && (bytes.Contains(line, []byte(`"type":"assistant"`)) || bytes.Contains(line, []byte(`"cost-state"`))) {
				f.Add(line, uint16(len(line)/2))
			}
		}
	}
	f.Add([]byte(`{"type":"assistant","message":{"id":"m","usage":{}}}`+"\n"+`{"type":"assistant"`), uint16(10))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		path := filepath.Join(dir, "s.jsonl")
		os.Remove(path)
		c := int(cut) % (len(data) + 1)
		os.WriteFile(path, data[:c], 0o600)
		opts := transcript.Options{Tier: event.TierFull}
		evs1, st, err := transcript.Tail(path, transcript.State{}, opts)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.Write(data[c:])
		f.Close()
		opts.Final = true
		evs2, _, err := transcript.Tail(path, st, opts)
		if err != nil {
			t.Fatal(err)
		}
		all := append(evs1, evs2...)
		for _, e := range all {
			if err := e.Validate(); err != nil {
				t.Fatalf("invalid event %+v: %v", e, err)
			}
		}
		one, _, err := transcript.Tail(path, transcript.State{}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(usages(dedupByID(all))), len(usages(one)); got != want {
			t.Fatalf("two-step read gave %d usage events, one read %d", got, want)
		}
	})
}
