package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/worker"
)

// blocker runs until its context ends, noting that it started and that it returned.
type blocker struct{ started, returned *atomic.Int32 }

func (b blocker) Run(ctx context.Context) {
	b.started.Add(1)
	<-ctx.Done()
	time.Sleep(10 * time.Millisecond) // stop must wait for this
	b.returned.Add(1)
}

func TestStartRunsUntilStop(t *testing.T) {
	var started, returned atomic.Int32
	b := blocker{&started, &returned}
	stop := worker.Start(context.Background(), b, b)
	deadline := time.Now().Add(5 * time.Second)
	for started.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 2 workers started", started.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if got := returned.Load(); got != 0 {
		t.Fatalf("%d workers returned before stop", got)
	}
	stop()
	if got := returned.Load(); got != 2 {
		t.Errorf("stop returned with %d of 2 workers done, want 2", got)
	}
}
