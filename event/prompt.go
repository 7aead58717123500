package event

import "strings"

// Origins of a user turn that nobody typed. Claude Code injects these as user messages
// (and fires UserPromptSubmit for some of them): counting them as prompts would inflate
// a session's prompt count and put a background task's report where the user's first
// prompt belongs. The projection shows them as system notes instead.
const (
	OriginTaskNotification = "task-notification" // a background task (subagent, shell) finished
	OriginLocalCommand     = "local-command"     // a local slash command's output or caveat
	OriginCompactSummary   = "compact-summary"   // the summary a compacted conversation continues from
	OriginInterrupted      = "interrupted"       // the marker of a request the user interrupted
)

// originPrefixes are how each injected turn begins, as Claude Code writes it.
var originPrefixes = []struct{ prefix, origin string }{
	{"<task-notification>", OriginTaskNotification},
	{"<local-command-stdout>", OriginLocalCommand},
	{"<local-command-stderr>", OriginLocalCommand},
	{"<local-command-caveat>", OriginLocalCommand},
	{"This session is being continued from a previous conversation", OriginCompactSummary},
	{"[Request interrupted by user", OriginInterrupted},
}

// PromptOrigin says which injected turn a prompt's text is, or "" for a prompt a person
// typed. The hook reads it from the whole text before the privacy tier drops it, so tier
// 1 keeps the distinction without keeping the text.
func PromptOrigin(text string) string {
	text = strings.TrimLeft(text, " \t\r\n")
	for _, p := range originPrefixes {
		if strings.HasPrefix(text, p.prefix) {
			return p.origin
		}
	}
	return ""
}
