package deliver

import (
	"os"

	"github.com/agent-trace/agent-trace/spool/lease"
)

// The lock lives in spool/lease so the hook binary can take it without linking this
// package; these names keep the deliverer's API whole.

// LockFile is the deliverer's lock file inside the agent-trace home.
const LockFile = lease.LockFile

// Lease is the exclusive right to deliver for one home (see lease.Lease).
type Lease = lease.Lease

// Acquire takes the lease without waiting; ErrBusy when another process holds it.
func Acquire(home string) (*Lease, error) { return lease.Acquire(home) }

// Inherit adopts a lease whose file a parent process passed down.
func Inherit(f *os.File) (*Lease, error) { return lease.Inherit(f) }

// Lock takes the lease and returns its release function.
func Lock(home string) (release func(), err error) { return lease.Lock(home) }

// Running reports whether a deliverer holds the lock for home.
func Running(home string) bool { return lease.Running(home) }
