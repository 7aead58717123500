package spool

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/agent-trace/agent-trace/internal/filelock"
)

// lockFile serialises access to the spool before bbolt is asked to. bbolt waits for its
// own file lock by retrying every 50 ms, which would put 50 ms on a hook that arrives
// just after the deliverer took the file; this lock is retried every few hundred
// microseconds instead, so a hook waits about as long as the holder's transaction.
type lockFile struct{ f *os.File }

func acquire(path string, timeout time.Duration) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	wait := 100 * time.Microsecond
	for {
		err := filelock.TryLock(f)
		if err == nil {
			return &lockFile{f: f}, nil
		}
		if !errors.Is(err, filelock.ErrLocked) {
			f.Close()
			return nil, err
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (waited %v)", ErrLocked, timeout)
		}
		time.Sleep(wait)
		wait = min(wait*2, 2*time.Millisecond)
	}
}

func (l *lockFile) release() {
	if l == nil {
		return
	}
	_ = filelock.Unlock(l.f)
	_ = l.f.Close()
}
