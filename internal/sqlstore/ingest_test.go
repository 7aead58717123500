package sqlstore

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

func TestEncodeEventsRefusesInvalid(t *testing.T) {
	_, err := EncodeEvents([]event.Event{{ID: "e1"}})
	if !errors.Is(err, agenttrace.ErrInvalid) || !strings.Contains(err.Error(), "event 0 (e1)") {
		t.Fatalf("err = %v, want ErrInvalid naming event 0 (e1)", err)
	}
}

func TestInChunks(t *testing.T) {
	ids := make([]string, 2*ReprojectChunk+1)
	var sizes []int
	n, err := InChunks(ids, func(c []string) error { sizes = append(sizes, len(c)); return nil })
	if got, want := sizes, []int{ReprojectChunk, ReprojectChunk, 1}; err != nil || n != len(ids) || !reflect.DeepEqual(got, want) {
		t.Fatalf("InChunks = %d, %v, sizes %v; want %d, nil, %v", n, err, got, len(ids), want)
	}
	boom := errors.New("boom")
	calls := 0
	n, err = InChunks(ids, func([]string) error {
		if calls++; calls == 2 {
			return boom
		}
		return nil
	})
	if n != ReprojectChunk || !errors.Is(err, boom) {
		t.Fatalf("failing chunk: %d, %v; want %d, boom", n, err, ReprojectChunk)
	}
}

func TestProjectionStamp(t *testing.T) {
	if got, want := ProjectionStamp("p1"), projection.ProjectionVersion+RowsVersion+"/p1"; got != want {
		t.Errorf("ProjectionStamp = %q, want %q", got, want)
	}
}
