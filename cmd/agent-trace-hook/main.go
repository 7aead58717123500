// Command agent-trace-hook is the sidecar Claude Code runs on every hook event.
//
// With no arguments (or `capture`) it reads one hook payload on stdin, applies the
// privacy tier and redaction, appends the event to the local spool and exits 0 without
// printing anything, whatever happens; a detached background deliverer sends the spool
// to the collector. The other commands set it up (init, uninstall), report on it
// (status) and move data by hand (flush, import).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
