package sqlstore

import (
	"bytes"
	"testing"

	"github.com/agent-trace/agent-trace/internal/storetest"
)

func TestBlobRoundTrip(t *testing.T) {
	evs := storetest.Flatten(storetest.Generate(8, 5, 60))
	bodies, err := EncodeEvents(evs)
	if err != nil {
		t.Fatal(err)
	}
	bodies = append(bodies, []byte(`{}`), []byte(`{"short":"below the minimum"}`), nil)
	var raw, stored int
	for _, b := range bodies {
		z := CompressBlob(b)
		got, err := DecompressBlob(z)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %q: %q, %v", b, got, err)
		}
		if len(b) < minCompress && !bytes.Equal(z, b) {
			t.Errorf("%d bytes compressed; want them stored as they are", len(b))
		}
		raw, stored = raw+len(b), stored+len(z)
	}
	// Held-out events (generated, not the recorded ones the dictionary holds) must
	// still shrink by half at least.
	if stored*2 > raw {
		t.Errorf("%d bytes stored for %d: want half or less", stored, raw)
	}
	t.Logf("%d events: %d bytes of JSON, %d stored (%.0f %%)", len(evs), raw, stored, 100*float64(stored)/float64(raw))
}

func TestDecompressBlobRefusesACorruptFrame(t *testing.T) {
	b := CompressBlob(bytes.Repeat([]byte(`{"kind":"PreToolUse","tool":"Bash"}`), 10))
	if b[0] != blobS2Dict1 {
		t.Fatal("not compressed")
	}
	b[len(b)/2] ^= 0xff
	b = b[:len(b)-3]
	if _, err := DecompressBlob(b); err == nil {
		t.Error("a corrupt frame decoded without an error")
	}
}
