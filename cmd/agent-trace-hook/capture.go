package main

import (
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"time"

	"github.com/agent-trace/agent-trace/internal/agentconfig"
	"github.com/agent-trace/agent-trace/internal/capture"
	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/spool/lease"
)

// runCapture is the hook's hot path: payload → events → spool, then maybe start a
// deliverer. It never returns an error and never writes to stdout; what goes wrong is
// one line in hook.log.
func runCapture(stdin io.Reader, home string, now time.Time) {
	defer func() {
		if r := recover(); r != nil {
			agentconfig.Logf(home, "capture: panic: %v\n%s", r, debug.Stack())
		}
	}()
	evts, cfg, err := capture.Capture(stdin, home, now)
	if err != nil {
		agentconfig.Logf(home, "capture: %v", err)
		return
	}
	if len(evts) == 0 {
		return
	}
	res, err := spool.Capture(home, spool.Options{
		MaxBytes: cfg.SpoolMaxBytes,
		Logf:     func(format string, args ...any) { agentconfig.Logf(home, format, args...) },
	}, evts)
	if err != nil {
		agentconfig.Logf(home, "capture: %v", err)
		if !res.Inbox {
			return // nothing was stored, so there is nothing to deliver
		}
	}
	if cfg.CollectorURL == "" {
		return
	}
	if !res.Inbox && now.Before(res.Meta.RetryAt) {
		return // delivery is backing off (collector down or refusing us)
	}
	// Taking the deliverer's lease here and handing it to the child means exactly one
	// of many parallel hooks starts a deliverer, and none mistakes a deliverer that has
	// not started yet for no deliverer.
	l, err := lease.Acquire(home)
	if err != nil {
		return // busy: the running deliverer will pick the event up
	}
	if !inheritsLease {
		l.Release() // the deliverer takes it itself (see proc_windows.go)
	}
	if startDeliverer(home, l) && inheritsLease {
		l.Handover()
	} else {
		l.Release()
	}
}

// startDeliverer starts agent-trace-deliver detached (see detach), stdio on the null
// device, not waited for, so Claude Code's hook finishes now and does not wait for
// the network. Without the deliverer binary the events stay safe in the spool, and
// hook.log says why nothing is delivered.
func startDeliverer(home string, l *lease.Lease) bool {
	bin, err := delivererPath()
	if err != nil {
		agentconfig.Logf(home, "start deliverer: %v", err)
		return false
	}
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	if os.Getenv("AGENT_TRACE_HOME") == "" {
		cmd.Env = append(cmd.Env, "AGENT_TRACE_HOME="+home)
	}
	if inheritsLease {
		cmd.Env = append(cmd.Env, lease.FDEnv+"=3") // ExtraFiles[0] is fd 3
		cmd.ExtraFiles = []*os.File{l.File()}
	}
	detach(cmd)
	if err := cmd.Start(); err != nil {
		agentconfig.Logf(home, "start deliverer: %v", err)
		return false
	}
	_ = cmd.Process.Release()
	return true
}
