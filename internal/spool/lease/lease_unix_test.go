//go:build unix

package lease

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A started deliverer inherits the very open file the capture locked; that must adopt
// the lock, while a file opened afresh must not.
func TestInheritSharesTheOpenFileOnly(t *testing.T) {
	home := t.TempDir()
	l, err := Acquire(home)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()

	fd, err := syscall.Dup(int(l.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	child, err := Inherit(os.NewFile(uintptr(fd), LockFile))
	if err != nil {
		t.Fatalf("Inherit of the locked file: %v", err)
	}
	l.Handover() // the capture's reference goes; the child's keeps the lock
	if !Running(home) {
		t.Fatal("Running = false after Handover while the inheritor holds the file")
	}
	child.Release()
	if Running(home) {
		t.Fatal("Running = true after the inheritor released")
	}

	other, err := Acquire(home)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	f, err := os.OpenFile(filepath.Join(home, LockFile), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Inherit(f); !errors.Is(err, ErrBusy) {
		t.Fatalf("Inherit of a fresh open = %v, want ErrBusy", err)
	}
}
