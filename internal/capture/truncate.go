package capture

import (
	"fmt"
	"unicode/utf8"
)

// MaxReadBytes is the most a hook reads from stdin. A payload between MaxPayloadBytes and
// this is kept with its largest strings cut (see fit), so a Write of a 9 MB file still
// leaves its tool call, path, status and line counts behind; only past this is a payload
// refused whole, to bound the hook's memory.
const MaxReadBytes = 64 << 20

// truncatedMarker ends a string fit cut: what was kept, then how long it was.
const truncatedMarker = "\n[agent-trace: truncated; the original was %d bytes]"

// fitCaps are the lengths fit cuts strings to, loosest first: it stops at the first that
// brings the payload under the limit, so as much as possible of each field survives.
var fitCaps = []int{1 << 20, 256 << 10, 64 << 10, 8 << 10, 1 << 10, 256}

// fit cuts the payload's longest strings, field by field, until its encoding is at most
// limit bytes (size says how large an encoding is). Each cut string keeps its start and
// says its original size. It reports whether anything was cut; a payload whose strings
// are all short already is returned as it is.
func fit(v map[string]any, limit int, size func(map[string]any) int) (map[string]any, bool) {
	if size(v) <= limit {
		return v, false
	}
	for _, c := range fitCaps {
		cut := capStrings(v, c).(map[string]any)
		if size(cut) <= limit {
			return cut, true
		}
	}
	return capStrings(v, fitCaps[len(fitCaps)-1]).(map[string]any), true
}

// capStrings returns v with every string longer than max bytes cut to max (at a rune
// boundary) plus the marker. Maps and slices are copied where they change.
func capStrings(v any, max int) any {
	switch x := v.(type) {
	case string:
		if len(x) <= max {
			return x
		}
		keep := x[:max]
		// Back off a rune cut in half (at most UTFMax-1 bytes).
		for i := 1; i < utf8.UTFMax && len(keep) > 0; i++ {
			if r, n := utf8.DecodeLastRuneInString(keep); r != utf8.RuneError || n != 1 {
				break
			}
			keep = keep[:len(keep)-1]
		}
		return keep + fmt.Sprintf(truncatedMarker, len(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = capStrings(e, max)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = capStrings(e, max)
		}
		return out
	}
	return v
}
