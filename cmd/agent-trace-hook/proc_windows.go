//go:build windows

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/windows"
)

const exeSuffix = ".exe"

// inheritsLease: Windows gives a child no inherited descriptor numbers (os/exec has no
// ExtraFiles there), so the capture releases the lease and the deliverer takes it
// itself. When two hooks race, the second deliverer finds the lease taken and exits:
// never two deliverers at once, at worst one started in vain.
const inheritsLease = false

// detach starts cmd without a console and in a new process group, so neither closing
// Claude Code's console nor its Ctrl-C reaches the deliverer. Its working directory is
// the volume root, so it holds no project directory busy (Windows refuses to delete a
// directory that is some process's working directory).
func detach(cmd *exec.Cmd) {
	if exe, err := os.Executable(); err == nil {
		cmd.Dir = filepath.VolumeName(exe) + `\`
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		CreationFlags: windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP,
		HideWindow:    true,
	}
}

// stopGently ends p. Windows has no signal to ask another process to stop; the deliverer
// keeps in the spool whatever it had not been told was stored, so nothing is lost.
func stopGently(p *os.Process) error { return p.Kill() }

// isExecutable: Windows has no execute bit; a file that exists under the .exe name runs.
func isExecutable(os.FileMode) bool { return true }
