// Package head reads a repository's HEAD, branch, root and origin remote straight from the
// files under .git, with the standard library only.
//
// It runs inside the hook's capture path, where the budget is about a millisecond and
// spawning git or loading go-git would cost far more. It understands plain repositories,
// linked worktrees and submodules (a .git file pointing at the real git directory, with
// commondir), loose and packed refs, detached HEADs and unborn branches. Anything it
// cannot read is an error; the deliverer can fall back to gitinfo.Info (go-git).
package head

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/agent-trace/agent-trace/event"
)

// ErrNotRepository means no .git was found in dir or any of its parents.
var ErrNotRepository = errors.New("not a git repository")

// maxSymrefDepth bounds symbolic ref chains so a loop in refs cannot hang the hook.
const maxSymrefDepth = 5

// Read returns the git state of the repository containing dir.
//
// An unborn branch (a repository with no commits yet) gives the branch and an empty Head.
// A detached HEAD gives the SHA and an empty Branch. Remote is origin's URL normalised
// with NormalizeRemote, or "" when there is no origin.
func Read(dir string) (event.GitState, error) {
	root, gitDir, err := find(dir)
	if err != nil {
		return event.GitState{}, err
	}
	commonDir := commonDirOf(gitDir)

	raw, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return event.GitState{}, fmt.Errorf("read HEAD: %w", err)
	}
	st := event.GitState{Root: root, Remote: NormalizeRemote(originURL(commonDir))}

	line := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(line, "ref:") {
		if !isSHA(line) {
			return event.GitState{}, fmt.Errorf("read HEAD: unexpected content %q", line)
		}
		st.Head = line
		return st, nil
	}
	ref := strings.TrimSpace(strings.TrimPrefix(line, "ref:"))
	st.Branch = strings.TrimPrefix(ref, "refs/heads/")
	if st.Branch == ".invalid" {
		// git ≥ 2.45 with the reftable backend leaves this placeholder in HEAD; the real
		// refs live in binary tables this reader does not parse.
		return event.GitState{}, fmt.Errorf("read HEAD: reftable ref storage is not supported")
	}
	sha, err := resolve(gitDir, commonDir, ref)
	if err != nil {
		return event.GitState{}, err
	}
	st.Head = sha // "" on an unborn branch
	return st, nil
}

// Locate finds the repository containing dir: its work tree root, its git directory (a
// linked worktree's own one) and the common directory holding shared refs, packed-refs,
// config and objects (the same as gitDir outside linked worktrees).
func Locate(dir string) (root, gitDir, commonDir string, err error) {
	root, gitDir, err = find(dir)
	if err != nil {
		return "", "", "", err
	}
	return root, gitDir, commonDirOf(gitDir), nil
}

// find walks up from dir to the first directory holding .git and returns that work tree
// root and the git directory it designates.
func find(dir string) (root, gitDir string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("find repository: %w", err)
	}
	for d := abs; ; {
		p := filepath.Join(d, ".git")
		fi, err := os.Stat(p)
		if err == nil {
			if fi.IsDir() {
				return d, p, nil
			}
			gd, err := readGitFile(p)
			if err != nil {
				return "", "", err
			}
			return d, gd, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", "", fmt.Errorf("find repository from %s: %w", abs, ErrNotRepository)
		}
		d = parent
	}
}

// readGitFile follows a "gitdir: <path>" file, as linked worktrees and submodules use.
func readGitFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	line := strings.TrimSpace(string(b))
	if !strings.HasPrefix(line, "gitdir:") {
		return "", fmt.Errorf("read %s: no gitdir line", p)
	}
	gd := strings.TrimSpace(strings.TrimPrefix(line, "gitdir:"))
	if !filepath.IsAbs(gd) {
		gd = filepath.Join(filepath.Dir(p), gd)
	}
	return filepath.Clean(gd), nil
}

// commonDirOf returns the directory that holds the shared refs, packed-refs and config:
// the main repository's .git for a linked worktree, gitDir itself otherwise.
func commonDirOf(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if err != nil {
		return gitDir
	}
	cd := strings.TrimSpace(string(b))
	if cd == "" {
		return gitDir
	}
	if !filepath.IsAbs(cd) {
		cd = filepath.Join(gitDir, cd)
	}
	return filepath.Clean(cd)
}

// resolve turns a ref name into a SHA, following symbolic refs. A ref that exists nowhere
// resolves to "" without error: that is an unborn branch.
func resolve(gitDir, commonDir, ref string) (string, error) {
	for range maxSymrefDepth {
		content, ok, err := readLooseRef(gitDir, commonDir, ref)
		if err != nil {
			return "", err
		}
		if !ok {
			return packedRef(commonDir, ref)
		}
		if strings.HasPrefix(content, "ref:") {
			ref = strings.TrimSpace(strings.TrimPrefix(content, "ref:"))
			continue
		}
		if !isSHA(content) {
			return "", fmt.Errorf("read ref %s: unexpected content %q", ref, content)
		}
		return content, nil
	}
	return "", fmt.Errorf("read ref %s: symbolic refs nested deeper than %d", ref, maxSymrefDepth)
}

