package sqlstore

import (
	"encoding/json"
	"fmt"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/projection"
)

// EncodeEvents validates a batch and returns each event's stored encoding. The first
// invalid event fails the whole batch with an error wrapping agenttrace.ErrInvalid.
func EncodeEvents(events []event.Event) ([][]byte, error) {
	bodies := make([][]byte, len(events))
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return nil, fmt.Errorf("event %d (%s): %w: %w", i, events[i].ID, agenttrace.ErrInvalid, err)
		}
		b, err := json.Marshal(&events[i])
		if err != nil {
			return nil, fmt.Errorf("event %d (%s): %w: %w", i, events[i].ID, agenttrace.ErrInvalid, err)
		}
		bodies[i] = b
	}
	return bodies, nil
}

// ProjectionStamp is what a store records after projecting with the current projection
// rules, rows (RowsVersion) and the prices of pricesVersion: when it changes, every
// session is re-projected.
func ProjectionStamp(pricesVersion string) string {
	return projection.ProjectionVersion + RowsVersion + "/" + pricesVersion
}

// RowsVersion changes whenever what the stores derive from a projection changes though
// the projection itself does not, so sessions stored before get the new rows at start-up.
// ".f": session_facets holds the files a session touched (the file filter); ".t":
// tool_calls holds every tool call (the Tools page).
const RowsVersion = ".f.t"

// ReprojectChunk is how many sessions one re-projection transaction rebuilds, so ingest
// is never blocked for long.
const ReprojectChunk = 50

// InChunks calls fn with successive chunks of at most ReprojectChunk ids and returns
// how many ids the successful calls covered.
func InChunks(ids []string, fn func(chunk []string) error) (int, error) {
	done := 0
	for len(ids) > 0 {
		chunk := ids[:min(ReprojectChunk, len(ids))]
		ids = ids[len(chunk):]
		if err := fn(chunk); err != nil {
			return done, err
		}
		done += len(chunk)
	}
	return done, nil
}
