// Command agent-trace-server runs agent-trace's collector, API and dashboard in one
// process over one store, and manages that store's schema and API tokens.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "agent-trace-server:", err)
		stop()
		os.Exit(1)
	}
}
