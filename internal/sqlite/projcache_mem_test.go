package sqlite

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/agent-trace/agent-trace/internal/storetest"
)

// The projector cache counts sessions by sqlstore.EventBytes against its budget, so the
// estimate must be close to the heap the cached projections really hold: one a third of
// the truth let the 64 MiB default hold 200 MiB.
func TestProjectorCacheHoldsWhatItCounts(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "data.db"), WithPricer(storetest.TestPricer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	sessions := storetest.Generate(77, 60, 200)
	before := heapAlloc()
	for _, evs := range sessions {
		for i := 0; i < len(evs); i += 50 {
			if _, err := s.Ingest(context.Background(), evs[i:min(i+50, len(evs))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	held, counted := heapAlloc()-before, int64(s.projectors.Bytes())
	runtime.KeepAlive(sessions)
	if ratio := float64(held) / float64(counted); ratio < 0.6 || ratio > 1.5 {
		t.Errorf("the cache counts %d KiB; the heap grew %d KiB (%.2f×)", counted>>10, held>>10, ratio)
	}
}

func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
