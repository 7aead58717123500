package lease

import (
	"errors"
	"path/filepath"
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
