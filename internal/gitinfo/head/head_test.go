package head_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/gitinfo/head"
	"github.com/agent-trace/agent-trace/internal/gitinfo/internal/gittest"
)

func read(t *testing.T, dir string) event.GitState {
	t.Helper()
	st, err := head.Read(dir)
	if err != nil {
		t.Fatalf("Read(%s): %v", dir, err)
	}
	return st
}

func check(t *testing.T, got, want event.GitState) {
	t.Helper()
	if got != want {
		t.Errorf("Read:\n got %+v\nwant %+v", got, want)
	}
}

// realRoot resolves symlinks (macOS /var → /private/var) the way the walk sees the path.
func realRoot(t *testing.T, dir string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadBranchAndLooseRef(t *testing.T) {
	r := gittest.Init(t)
	r.Git("remote", "add", "origin", "https://bot:ghp_secret@github.com/acme/widgets.git")
	sha := r.Commit("first", map[string]string{"a.txt": "a\n", "sub/deep/b.txt": "b\n"})
	root := realRoot(t, r.Dir)
	want := event.GitState{Root: root, Remote: "github.com/acme/widgets", Branch: "main", Head: sha}

	for _, dir := range []string{root, filepath.Join(root, "sub"), filepath.Join(root, "sub", "deep")} {
		check(t, read(t, dir), want)
	}
}

func TestReadPackedRefs(t *testing.T) {
	r := gittest.Init(t)
	sha := r.Commit("first", map[string]string{"a.txt": "a\n"})
	r.Git("branch", "other")
	r.Git("pack-refs", "--all")
	if _, err := os.Stat(filepath.Join(r.Dir, ".git", "refs", "heads", "main")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pack-refs left the loose ref behind (err=%v); the test would not exercise packed-refs", err)
	}
	check(t, read(t, r.Dir), event.GitState{Root: realRoot(t, r.Dir), Branch: "main", Head: sha})

	// A loose ref written after packing wins over the stale packed line.
	sha2 := r.Commit("second", map[string]string{"a.txt": "aa\n"})
	check(t, read(t, r.Dir), event.GitState{Root: realRoot(t, r.Dir), Branch: "main", Head: sha2})
}

func TestReadDetached(t *testing.T) {
	r := gittest.Init(t)
	first := r.Commit("first", map[string]string{"a.txt": "a\n"})
	r.Commit("second", map[string]string{"a.txt": "b\n"})
	r.Git("checkout", "-q", "--detach", first)
	check(t, read(t, r.Dir), event.GitState{Root: realRoot(t, r.Dir), Head: first})
}

func TestReadUnborn(t *testing.T) {
	r := gittest.Init(t)
	check(t, read(t, r.Dir), event.GitState{Root: realRoot(t, r.Dir), Branch: "main"})
}

func TestReadLinkedWorktree(t *testing.T) {
	r := gittest.Init(t)
	r.Git("remote", "add", "origin", "git@github.com:acme/widgets.git")
	main := r.Commit("first", map[string]string{"a.txt": "a\n"})
	wt := filepath.Join(filepath.Dir(r.Dir), "wt")
	r.Git("worktree", "add", "-q", "-b", "feature", wt)
	wtRoot := realRoot(t, wt)

	check(t, read(t, wt), event.GitState{Root: wtRoot, Remote: "github.com/acme/widgets", Branch: "feature", Head: main})

	// A commit in the worktree moves only the worktree's branch, found through commondir.
	if err := os.WriteFile(filepath.Join(wt, "b.txt"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Run(wt, "git", "add", "b.txt")
	r.Run(wt, "git", "commit", "-q", "-m", "in worktree")
	feature := strings.TrimSpace(r.Run(wt, "git", "rev-parse", "HEAD"))
	if feature == main {
		t.Fatal("worktree commit did not move HEAD")
	}
	check(t, read(t, wt), event.GitState{Root: wtRoot, Remote: "github.com/acme/widgets", Branch: "feature", Head: feature})
	check(t, read(t, r.Dir), event.GitState{Root: realRoot(t, r.Dir), Remote: "github.com/acme/widgets", Branch: "main", Head: main})

	// Packed refs live in the common directory, not the worktree's.
	r.Git("pack-refs", "--all")
	check(t, read(t, wt), event.GitState{Root: wtRoot, Remote: "github.com/acme/widgets", Branch: "feature", Head: feature})
}

func TestReadSubmoduleGitFile(t *testing.T) {
	// A .git file with a relative gitdir and no commondir, as submodules have.
	r := gittest.Init(t)
	sha := r.Commit("first", map[string]string{"a.txt": "a\n"})
	moved := filepath.Join(filepath.Dir(r.Dir), "store.git")
	if err := os.Rename(filepath.Join(r.Dir, ".git"), moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir, ".git"), []byte("gitdir: ../store.git\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(t, read(t, r.Dir), event.GitState{Root: realRoot(t, r.Dir), Branch: "main", Head: sha})
}

func TestReadNotARepository(t *testing.T) {
	_, err := head.Read(t.TempDir())
	if !errors.Is(err, head.ErrNotRepository) {
		t.Fatalf("Read(empty dir) error = %v, want ErrNotRepository", err)
	}
}

func TestReadRemoteFromConfigVariants(t *testing.T) {
	r := gittest.Init(t)
	sha := r.Commit("first", map[string]string{"a.txt": "a\n"})
	// Hand-written config: other remotes first, odd case, quotes and a comment.
	cfg := `[core]
	repositoryformatversion = 0
[remote "upstream"]
	url = https://github.com/other/thing.git
[Remote "origin"]
	fetch = +refs/heads/*:refs/remotes/origin/*
	URL = "ssh://git@gitlab.example.com:2222/group/sub/proj.git" ; pushed here
`
	if err := os.WriteFile(filepath.Join(r.Dir, ".git", "config"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	check(t, read(t, r.Dir), event.GitState{Root: realRoot(t, r.Dir), Remote: "gitlab.example.com/group/sub/proj", Branch: "main", Head: sha})
}

func TestNormalizeRemote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"git@github.com:owner/repo.git", "github.com/owner/repo"},
		{"git@github.com:owner/repo", "github.com/owner/repo"},
		{"https://user:token@github.com/owner/repo", "github.com/owner/repo"},
		{"https://github.com/owner/repo.git", "github.com/owner/repo"},
		{"https://github.com/owner/repo/", "github.com/owner/repo"},
		{"https://x-access-token:ghs_abc@GitHub.com/Owner/Repo.git", "github.com/Owner/Repo"},
		{"ssh://git@host:22/owner/repo.git", "host/owner/repo"},
		{"ssh://git@[::1]:22/owner/repo.git", "::1/owner/repo"},
		{"git://github.com/owner/repo.git", "github.com/owner/repo"},
		{"https://gitlab.com/group/sub/proj.git?ref=x#frag", "gitlab.com/group/sub/proj"},
		{"https://user:p@ss@host.example/o/r", "host.example/o/r"},
		{"ssh://git@host/~user/repo.git", "host/user/repo"},
		{"  git@bitbucket.org:team/app.git\n", "bitbucket.org/team/app"},
		{"/srv/git/repo.git", "/srv/git/repo"},
		{"file:///srv/git/repo.git", "srv/git/repo"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := head.NormalizeRemote(tt.in); got != tt.want {
			t.Errorf("NormalizeRemote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	r := gittest.Init(b)
	r.Git("remote", "add", "origin", "git@github.com:acme/widgets.git")
	r.Commit("first", map[string]string{"a.txt": "a\n"})
	dir := filepath.Join(r.Dir, "sub", "deep")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		prep func()
	}{
		{"loose", func() {}},
		{"packed", func() { r.Git("pack-refs", "--all") }},
	} {
		bc.prep()
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := head.Read(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzNormalizeRemote checks that normalising never panics and never keeps a URL's
// credentials or scheme, whatever the config holds.
func FuzzNormalizeRemote(f *testing.F) {
	for _, s := range []string{"git@github.com:o/r.git", "https://u:p@h:443/o/r.git", "ssh://git@[::1]:22/o/r", "/srv/r.git", "file:///x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := head.NormalizeRemote(raw)
		if strings.Contains(raw, "://") && strings.Contains(raw, "@") {
			rest, pathPart := raw[strings.Index(raw, "://")+3:], ""
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest, pathPart = rest[:i], rest[i:]
			}
			// The same bytes may legitimately come back from the path ("://u@/u@").
			if at := strings.LastIndexByte(rest, '@'); at > 0 && strings.HasPrefix(got, rest[:at]+"@") &&
				!strings.Contains(pathPart, rest[:at]+"@") {
				t.Fatalf("NormalizeRemote(%q) = %q keeps credentials", raw, got)
			}
		}
		if strings.Contains(got, "://") {
			t.Fatalf("NormalizeRemote(%q) = %q keeps a scheme", raw, got)
		}
	})
}
