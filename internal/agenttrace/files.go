package agenttrace

import (
	"sort"
	"strings"
)

// TouchedFiles lists, sorted and once each, the files a session touched: the file_path
// of every tool call (subagents' calls included) and every file its commits changed.
// Tool calls name files as Claude Code passed them (absolute paths); commits name them
// relative to the repository.
func TouchedFiles(s *Session) []string {
	set := map[string]bool{}
	var walk func(calls []ToolCall)
	walk = func(calls []ToolCall) {
		for _, c := range calls {
			if c.FilePath != "" {
				set[c.FilePath] = true
			}
			walk(c.Children)
		}
	}
	for _, p := range s.Prompts {
		walk(p.ToolCalls)
	}
	for _, c := range s.Commits {
		for _, f := range c.Files {
			if f != "" {
				set[f] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// PathMatches reports whether a stored file path is the one query names: the same path,
// or one that ends with "/" + query, so "store.go" and "internal/sqlite/store.go" both
// find "/home/me/repo/internal/sqlite/store.go" without the asker knowing the checkout's
// location. Matching is exact in case, as file systems on Linux are.
func PathMatches(stored, query string) bool {
	query = strings.TrimPrefix(query, "./")
	if query == "" {
		return false
	}
	return stored == query || strings.HasSuffix(stored, "/"+query)
}

// ValidSHAPrefix reports whether s can name a commit: 4 to 40 hex digits.
func ValidSHAPrefix(s string) bool {
	if len(s) < 4 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
