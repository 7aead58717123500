// Package filelock takes and drops an exclusive, advisory, non-blocking lock on an open
// file: flock(2) on Unix, LockFileEx on Windows. The spool serialises its writers with it
// and the deliverer's lease is one. The lock belongs to the open file, so the operating
// system drops it when the last process holding the file exits, a SIGKILLed holder
// included.
package filelock

import (
	"errors"
	"os"
)

// ErrLocked means another open file holds the lock; the caller may try again later.
var ErrLocked = errors.New("file is locked by another process")

// TryLock takes the lock on f without waiting: nil when taken, ErrLocked when another
// holder has it, another error when the system refused for any other reason.
func TryLock(f *os.File) error { return tryLock(f) }

// Unlock drops the lock taken on f. Closing f drops it too.
func Unlock(f *os.File) error { return unlock(f) }
