package filelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agent-trace/agent-trace/internal/filelock"
)

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Two opens of one file behave like two processes: the second is refused while the first
// holds the lock, and gets it once the first unlocks or closes.
func TestExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	a, b := open(t, path), open(t, path)
	if err := filelock.TryLock(a); err != nil {
		t.Fatalf("first lock: %v", err)
	}
	if err := filelock.TryLock(b); !errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("second lock while held: got %v, want ErrLocked", err)
	}
	if err := filelock.Unlock(a); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := filelock.TryLock(b); err != nil {
		t.Fatalf("second lock after unlock: %v", err)
	}
	b.Close()
	if err := filelock.TryLock(a); err != nil {
		t.Fatalf("lock after the holder closed its file: %v", err)
	}
}

func TestClosedFile(t *testing.T) {
	f := open(t, filepath.Join(t.TempDir(), "x.lock"))
	f.Close()
	err := filelock.TryLock(f)
	if err == nil || errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("lock on a closed file: got %v, want a plain error", err)
	}
}
