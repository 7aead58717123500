package privacy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
)

// At tier 1 nothing that leaves the machine holds a file-system path: the working
// directory is reduced to its last element (the repository's folder name), transcript
// paths (made of the working directory) are dropped, and so is git's root path.
func TestForWireTier1KeepsNoPath(t *testing.T) {
	payload := `{"session_id":"s","cwd":"/home/jane/src/acme-api","transcript_path":"/home/jane/.claude/projects/-home-jane-src-acme-api/s.jsonl","agent_transcript_path":"/home/jane/.claude/projects/x/a.jsonl","old_cwd":"C:\\Users\\jane\\src\\old","hook_event_name":"SessionStart"}`
	e := event.Event{Tier: event.TierMetadata, Payload: json.RawMessage(payload),
		Git: &event.GitState{Root: "/home/jane/src/acme-api", Head: "abc", Branch: "main"}}
	if !ForWire(&e) {
		t.Fatal("ForWire reported no change for a tier 1 event with paths")
	}
	got := string(e.Payload)
	for _, leak := range []string{"/home/jane", `Users\\jane`, "transcript_path"} {
		if strings.Contains(got, leak) {
			t.Errorf("tier 1 payload still holds %q: %s", leak, got)
		}
	}
	var p map[string]any
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p["cwd"] != "acme-api" || p["old_cwd"] != "old" || p["hook_event_name"] != "SessionStart" {
		t.Errorf("payload = %v, want cwd acme-api, old_cwd old, the rest kept", p)
	}
	if e.Git.Root != "acme-api" || e.Git.Head != "abc" {
		t.Errorf("git = %+v, want root acme-api, head kept", e.Git)
	}
	again := e
	if ForWire(&again) {
		t.Error("ForWire changed an event it had already reduced")
	}

	full := event.Event{Tier: event.TierDetails, Payload: json.RawMessage(payload), Git: &event.GitState{Root: "/r"}}
	if ForWire(&full) || string(full.Payload) != payload || full.Git.Root != "/r" {
		t.Error("ForWire changed a tier 2 event")
	}
}

// A git remote that is a local path (a bare repository on a shared disk) is a path too.
func TestForWireTier1LocalRemotes(t *testing.T) {
	for remote, want := range map[string]string{
		"/srv/git/acme.git":           "acme.git",
		"file:///srv/git/acme.git":    "acme.git",
		`C:\repos\acme`:               "acme",
		"github.com/acme/api":         "github.com/acme/api",
		"git@github.com:acme/api.git": "git@github.com:acme/api.git",
	} {
		e := event.Event{Tier: event.TierMetadata, Git: &event.GitState{Remote: remote}, Commit: &event.Commit{SHA: "a", Repo: remote}}
		ForWire(&e)
		if e.Git.Remote != want || e.Commit.Repo != want {
			t.Errorf("remote %q sent as %q / %q, want %q", remote, e.Git.Remote, e.Commit.Repo, want)
		}
	}
}
