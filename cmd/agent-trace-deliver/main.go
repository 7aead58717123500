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
	"runtime/debug"
	"syscall"
)

// memoryLimit is the soft limit of the Go runtime's memory (heap, stacks, metadata).
// The deliverer's live heap is a few MB whatever the backlog (one batch, the spool's
// freelist), but without a limit the collector lets garbage grow to twice the live heap
// before each cycle. With it, a backlog of 400,000 events (323 MB) peaks at 24 MiB of RSS,
// 13 of them heap (BenchmarkBacklog); issue 14 asks for at most 30 MB. GOMEMLIMIT, when
// set, wins.
const memoryLimit = 16 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
