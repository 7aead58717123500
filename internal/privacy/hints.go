package privacy

import (
	"strings"
	"sync"
)

// ruleSet is a set of indexes into rules.
type ruleSet [4]uint64

// maxRules is how many rules a ruleSet can hold.
const maxRules = len(ruleSet{}) * 64

func (s *ruleSet) add(i int)             { s[i>>6] |= 1 << (i & 63) }
func (s *ruleSet) has(i int) bool        { return s[i>>6]&(1<<(i&63)) != 0 }
func (s *ruleSet) isEmpty() bool         { return *s == ruleSet{} }
func pairOf(a, b byte) uint16            { return uint16(a)<<8 | uint16(b) }
func (x *hintIndex) maybe(p uint16) bool { return x.pairs[p>>6]&(1<<(p&63)) != 0 }

// A hintIndex finds which rules' hints occur in a text in one pass over it. With gitleaks'
// rules there are 150-odd hints; a strings.Contains per hint read each tool output 150
// times and doubled the hook's capture time. The index keeps a bit per two-byte start of
// a hint, so most bytes cost one bit test, and compares whole hints only where one of
// those pairs occurs.
type hintIndex struct {
	pairs  [1 << 16 / 64]uint64
	byPair map[uint16][]hintRef
}

type hintRef struct {
	hint string
	rule int
}

var (
	hintsOnce sync.Once
	hints     *hintIndex
)

// ruleHints returns the index of every rule's hints, built on first use: most hook runs
// redact a few short strings, and the index costs microseconds to build.
func ruleHints() *hintIndex {
	hintsOnce.Do(func() {
		if len(rules) > maxRules {
			panic("privacy: more rules than a ruleSet holds")
		}
		x := &hintIndex{byPair: map[uint16][]hintRef{}}
		for i := range rules {
			for _, h := range rules[i].hints {
				p := pairOf(h[0], h[1])
				x.pairs[p>>6] |= 1 << (p & 63)
				x.byPair[p] = append(x.byPair[p], hintRef{h, i})
			}
		}
		hints = x
	})
	return hints
}

// hinted returns the rules with a hint in lower (a lower-cased text).
func (x *hintIndex) hinted(lower string) ruleSet {
	var set ruleSet
	for i := 0; i+1 < len(lower); i++ {
		p := pairOf(lower[i], lower[i+1])
		if !x.maybe(p) {
			continue
		}
		for _, h := range x.byPair[p] {
			if !set.has(h.rule) && strings.HasPrefix(lower[i:], h.hint) {
				set.add(h.rule)
			}
		}
	}
	return set
}
