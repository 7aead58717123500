package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag holding a number of bytes, written as 150MiB, 1GiB, 512MB or plain
// bytes.
type byteSize struct{ n *int64 }

// newByteSize is a byteSize flag on n, set from def when def is not empty. An invalid
// default (from the environment) sets n to -1, which Main.Run refuses with the
// variable's name.
func newByteSize(n *int64, def string) *byteSize {
	b := &byteSize{n}
	if def != "" {
		if err := b.Set(def); err != nil {
			*n = -1
		}
	}
	return b
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<62 {
		return fmt.Errorf("%q is not a size such as 150MiB or 2GiB", s)
	}
	*b.n = int64(v * float64(mult))
	return nil
}

func (b *byteSize) String() string {
	if b.n == nil || *b.n <= 0 {
		return ""
	}
	return fmt.Sprintf("%dMiB", *b.n>>20)
}

func (b *byteSize) Type() string { return "size" }
