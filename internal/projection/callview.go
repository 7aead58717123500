package projection

import (
	"sort"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// updateCalls takes in new and changed calls, in the order of their first events: it
// refreshes each, settles which Agent call launched each subagent, nests the subagents'
// calls under it, and attributes every call whose place may have moved to a prompt.
func (v *view) updateCalls(f *fold) bool {
	ids := touched(v.full, f.changed.calls, f.calls)
	sort.Slice(ids, func(i, j int) bool { return f.calls[ids[i]].seen.before(f.calls[ids[j]].seen) })
	var placeAgain []string // calls whose parent is decided again, in order of first event
	for _, id := range ids {
		ca := f.calls[id]
		cv, seen := v.calls[id]
		tc := ca.toolCall()
		if !seen {
			cv = &callView{seen: ca.seen}
			v.calls[id] = cv
			if a := tc.AgentID; a != "" {
				v.agentCalls[a] = append(v.agentCalls[a], id)
				placeAgain = append(placeAgain, id)
			}
		} else {
			if !tc.StartedAt.Equal(cv.call.StartedAt) || tc.AgentID != cv.call.AgentID || ca.promptID.v != cv.own ||
				!ca.seen.equal(cv.seen) || (cv.spawn != "" && ca.spawn.v != cv.spawn) {
				return false // it would move in the tree or between prompts
			}
			v.count(cv, -1)
		}
		cv.call, cv.own = tc, ca.promptID.v
		v.count(cv, 1)
		v.redoCalls[id] = true
		if sp := ca.spawn.v; sp != "" && cv.spawn == "" {
			cv.spawn = sp
			if !v.setSpawner(sp, id, &placeAgain) {
				return false
			}
		}
	}
	if !v.placeAll(placeAgain) {
		return false
	}
	v.attribute()
	return true
}

// count adds (sign 1) or takes out (sign -1) a call's lines and error in the session's
// sums.
func (v *view) count(cv *callView, sign int) {
	v.callSums.added += sign * cv.call.LinesAdded
	v.callSums.removed += sign * cv.call.LinesRemoved
	if cv.call.Status == agenttrace.ToolError {
		v.callSums.errors += sign
	}
}

// setSpawner makes id the call that launched agent when it is the first by first event
// to report it; that agent's calls are then placed again. A subagent whose calls are
// placed already does not change parent here.
func (v *view) setSpawner(agent, id string, placeAgain *[]string) bool {
	cur, ok := v.spawner[agent]
	if ok && !v.calls[id].seen.before(v.calls[cur].seen) {
		return true
	}
	if ok && !v.full {
		return false
	}
	v.spawner[agent] = id
	*placeAgain = append(*placeAgain, v.agentCalls[agent]...)
	return true
}

// placeAll decides the parent of every call in ids: the call that launched the subagent
// that made it, unless that would make a cycle (hostile input; only a full build
// resolves those, in the order of first events).
func (v *view) placeAll(ids []string) bool {
	ids = dedupe(ids)
	sort.Slice(ids, func(i, j int) bool { return v.calls[ids[i]].seen.before(v.calls[ids[j]].seen) })
	for _, id := range ids {
		cv := v.calls[id]
		parent, ok := v.spawner[cv.call.AgentID]
		if !ok || parent == id || v.isAncestor(id, parent) {
			if ok && !v.full {
				return false
			}
			parent = ""
		}
		if parent != cv.parent {
			v.setParent(id, parent)
		}
	}
	return true
}

// setParent moves a call under another parent; it and everything under it are
// attributed again, and the tree it left is rebuilt.
func (v *view) setParent(id, parent string) {
	cv := v.calls[id]
	if r := v.root(id); r.home != nil {
		v.dirty[r.home] = true
	}
	if cv.parent != "" {
		delete(v.children[cv.parent], id)
	}
	if cv.home != nil {
		delete(cv.home.roots, id)
		cv.home = nil
	}
	cv.parent = parent
	if parent != "" {
		if v.children[parent] == nil {
			v.children[parent] = map[string]bool{}
		}
		v.children[parent][id] = true
	}
	for _, d := range v.subtree(id) {
		v.redoCalls[d] = true
	}
}

// subtree is id and the calls under it, at most 64 levels deep.
func (v *view) subtree(id string) []string {
	out, level := []string{id}, []string{id}
	seen := map[string]bool{id: true}
	for depth := 0; depth < 64 && len(level) > 0; depth++ {
		var next []string
		for _, p := range level {
			for c := range v.children[p] {
				if !seen[c] {
					seen[c] = true
					next = append(next, c)
				}
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

// isAncestor reports whether id is already above candidate in the tree, so attaching
// id under candidate would make a cycle.
func (v *view) isAncestor(id, candidate string) bool {
	cur := candidate
	for i := 0; i < 64 && cur != ""; i++ {
		if cur == id {
			return true
		}
		cur = v.calls[cur].parent
	}
	return false
}

// root is the top of the tree a call is in.
func (v *view) root(id string) *callView {
	r := v.calls[id]
	for i := 0; r.parent != "" && i < 64; i++ {
		r = v.calls[r.parent]
	}
	return r
}

// attribute gives each call redone a prompt: its root call's, else its own, else the
// prompt running when it started. A root call is listed under that prompt (or with the
// unattached calls), and every tree a redone call is in is rebuilt. A call that changes
// prompt moves the responses that name it and the commits it made.
func (v *view) attribute() {
	for id := range v.redoCalls {
		cv := v.calls[id]
		pid := firstNonEmpty(v.root(id).own, cv.own)
		if pid == "" {
			pid = v.placeAt(cv.call.StartedAt)
		}
		if pid != cv.prompt {
			for _, k := range v.callUsage[id] {
				v.redoUsage[k] = true
			}
		}
		cv.prompt = pid
		if cv.parent != "" {
			continue
		}
		if h := v.home(pid); h != cv.home {
			if cv.home != nil {
				delete(cv.home.roots, id)
				v.dirty[cv.home] = true
			}
			cv.home = h
			h.roots[id] = true
		}
	}
	for id := range v.redoCalls {
		if h := v.root(id).home; h != nil {
			v.dirty[h] = true
		}
	}
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
