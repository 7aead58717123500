// Package gittest builds real git repositories with the git CLI for the gitinfo tests.
//
// Every command runs with a fixed identity and clock and with HOME pointing at an empty
// temporary directory, so the user's global config (aliases, hooks, signing, default
// branch) cannot change what the tests see.
package gittest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Env is the environment every git command in the tests runs with.
func Env(home string) []string {
	env := []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada Tester",
		"GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z",
		"GIT_COMMITTER_NAME=Ada Tester",
		"GIT_COMMITTER_EMAIL=ada@example.com",
		"GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
		"GIT_TERMINAL_PROMPT=0",
		"LANG=C",
		"LC_ALL=C",
	}
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return env
}

// Repo is a repository under t.TempDir().
type Repo struct {
	T    testing.TB
	Dir  string // the work tree root
	Home string // HOME for every command
}

// Init creates a repository whose initial branch is main.
func Init(t testing.TB) *Repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git CLI not found: %v", err)
	}
	base := t.TempDir()
	r := &Repo{T: t, Dir: filepath.Join(base, "repo"), Home: filepath.Join(base, "home")}
	for _, d := range []string{r.Dir, r.Home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.Git("init", "-q", "-b", "main")
	return r
}

// Run runs name with args in dir (relative to the work tree) and returns its combined
// output; it fails the test when the command fails.
func (r *Repo) Run(dir, name string, args ...string) string {
	r.T.Helper()
	out, err := r.TryRun(dir, name, args...)
	if err != nil {
		r.T.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// TryRun is Run that returns the error instead of failing the test.
func (r *Repo) TryRun(dir, name string, args ...string) (string, error) {
	r.T.Helper()
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(r.Dir, dir)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = Env(r.Home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Git runs git in the work tree root.
func (r *Repo) Git(args ...string) string {
	r.T.Helper()
	return r.Run(".", "git", args...)
}

// Sh runs a shell command line in the work tree root, as a Bash tool call would.
func (r *Repo) Sh(line string) (string, error) {
	r.T.Helper()
	return r.TryRun(".", "sh", "-c", line)
}

// ShAt is Sh with git's clock set to when: commits and reflog entries the line writes
// carry that time, so tests can give each call its own time window.
func (r *Repo) ShAt(when time.Time, line string) (string, error) {
	r.T.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = r.Dir
	stamp := when.UTC().Format(time.RFC3339)
	for _, kv := range Env(r.Home) {
		switch {
		case strings.HasPrefix(kv, "GIT_AUTHOR_DATE="):
			kv = "GIT_AUTHOR_DATE=" + stamp
		case strings.HasPrefix(kv, "GIT_COMMITTER_DATE="):
			kv = "GIT_COMMITTER_DATE=" + stamp
		}
		cmd.Env = append(cmd.Env, kv)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// RevParse returns the full SHA of rev.
func (r *Repo) RevParse(rev string) string {
	r.T.Helper()
	return strings.TrimSpace(r.Git("rev-parse", rev))
}

// Write writes content to a file relative to the work tree, creating directories.
func (r *Repo) Write(name, content string) {
	r.T.Helper()
	p := filepath.Join(r.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.T.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.T.Fatal(err)
	}
}

// Commit writes files, stages everything and commits with msg; it returns the new SHA.
func (r *Repo) Commit(msg string, files map[string]string) string {
	r.T.Helper()
	for name, content := range files {
		r.Write(name, content)
	}
	r.Git("add", "-A")
	r.Git("commit", "-q", "-m", msg)
	return r.RevParse("HEAD")
}

// Lines returns n numbered lines, for files whose diff sizes the tests assert.
func Lines(prefix string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}
