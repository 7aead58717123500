// Package readstate records in the spool how far the deliverer has read each Claude Code
// transcript. It is shared by the deliverer (internal/deliver), which keeps the positions,
// and by `agent-trace-hook import`, which marks what it backfilled as read; it links only
// the spool and the stdlib-only transcript reader, so the hook binary stays light.
package readstate

import (
	"encoding/json"
	"fmt"

	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// State key prefixes in the spool, each followed by a transcript's path.
const (
	TranscriptPrefix = "transcript:" // the transcript reader's position (transcript.State)
	OpenPrefix       = "open:"       // a transcript not yet read as final
)

// MarkTranscriptsRead records the given transcripts as read to their end, so the
// deliverer does not read again what `import` has just spooled from them. Each file is
// read once more, without the spool's lock, to get the reader's position; its events are
// dropped. A file that cannot be read is skipped: the deliverer reads it, as without
// this mark.
func MarkTranscriptsRead(home string, opts spool.Options, paths []string) error {
	state := map[string][]byte{}
	for _, p := range paths {
		_, next, err := transcript.Tail(p, transcript.State{}, transcript.Options{Final: true})
		if err != nil {
			continue
		}
		raw, err := json.Marshal(next)
		if err != nil {
			continue
		}
		state[TranscriptPrefix+p] = raw
		state[OpenPrefix+p] = nil
	}
	if len(state) == 0 {
		return nil
	}
	s, err := spool.Open(spool.Path(home), opts)
	if err != nil {
		return fmt.Errorf("mark transcripts read: %w", err)
	}
	defer s.Close()
	if err := s.SetState(state); err != nil {
		return fmt.Errorf("mark transcripts read: %w", err)
	}
	return nil
}
