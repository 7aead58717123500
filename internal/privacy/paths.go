package privacy

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/agent-trace/agent-trace/event"
)

// dirFields are the payload fields that hold a directory; at tier 1 each keeps only its
// last element, enough to tell repositories apart on the dashboard.
var dirFields = []string{"cwd", "old_cwd", "new_cwd", "directory", "worktree_path"}

// localOnlyFields are paths the deliverer needs on this machine (it tails the
// transcripts) and the server never does; at tier 1 they do not leave the machine.
var localOnlyFields = []string{"transcript_path", "agent_transcript_path"}

// ForWire prepares an event for sending: at tier 1 (metadata only) it reduces every
// directory to its last element and drops transcript paths and git's root path, because
// tier 1 promises to store no file-system path. The spool keeps the whole paths: the
// deliverer needs them to read git and transcripts. It reports whether e changed.
func ForWire(e *event.Event) bool {
	if e.Tier != event.TierMetadata {
		return false
	}
	changed := false
	if e.Git != nil && (strings.ContainsAny(e.Git.Root, `/\`) || isLocalPath(e.Git.Remote)) {
		g := *e.Git
		g.Root = baseName(g.Root)
		if isLocalPath(g.Remote) {
			g.Remote = baseName(strings.TrimPrefix(g.Remote, "file://"))
		}
		e.Git, changed = &g, true
	}
	if e.Commit != nil && isLocalPath(e.Commit.Repo) {
		c := *e.Commit
		c.Repo = baseName(strings.TrimPrefix(c.Repo, "file://"))
		e.Commit, changed = &c, true
	}
	if p, ok := reducedPayload(e.Payload); ok {
		e.Payload, changed = p, true
	}
	return changed
}

func reducedPayload(raw json.RawMessage) (json.RawMessage, bool) {
	if len(raw) == 0 || !bytes.Contains(raw, []byte("_path")) && !bytes.ContainsAny(raw, `/\`) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var p map[string]any
	if dec.Decode(&p) != nil {
		return nil, false
	}
	changed := false
	for _, k := range localOnlyFields {
		if _, ok := p[k]; ok {
			delete(p, k)
			changed = true
		}
	}
	for _, k := range dirFields {
		if s, ok := p[k].(string); ok && strings.ContainsAny(s, `/\`) {
			p[k] = baseName(s)
			changed = true
		}
	}
	if !changed {
		return nil, false
	}
	out, err := Marshal(p)
	return out, err == nil
}

// isLocalPath reports whether a git remote is a path on some machine rather than a
// host's repository: /srv/git/x.git, file:///srv/x, C:\repos\x, ../x.
func isLocalPath(remote string) bool {
	switch {
	case remote == "":
		return false
	case strings.HasPrefix(remote, "/"), strings.HasPrefix(remote, "file://"), strings.HasPrefix(remote, `\\`),
		strings.HasPrefix(remote, "./"), strings.HasPrefix(remote, "../"), strings.HasPrefix(remote, "~"):
		return true
	}
	return len(remote) > 2 && remote[1] == ':' && (remote[2] == '\\' || remote[2] == '/')
}

// baseName is the last element of a Unix or Windows path, whichever this one is.
func baseName(p string) string {
	p = strings.TrimRight(p, `/\`)
	return p[strings.LastIndexAny(p, `/\`)+1:]
}
