package deliver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the deliverer's lock file inside the agent-trace home.
const LockFile = "deliver.lock"

// Lock takes the exclusive deliverer lock for home without waiting. It returns ErrBusy
// when another process holds it. The kernel drops the lock when the process dies, so a
// SIGKILLed deliverer never blocks the next one.
func Lock(home string) (release func(), err error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("deliver lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(home, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("deliver lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("deliver lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Running reports whether a deliverer holds the lock for home.
func Running(home string) bool {
	release, err := Lock(home)
	if err != nil {
		return errors.Is(err, ErrBusy)
	}
	release()
	return false
}
