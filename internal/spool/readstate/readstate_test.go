package readstate

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/agent-trace/agent-trace/internal/spool"
	"github.com/agent-trace/agent-trace/internal/transcript"
)

// After the mark, reading the transcript from the recorded position finds nothing new,
// which is what keeps the deliverer from sending imported usage a second time.
func TestMarkRecordsTheEndOfEachTranscript(t *testing.T) {
	home := t.TempDir()
	path, err := filepath.Abs(filepath.Join("testdata", "session.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := transcript.Tail(path, transcript.State{}, transcript.Options{Final: true})
	if err != nil || len(all) == 0 {
		t.Fatalf("the fixture yields %d events (%v); the test would prove nothing", len(all), err)
	}
	missing := filepath.Join(home, "gone.jsonl")
	if err := MarkTranscriptsRead(home, spool.Options{}, []string{path, missing}); err != nil {
		t.Fatalf("MarkTranscriptsRead: %v", err)
	}
	s, err := spool.Open(spool.Path(home), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw, err := s.State(TranscriptPrefix + path)
	if err != nil || raw == nil {
		t.Fatalf("no position recorded for %s (%v)", path, err)
	}
	var st transcript.State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if again, _, err := transcript.Tail(path, st, transcript.Options{Final: true}); err != nil || len(again) != 0 {
		t.Fatalf("reading on from the mark gave %d events (%v), want none", len(again), err)
	}
	// A transcript that is not there (yet) must be read from its start if it appears.
	if raw, _ := s.State(TranscriptPrefix + missing); raw != nil {
		var st transcript.State
		if err := json.Unmarshal(raw, &st); err != nil || st.Offset != 0 {
			t.Fatalf("a missing transcript got the position %s, want none or offset 0", raw)
		}
	}
}

func TestMarkNothingLeavesNoSpool(t *testing.T) {
	home := t.TempDir()
	if err := MarkTranscriptsRead(home, spool.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(filepath.Join(home, "*")); len(matches) != 0 {
		t.Fatalf("marking no transcripts created %v", matches)
	}
}
