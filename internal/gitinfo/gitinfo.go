// Package gitinfo turns two git states captured around a Bash tool call into facts: the
// commits the call made and the branches it created or switched to.
//
// The hook records HEAD cheaply (package head) before and after each Bash call; the
// deliverer later calls Outcomes with both states. Everything is read by SHA from the
// object database with go-git, so a session delivered a week late still gets exactly the
// commits it made: objects never change, only refs move.
package gitinfo

import (
	"container/heap"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/diff"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/gitinfo/head"
)

// Limits keep one odd call (a pull of a huge history, an import of a foreign repository)
// from stalling the deliverer.
const (
	// MaxCommits is the most commits Outcomes returns for one call; past it the newest
	// are kept.
	MaxCommits = 1000
	// maxWalk bounds the commits visited while separating new commits from old ones.
	maxWalk = 50000
)

var (
	// ErrRepositoryGone means the repository no longer exists at the recorded path. It is
	// permanent: retrying later cannot bring it back.
	ErrRepositoryGone = errors.New("repository not found")
	// ErrObjectMissing means a recorded SHA is not in the object database (garbage
	// collected, or the directory now holds another repository). Also permanent.
	ErrObjectMissing = errors.New("commit object missing")
)

// IsPermanent reports whether err means the facts can never be read, so the caller should
// drop the enrichment rather than retry it.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrRepositoryGone) || errors.Is(err, ErrObjectMissing)
}

func open(dir string) (*git.Repository, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open repository %s: %w", dir, ErrRepositoryGone)
	}
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("open repository %s: %w", dir, ErrRepositoryGone)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return r, nil
}

// Info reads the repository state with go-git, for the deliverer when it has no
// capture-time state. An unborn branch gives Branch and an empty Head; a detached HEAD
// gives Head and an empty Branch.
func Info(dir string) (event.GitState, error) {
	r, err := open(dir)
	if err != nil {
		return event.GitState{}, err
	}
	var st event.GitState
	if wt, err := r.Worktree(); err == nil {
		st.Root = wt.Filesystem.Root()
	}
	st.Remote = originOf(r)

	ref, err := r.Reference(plumbing.HEAD, false)
	if err != nil {
		return event.GitState{}, fmt.Errorf("read HEAD: %w", err)
	}
	if ref.Type() == plumbing.SymbolicReference {
		st.Branch = strings.TrimPrefix(ref.Target().String(), "refs/heads/")
	}
	resolved, err := r.Reference(plumbing.HEAD, true)
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		// Unborn branch: HEAD names a branch that has no commit yet.
	case err != nil:
		return event.GitState{}, fmt.Errorf("resolve HEAD: %w", err)
	default:
		st.Head = resolved.Hash().String()
	}
	return st, nil
}

// originOf returns origin's first URL, normalised; "" without origin.
func originOf(r *git.Repository) string {
	rem, err := r.Remote("origin")
	if err != nil || len(rem.Config().URLs) == 0 {
		return ""
	}
	return head.NormalizeRemote(rem.Config().URLs[0])
}

// Outcomes returns what a successful Bash call did to the repository at dir, given the
// states captured before and after it. It is OutcomesOf without the call's times; see
// there for the rules.
func Outcomes(dir string, before, after event.GitState) ([]event.Commit, []event.Branch, error) {
	return OutcomesOf(Call{Dir: dir, Before: before, After: after})
}

// Call is one Bash tool call as the hook saw it.
type Call struct {
	Dir           string
	Before, After event.GitState
	// Start and End are when the hook captured Before (PreToolUse) and After
	// (PostToolUse). Zero when unknown; when known they turn heuristics into facts, see
	// OutcomesOf.
	Start, End time.Time
}

// known reports whether the call's time window is known.
func (c Call) known() bool { return !c.Start.IsZero() && !c.End.IsZero() && !c.End.Before(c.Start) }

// within reports whether a git timestamp (whole seconds) falls inside the call. git
// truncates to the second, so the window is widened to whole seconds and no further.
func (c Call) within(unix int64) bool {
	return unix >= c.Start.Unix() && unix <= c.End.Unix()
}

