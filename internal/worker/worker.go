// Package worker holds the server's background jobs: work that runs on a clock rather
// than on a request, so the HTTP edge only serves requests. Each worker is a value with
// a Run(ctx) method that returns when ctx ends; cmd/agent-trace-server starts them with
// the listeners and cancels them on shutdown.
package worker

import (
	"context"
	"sync"
)

// Worker is a background job: Run works until ctx ends, then returns.
type Worker interface {
	Run(ctx context.Context)
}

// Start runs each worker in its own goroutine. stop ends them and waits until every one
// has returned, so the caller may close what they use (the store) right after.
func Start(ctx context.Context, workers ...Worker) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.Run(ctx) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
