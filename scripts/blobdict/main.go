// Command blobdict writes the dictionary SQLite compresses stored event bodies and prompt
// details with (internal/sqlstore/blob.go): an S2 dictionary whose content is the last
// 32 KiB of the recorded Claude Code sessions' events, encoded as the store encodes them.
//
//	go run ./scripts/blobdict > internal/sqlstore/blobdict/events-N.s2dict
//
// A stored blob names its dictionary by its first byte, so a new dictionary gets a new
// file and marker beside the old ones, never in their place: rows written with each stay
// readable.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/klauspost/compress/s2"

	"github.com/agent-trace/agent-trace/internal/sqlstore"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

func main() {
	size := flag.Int("size", 32<<10, "the dictionary's content in bytes")
	flag.Parse()
	var sample []byte
	for _, f := range storetest.Fixtures() {
		bodies, err := sqlstore.EncodeEvents(f.Events)
		if err != nil {
			fail(err)
		}
		for _, b := range bodies {
			sample = append(sample, b...)
		}
	}
	if len(sample) < *size {
		fail(fmt.Errorf("the fixtures hold %d bytes of events, fewer than %d", len(sample), *size))
	}
	d := s2.MakeDict(sample[len(sample)-*size:], nil)
	if d == nil {
		fail(fmt.Errorf("no dictionary made"))
	}
	if _, err := os.Stdout.Write(d.Bytes()); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "blobdict:", err)
	os.Exit(1)
}
