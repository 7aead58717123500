// Package lease is the deliverer's lock: at most one deliverer runs per agent-trace
// home. It is kept apart from internal/deliver so the hook binary, which takes the lease
// and hands it to the deliverer it starts, links none of the deliverer's HTTP and git
// code.
package lease

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/agent-trace/agent-trace/internal/filelock"
)

// LockFile is the deliverer's lock file inside the agent-trace home.
const LockFile = "deliver.lock"

// FDEnv names, in a started deliverer's environment, the inherited descriptor of the
// lock file (the capture that started it passes it as fd 3).
const FDEnv = "AGENT_TRACE_DELIVER_LOCK_FD"

// ErrBusy means another deliverer holds the lock for this home.
var ErrBusy = errors.New("another deliverer is running")

// Lease is the exclusive right to deliver for one home: a file lock on <home>/deliver.lock.
// The kernel drops it when the last process holding the file dies, so a SIGKILLed
// deliverer never blocks the next one.
//
// A capture takes the lease itself and hands the open file to the deliverer it starts
// (see File and Inherit): of 16 hooks racing, exactly one starts a deliverer, and a
// deliverer just starting is never mistaken for none.
type Lease struct{ f *os.File }

// Acquire takes the lease without waiting; ErrBusy when another process holds it.
func Acquire(home string) (*Lease, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("deliver lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(home, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("deliver lock: %w", err)
	}
	if err := filelock.TryLock(f); err != nil {
		f.Close()
		if errors.Is(err, filelock.ErrLocked) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("deliver lock: %w", err)
	}
	return &Lease{f: f}, nil
}

// Inherit adopts a lease whose file a parent process passed down (the flock belongs to
// the open file, which both processes share). It checks the lock is really held.
func Inherit(f *os.File) (*Lease, error) {
	if err := filelock.TryLock(f); err != nil {
		f.Close()
		if errors.Is(err, filelock.ErrLocked) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("deliver lock: inherited: %w", err)
	}
	return &Lease{f: f}, nil
}

// File is the lock file, to pass to a child process (exec.Cmd.ExtraFiles).
func (l *Lease) File() *os.File { return l.f }

// Handover closes this process's reference without unlocking, after a child that
// inherited the file has started: the lock now lives as long as the child.
func (l *Lease) Handover() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// Release unlocks and closes.
func (l *Lease) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = filelock.Unlock(l.f)
	l.f.Close()
	l.f = nil
}

// Lock takes the lease and returns its release function.
func Lock(home string) (release func(), err error) {
	l, err := Acquire(home)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// Running reports whether a deliverer holds the lock for home.
func Running(home string) bool {
	l, err := Acquire(home)
	if err != nil {
		return errors.Is(err, ErrBusy)
	}
	l.Release()
	return false
}
