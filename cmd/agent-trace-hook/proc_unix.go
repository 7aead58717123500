//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// exeSuffix is what the platform appends to a program's file name.
const exeSuffix = ""

// inheritsLease: on Unix the started deliverer inherits the locked lease file as fd 3,
// so no other hook can start a second deliverer in between.
const inheritsLease = true

// detach makes cmd its own session, out of Claude Code's process group and terminal, with
// its working directory at the root so it holds no directory busy.
func detach(cmd *exec.Cmd) {
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}

// stopGently asks p to stop the way a terminal would, so it can print its summary.
func stopGently(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// isExecutable reports whether a file mode may be run.
func isExecutable(mode os.FileMode) bool { return mode&0o111 != 0 }
