package lease

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestAcquireIsExclusiveAndReleased(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home") // Acquire creates it
	l, err := Acquire(home)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if _, err := Acquire(home); !errors.Is(err, ErrBusy) {
		t.Fatalf("second Acquire = %v, want ErrBusy", err)
	}
	if !Running(home) {
		t.Fatal("Running = false while the lease is held")
	}
	l.Release()
	l.Release() // idempotent
	if Running(home) {
		t.Fatal("Running = true after Release")
	}
	release, err := Lock(home)
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	release()
}

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
