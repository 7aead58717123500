package sqlstore

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Stored event bodies and prompt details are JSON of a few hundred bytes to some
// kilobytes, alike in their keys and much of their text. SQLite keeps them as S2 blocks
// compressed against a dictionary of recorded Claude Code events (scripts/blobdict):
// an event of ~800 bytes takes ~310, a prompt's detail a fifth of its size, at about
// 2 µs to compress an event and 1 µs to read it back. zstd with a trained dictionary
// compressed events no smaller and took 15 µs each (its dictionary is set up again for
// every small frame), which ingest felt. PostgreSQL keeps plain JSON (jsonb, and TOAST
// compresses what is large).
//
// A blob's first byte names its format: JSON starts with '{', a compressed blob with
// blobS2Dict1. A new dictionary gets a new marker beside the old ones, never the place
// of one, so rows written with each stay readable.

//go:embed blobdict/events-1.s2dict
var blobDictBytes1 []byte

// blobS2Dict1 marks an S2 block made with dictionary 1; JSON never starts with it.
const blobS2Dict1 = 0x01

// minCompress is the size below which a blob is stored as it is.
const minCompress = 64

var blobDict1 = sync.OnceValue(func() *s2.Dict {
	d := s2.NewDict(blobDictBytes1)
	if d == nil {
		panic("sqlstore: the embedded blob dictionary does not load") // a build bug
	}
	return d
})

// CompressBlob returns b as a marked S2 block, or b itself when it is small or would not
// shrink.
func CompressBlob(b []byte) []byte {
	if len(b) < minCompress {
		return b
	}
	out := make([]byte, 1+s2.MaxEncodedLen(len(b)))
	out[0] = blobS2Dict1
	n := len(blobDict1().Encode(out[1:], b))
	if 1+n >= len(b) {
		return b
	}
	return out[:1+n]
}

// DecompressBlob returns the JSON b holds: b decompressed when it is a compressed blob,
// else b as it is.
func DecompressBlob(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != blobS2Dict1 {
		return b, nil
	}
	out, err := blobDict1().Decode(nil, b[1:])
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return out, nil
}
