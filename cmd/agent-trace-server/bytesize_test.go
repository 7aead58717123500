package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestByteSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "150MiB", want: 150 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "1.5 GiB", want: 3 << 29},
		{in: "512MB", want: 512e6},
		{in: "4096", want: 4096},
		{in: "64KiB", want: 64 << 10},
		{in: "lots", bad: true},
		{in: "-1MiB", bad: true},
		{in: "", bad: true},
	} {
		var n int64
		err := newByteSize(&n, "").Set(c.in)
		if got := n; (err != nil) != c.bad || !c.bad && got != c.want {
			t.Errorf("%q: got %d, %v; want %d (bad %v)", c.in, got, err, c.want, c.bad)
		}
	}
	var n int64
	newByteSize(&n, "nonsense")
	if n != -1 {
		t.Errorf("a bad default gives %d, want -1 (refused when the server starts)", n)
	}
}

// A size the server can't read stops it with a message that names the flag or the
// variable, before it opens anything.
func TestMemoryLimitRefusesNonsense(t *testing.T) {
	db := filepath.Join(t.TempDir(), "data.db")
	if _, err := run(t, "--db", db, "--memory-limit", "lots"); err == nil || !strings.Contains(err.Error(), "memory-limit") {
		t.Errorf("--memory-limit lots: %v", err)
	}
	t.Setenv("AGENT_TRACE_MEMORY_LIMIT", "lots")
	if _, err := run(t, "--db", db); err == nil || !strings.Contains(err.Error(), "AGENT_TRACE_MEMORY_LIMIT") {
		t.Errorf("AGENT_TRACE_MEMORY_LIMIT=lots: %v", err)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the database was created anyway")
	}
}
