package buildinfo

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	if got, want := Version("v1.2.3"), "v1.2.3"; got != want {
		t.Errorf("Version(stamped) = %q, want %q", got, want)
	}
	// A test binary records the module's build info: never empty, never the stamp.
	if got := Version(""); got == "" || strings.HasPrefix(got, "v1.2.3") {
		t.Errorf("Version(\"\") = %q, want the recorded build info or devel", got)
	}
}
