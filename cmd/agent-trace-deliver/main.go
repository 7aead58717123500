// Command agent-trace-deliver sends the agent-trace spool to the collector. Nobody needs
// to run it by hand: agent-trace-hook starts it in the background after a capture, and
// `agent-trace-hook flush` runs it in the foreground.
//
// It is a binary of its own so that agent-trace-hook, which Claude Code starts on every
// hook event, links none of the delivery code (go-git, the retrying HTTP client, the
// transcript reader's enrichment) and starts in a couple of milliseconds.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
