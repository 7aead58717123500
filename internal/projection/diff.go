package projection

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

// DiffLines counts the added and removed lines of a structuredPatch.
func DiffLines(hunks []agenttrace.DiffHunk) (added, removed int) {
	for _, h := range hunks {
		for _, l := range h.Lines {
			switch {
			case strings.HasPrefix(l, "+"):
				added++
			case strings.HasPrefix(l, "-"):
				removed++
			}
		}
	}
	return added, removed
}

// CreateHunk is the diff of a file created with content: one hunk of added lines.
func CreateHunk(content string) []agenttrace.DiffHunk {
	if content == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	h := agenttrace.DiffHunk{OldStart: 0, OldLines: 0, NewStart: 1, NewLines: len(lines), Lines: make([]string, len(lines))}
	for i, l := range lines {
		h.Lines[i] = "+" + l
	}
	return []agenttrace.DiffHunk{h}
}

// MaxOutputBytes caps a tool call's output in the projection. Stores rewrite a session's
// projection on every ingest and the page shows the start of an output anyway; the whole
// output stays in the session's raw events.
const MaxOutputBytes = 64 << 10

func truncateOutput(s string) string {
	if len(s) <= MaxOutputBytes {
		return s
	}
	cut := MaxOutputBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("\n… [%d more bytes in the event timeline]", len(s)-cut)
}
