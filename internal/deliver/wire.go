package deliver

import (
	"encoding/json"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/gitinfo"
	"github.com/agent-trace/agent-trace/internal/privacy"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// DefaultQuietFinal is how long a transcript must stay unchanged before the deliverer
// reads it as final without a SessionEnd.
const DefaultQuietFinal = 30 * time.Second

// TranscriptTail is the TailFunc over the transcript package.
func TranscriptTail(path string, state []byte, src event.Event, final bool) ([]event.Event, []byte, error) {
	var st transcript.State
	if len(state) > 0 && json.Unmarshal(state, &st) != nil {
		st = transcript.State{} // unreadable position: read again; IDs are stable
	}
	evts, next, err := transcript.Tail(path, st, transcript.Options{SessionID: src.SessionID, Tier: src.Tier, Final: final})
	// The held-back response is saved in the spool with the position: it must be
	// redacted like any event written to disk (it is again when emitted; Redact is
	// idempotent).
	if next.Pending != nil {
		p := *next.Pending
		privacy.RedactEvent(&p)
		next.Pending = &p
	}
	raw, merr := json.Marshal(next)
	if merr != nil {
		return evts, nil, merr
	}
	return evts, raw, err
}

// GitOutcomes is the OutcomesFunc over the gitinfo package.
func GitOutcomes(repoDir string, before, after event.GitState, start, end time.Time) ([]event.Commit, []event.Branch, error) {
	return gitinfo.OutcomesOf(gitinfo.Call{Dir: repoDir, Before: before, After: after, Start: start, End: end})
}

// Wire sets the real enrichment (transcript and git) on opts.
func Wire(opts *Options) {
	opts.Tail = TranscriptTail
	opts.Outcomes = GitOutcomes
	opts.GitErrorPermanent = gitinfo.IsPermanent
	if opts.QuietFinal == 0 {
		opts.QuietFinal = DefaultQuietFinal
	}
}