// OutcomesOf returns what a successful Bash call did. Call it only for calls that
// succeeded: a failed `git commit` leaves HEAD where it was and so yields nothing anyway.
//
// Commits: when HEAD moved, every commit reachable from After.Head and not from
// Before.Head (all of After's history when Before was unborn), oldest first (parents
// before children), at most MaxCommits. A reset or checkout backwards yields none; an
// amend yields the new commit. When the call's times are known, only commits whose
// committer time falls inside the call count: that leaves out commits a `git pull`
// fast-forwarded in or a `git switch` to a branch with older commits reached, which were
// not made by the call. Each carries its message, author time, the branch HEAD was on
// afterwards, the normalised origin, and files and lines changed against its first
// parent (merges included), with rename detection as `git show --stat` does.
//
// Branches: when the branch changed, a "switched" event (From = Before's branch) and,
// before it, a "created" event when the call created the branch (see branchCreated).
//
// States from two different work trees (Before.Root != After.Root) yield nothing.
func OutcomesOf(call Call) ([]event.Commit, []event.Branch, error) {
	before, after := call.Before, call.After
	if before.Root != "" && after.Root != "" && before.Root != after.Root {
		// The call moved to another work tree (cd into another repository): its two HEADs
		// are not two states of one thing, so there is nothing to compare.
		return nil, nil, nil
	}
	r, err := open(call.Dir)
	if err != nil {
		return nil, nil, err
	}
	var commits []event.Commit
	if after.Head != "" && after.Head != before.Head {
		repo := after.Remote
		if repo == "" {
			repo = originOf(r)
		}
		news, err := newCommits(r, before.Head, after.Head)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range news {
			if call.known() && !call.within(c.Committer.When.Unix()) {
				continue
			}
			fc, err := facts(c)
			if err != nil {
				return nil, nil, err
			}
			fc.Branch, fc.Repo = after.Branch, repo
			commits = append(commits, fc)
		}
	}

	var branches []event.Branch
	if after.Branch != "" && after.Branch != before.Branch {
		if branchCreated(call) {
			branches = append(branches, event.Branch{Name: after.Branch, From: before.Branch, Action: "created"})
		}
		branches = append(branches, event.Branch{Name: after.Branch, From: before.Branch, Action: "switched"})
	}
	return commits, branches, nil
}

func commitObject(r *git.Repository, sha string) (*object.Commit, error) {
	h := plumbing.NewHash(sha)
	if h.IsZero() || h.String() != sha {
		return nil, fmt.Errorf("read commit %q: not a full SHA: %w", sha, ErrObjectMissing)
	}
	c, err := r.CommitObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("read commit %s: %w", sha, ErrObjectMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", sha, err)
	}
	return c, nil
}

// facts reads one commit's message, time and first-parent diff.
func facts(c *object.Commit) (event.Commit, error) {
	fc := event.Commit{
		SHA:         c.Hash.String(),
		Message:     strings.TrimRight(c.Message, "\n"),
		CommittedAt: c.Author.When.UTC(),
	}
	tree, err := c.Tree()
	if err != nil {
		return event.Commit{}, fmt.Errorf("read tree of %s: %w", fc.SHA, err)
	}
	parentTree := &object.Tree{}
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return event.Commit{}, fmt.Errorf("read parent of %s: %w", fc.SHA, err)
		}
		if parentTree, err = p.Tree(); err != nil {
			return event.Commit{}, fmt.Errorf("read tree of %s: %w", p.Hash, err)
		}
	}
	patch, err := parentTree.Patch(tree)
	if err != nil {
		return event.Commit{}, fmt.Errorf("diff %s: %w", fc.SHA, err)
	}
	// Walk the file patches rather than use Commit.Stats, which skips binary files: a
	// commit that only adds an image still changed a file.
	for _, fp := range patch.FilePatches() {
		from, to := fp.Files()
		switch {
		case to != nil:
			fc.Files = append(fc.Files, to.Path())
		case from != nil:
			fc.Files = append(fc.Files, from.Path())
		}
		for _, ch := range fp.Chunks() {
			n := countLines(ch.Content())
			switch ch.Type() {
			case diff.Add:
				fc.LinesAdded += n
			case diff.Delete:
				fc.LinesRemoved += n
			}
		}
	}
	fc.FilesChanged = len(fc.Files)
	return fc, nil
}

