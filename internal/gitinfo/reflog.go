package gitinfo

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/agent-trace/agent-trace/internal/gitinfo/head"
)

// reflogEntry is one line of a reflog: "<old> <new> <who> <unix-time> <tz>\t<message>".
type reflogEntry struct {
	Old, New string
	Time     int64
	Message  string
}

// readReflog parses a reflog file; a missing or unreadable file gives no entries, since
// reflogs are a convenience git may have disabled or expired.
func readReflog(path string) []reflogEntry {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []reflogEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		meta, msg, _ := strings.Cut(line, "\t")
		fields := strings.Fields(meta)
		if len(fields) < 4 {
			continue
		}
		// The identity may contain spaces; the time and zone are always the last two.
		ts, err := strconv.ParseInt(fields[len(fields)-2], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, reflogEntry{Old: fields[0], New: fields[1], Time: ts, Message: msg})
	}
	return out
}

func isZeroSHA(s string) bool { return s != "" && strings.Trim(s, "0") == "" }

// switchTarget parses the HEAD reflog message git checkout and git switch both write.
func switchTarget(msg string) (from, to string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "checkout: moving from ")
	if !ok {
		return "", "", false
	}
	from, to, ok = strings.Cut(rest, " to ")
	return from, to, ok
}

// branchCreated tells whether the call also created After.Branch. git keeps no "created
// by whom" record; the branch's own reflog begins with its creation (old SHA all zeros).
//
// When the call's times are known the rule is exact: created iff that creation entry's
// time falls inside the call.
//
// Without times it reads the reflogs' order, and answers "created" only when it is
// unambiguous: the creation entry says "branch: Created from" (git branch, checkout -b,
// switch -c, a checkout that makes a local branch from origin/x, worktree add -b; not the
// initial commit's branch, nor a clone's), and the HEAD reflog holds exactly one switch
// that matches this call (from Before's branch, or its SHA when detached, leaving
// Before.Head, onto After.Branch), and that switch is the first onto the branch since its
// creation. Repeated identical switches, or missing reflogs (core.logAllRefUpdates off),
// give false: only the switch is recorded. A branch made with `git branch x` outside any
// call and first checked out by this call counts as created by it.
func branchCreated(call Call) bool {
	before, after := call.Before, call.After
	_, gitDir, commonDir, err := head.Locate(call.Dir)
	if err != nil {
		return false
	}
	branchLog := readReflog(filepath.Join(commonDir, "logs", "refs", "heads", filepath.FromSlash(after.Branch)))
	if len(branchLog) == 0 || !isZeroSHA(branchLog[0].Old) {
		return false
	}
	creation := branchLog[0]
	if call.known() {
		return call.within(creation.Time)
	}
	if !strings.HasPrefix(creation.Message, "branch: Created from") {
		return false
	}

	matches, firstAfterCreation := 0, -1
	for i, e := range readReflog(filepath.Join(gitDir, "logs", "HEAD")) {
		from, to, ok := switchTarget(e.Message)
		if !ok || to != after.Branch {
			continue
		}
		if firstAfterCreation < 0 && e.Time >= creation.Time {
			firstAfterCreation = i
		}
		// From a detached HEAD git names the commit instead of a branch.
		fromOK := from == before.Branch || (before.Branch == "" && before.Head != "" && from == before.Head)
		if fromOK && (before.Head == "" || e.Old == before.Head) {
			matches++
			if matches == 1 && i != firstAfterCreation {
				return false
			}
		}
	}
	return matches == 1
}