// readLooseRef reads a loose ref file. Per-worktree refs live in the worktree's git
// directory, shared ones in the common directory, so both are tried, worktree first.
func readLooseRef(gitDir, commonDir, ref string) (string, bool, error) {
	dirs := []string{gitDir}
	if commonDir != gitDir {
		dirs = append(dirs, commonDir)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref)))
		switch {
		case err == nil:
			return strings.TrimSpace(string(b)), true, nil
		case errors.Is(err, os.ErrNotExist), isDirError(err):
			continue
		default:
			return "", false, fmt.Errorf("read ref %s: %w", ref, err)
		}
	}
	return "", false, nil
}

// isDirError reports the error of reading a directory as a file, which happens when a ref
// name is a prefix of other refs (refs/heads/feature vs refs/heads/feature/x cannot both
// exist loose, but a stale lookup can still hit the directory).
func isDirError(err error) bool {
	var pe *os.PathError
	if !errors.As(err, &pe) {
		return false
	}
	fi, statErr := os.Stat(pe.Path)
	return statErr == nil && fi.IsDir()
}

// packedRef looks ref up in packed-refs: "<sha> <ref>" lines, "#" header, "^" peel lines.
func packedRef(commonDir, ref string) (string, error) {
	b, err := os.ReadFile(filepath.Join(commonDir, "packed-refs"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read packed-refs: %w", err)
	}
	want := []byte(ref)
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if len(line) < 42 || line[0] == '#' || line[0] == '^' {
			continue
		}
		sha, name, ok := bytes.Cut(line, []byte{' '})
		if ok && bytes.Equal(bytes.TrimRight(name, "\r"), want) && isSHA(string(sha)) {
			return string(sha), nil
		}
	}
	return "", nil
}

// originURL reads remote.origin.url from a git config file; "" when absent or unreadable,
// because a repository without origin is normal and not worth failing the read for.
func originURL(commonDir string) string {
	f, err := os.Open(filepath.Join(commonDir, "config"))
	if err != nil {
		return ""
	}
	defer f.Close()
	inOrigin := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			inOrigin = isOriginSection(line)
			continue
		}
		if !inOrigin {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(key), "url") {
			continue
		}
		return configValue(val)
	}
	return ""
}

// isOriginSection matches `[remote "origin"]` (section names are case-insensitive,
// subsection names are not).
func isOriginSection(line string) bool {
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return false
	}
	sec, sub, ok := strings.Cut(strings.TrimSpace(line[1:end]), " ")
	return ok && strings.EqualFold(sec, "remote") && strings.TrimSpace(sub) == `"origin"`
}

// configValue unquotes a config value and drops a trailing comment outside quotes.
func configValue(v string) string {
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == '\\' && i+1 < len(v):
			i++
			switch v[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(v[i])
			}
		case (c == '#' || c == ';') && !inQuote:
			return strings.TrimSpace(b.String())
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// isSHA reports whether s is a full SHA-1 or SHA-256 object name in lower-case hex.
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// NormalizeRemote turns a remote URL into host/path: no scheme, credentials, port,
// query or ".git" suffix, host lower-cased. It accepts URLs (https, ssh, git, file) and
// scp-like addresses (git@host:owner/repo.git); a local path comes back cleaned.
//
//	git@github.com:owner/repo.git              → github.com/owner/repo
//	https://user:token@github.com/owner/repo   → github.com/owner/repo
//	ssh://git@host:22/owner/repo.git           → host/owner/repo
func NormalizeRemote(raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	var host, path string
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		hostport, p := rest, ""
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			hostport, p = rest[:j], rest[j:]
		}
		if at := strings.LastIndexByte(hostport, '@'); at >= 0 {
			hostport = hostport[at+1:]
		}
		host, path = stripPort(hostport), p
		if k := strings.IndexAny(path, "?#"); k >= 0 {
			path = path[:k]
		}
	} else if c := strings.IndexByte(s, ':'); c > 0 && !strings.ContainsRune(s[:c], '/') {
		// scp-like [user@]host:path; a colon after a slash is part of a local path.
		host, path = s[:c], s[c+1:]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		host = strings.Trim(host, "[]")
	} else {
		return trimRepoPath(filepath.ToSlash(filepath.Clean(s)), false)
	}
	host = strings.ToLower(host)
	path = trimRepoPath(path, true)
	switch {
	case host == "":
		return path
	case path == "":
		return host
	}
	return host + "/" + path
}

func trimRepoPath(p string, trimLeading bool) string {
	if trimLeading && p != "" {
		p = path.Clean("/" + p) // "owner//repo" and "a/../b" name the same repository
	}
	p = strings.TrimRight(p, "/")
	p = strings.TrimSuffix(p, ".git")
	p = strings.TrimRight(p, "/")
	if trimLeading {
		p = strings.TrimLeft(p, "/")
		p = strings.TrimPrefix(p, "~") // ssh://host/~user/repo: a home path, same repo
	}
	return p
}

// stripPort removes ":port" from host:port, including the bracketed IPv6 form.
func stripPort(hostport string) string {
	if strings.HasPrefix(hostport, "[") {
		if end := strings.IndexByte(hostport, ']'); end > 0 {
			return hostport[1:end]
		}
		return hostport
	}
	if c := strings.LastIndexByte(hostport, ':'); c >= 0 {
		return hostport[:c]
	}
	return hostport
}