// countLines counts lines as git does: a last line without newline still counts.
func countLines(s string) int {
	if s == "" {
		return 0
	}
	n := strings.Count(s, "\n")
	if s[len(s)-1] != '\n' {
		n++
	}
	return n
}

// Flags of the walk in newCommits.
const (
	fromAfter  = 1 // reachable from after.Head
	fromBefore = 2 // reachable from before.Head: not new
)

// newCommits returns the commits reachable from after and not from before, parents first.
//
// It is the walk `git rev-list after ^before` does: both tips are painted and expanded
// newest first by committer time, a commit painted from before spreads that paint to its
// ancestors (again if it was already expanded from after), and the walk stops once every
// queued commit is old history and older than every new candidate, since with sane clocks
// an older commit cannot be the parent of a newer one. Equal times (scripted commits in
// one second) simply walk on; maxWalk bounds the worst case.
func newCommits(r *git.Repository, beforeSHA, afterSHA string) ([]*object.Commit, error) {
	tip, err := commitObject(r, afterSHA)
	if err != nil {
		return nil, err
	}
	flags := map[plumbing.Hash]uint8{}
	done := map[plumbing.Hash]uint8{} // flags a commit had when its parents were painted
	commits := map[plumbing.Hash]*object.Commit{tip.Hash: tip}
	q := &commitQueue{}
	paint := func(c *object.Commit, f uint8) {
		if old := flags[c.Hash]; old|f != old {
			flags[c.Hash] = old | f
			commits[c.Hash] = c
			heap.Push(q, c)
		}
	}
	paint(tip, fromAfter)
	if beforeSHA != "" {
		base, err := commitObject(r, beforeSHA)
		if err != nil {
			return nil, err
		}
		paint(base, fromBefore)
	}

	var oldestNew time.Time // oldest commit so far painted only from after
	for steps := 0; q.Len() > 0 && steps < maxWalk; steps++ {
		if !q.anyLive(flags) && (oldestNew.IsZero() || q.peek().Committer.When.Before(oldestNew)) {
			break
		}
		c := heap.Pop(q).(*object.Commit)
		f := flags[c.Hash]
		if done[c.Hash] == f {
			continue // a duplicate entry: already expanded with these flags
		}
		done[c.Hash] = f
		if f == fromAfter && (oldestNew.IsZero() || c.Committer.When.Before(oldestNew)) {
			oldestNew = c.Committer.When
		}
		err := c.Parents().ForEach(func(p *object.Commit) error {
			paint(p, f)
			return nil
		})
		if err != nil {
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				// A shallow clone's boundary: history simply ends here.
				continue
			}
			return nil, fmt.Errorf("walk parents of %s: %w", c.Hash, err)
		}
	}

	// Order parents before children by a depth-first walk from the tip over new commits.
	var out []*object.Commit
	seen := map[plumbing.Hash]bool{}
	var visit func(h plumbing.Hash)
	visit = func(h plumbing.Hash) {
		if seen[h] || flags[h] != fromAfter {
			return
		}
		seen[h] = true
		c := commits[h]
		for _, p := range c.ParentHashes {
			visit(p)
		}
		out = append(out, c)
	}
	visit(tip.Hash)
	if len(out) > MaxCommits {
		out = out[len(out)-MaxCommits:]
	}
	return out, nil
}

// commitQueue is a max-heap of commits by committer time.
type commitQueue []*object.Commit

func (q commitQueue) Len() int           { return len(q) }
func (q commitQueue) Less(i, j int) bool { return q[i].Committer.When.After(q[j].Committer.When) }
func (q commitQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)        { *q = append(*q, x.(*object.Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}
func (q commitQueue) peek() *object.Commit { return q[0] }

// anyLive reports whether a queued commit may still be new (not painted from before).
func (q commitQueue) anyLive(flags map[plumbing.Hash]uint8) bool {
	for _, c := range q {
		if flags[c.Hash]&fromBefore == 0 {
			return true
		}
	}
	return false
}
