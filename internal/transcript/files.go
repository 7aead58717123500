package transcript

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files returns a session's transcript files: the main file, then its subagents'
// (<session>/subagents/agent-*.jsonl, in name order). The main file is listed even if it
// does not exist yet; subagent files only when they do.
func Files(mainPath string) []string {
	files := []string{mainPath}
	dir := filepath.Join(strings.TrimSuffix(mainPath, ".jsonl"), "subagents")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return files
	}
	var subs []string
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(name, "agent-") && strings.HasSuffix(name, ".jsonl") {
			subs = append(subs, filepath.Join(dir, name))
		}
	}
	sort.Strings(subs)
	return append(files, subs...)
}
