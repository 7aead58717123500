package privacy

import "testing"

// TestRulePatternsCompile compiles every rule's pattern: they compile lazily, on first
// use, so a broken pattern would otherwise only panic on the payload that needs it.
func TestRulePatternsCompile(t *testing.T) {
	for _, r := range rules {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("rule %s: pattern %q does not compile: %v", r.name, r.re.src, p)
				}
			}()
			if r.re.get() == nil {
				t.Errorf("rule %s: no compiled pattern", r.name)
			}
		}()
	}
}
