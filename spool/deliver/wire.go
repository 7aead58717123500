package deliver

import (
	"encoding/json"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/gitinfo"
	"github.com/agent-trace/agent-trace/transcript"
)

// TranscriptTail is the TailFunc over the transcript package. A file is read as final
// (its trailing response emitted rather than held back for more lines) once the session
// ended, for the main transcript when a turn stopped, and for a subagent's transcript
// when that subagent stopped; background subagents may still be writing after Stop.
func TranscriptTail(path string, state []byte, src event.Event) ([]event.Event, []byte, error) {
	var st transcript.State
	if len(state) > 0 && json.Unmarshal(state, &st) != nil {
		st = transcript.State{} // unreadable position: read again; IDs are stable
	}
	var p struct {
		TranscriptPath      string `json:"transcript_path"`
		AgentTranscriptPath string `json:"agent_transcript_path"`
	}
	_ = json.Unmarshal(src.Payload, &p)
	final := src.HookEvent == "SessionEnd" ||
		(src.HookEvent == "Stop" && path == p.TranscriptPath) ||
		(src.HookEvent == "SubagentStop" && path == p.AgentTranscriptPath)
	evts, next, err := transcript.Tail(path, st, transcript.Options{SessionID: src.SessionID, Tier: src.Tier, Final: final})
	raw, merr := json.Marshal(next)
	if merr != nil {
		return evts, nil, merr
	}
	return evts, raw, err
}

// GitOutcomes is the OutcomesFunc over the gitinfo package.
func GitOutcomes(repoDir string, before, after event.GitState) ([]event.Commit, []event.Branch, error) {
	return gitinfo.Outcomes(repoDir, before, after)
}
