package mcp

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds on what one answer carries: a tool result lands in the model's context, where a
// session's full text (pages of prompts, long commands) would crowd out the question.
const (
	maxPromptChars  = 1000  // a prompt's text in get_session
	maxSnippetChars = 300   // a prompt quoted in a listing
	maxCommandChars = 200   // a tool call's command or path
	maxPrompts      = 40    // prompts get_session lists, the first and the last
	maxCallsShown   = 10    // tool calls get_session details per prompt
	maxSessionChars = 40000 // get_session's prompts in all: about 10k tokens
)

// truncate cuts s to at most n characters, saying how much it left out, so the model
// knows the text goes on and can ask for the session itself.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + fmt.Sprintf("… [truncated %d chars]", len(r)-n)
}

// oneLine is s with its line breaks as spaces, truncated to n characters.
func oneLine(s string, n int) string {
	return truncate(strings.Join(strings.Fields(s), " "), n)
}

// parseWhen reads a range bound: an RFC 3339 time, a YYYY-MM-DD day (UTC midnight), or
// a span back from now such as 7d, 2w or 36h. "" is the zero time (an open end).
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if n, err := strconv.Atoi(strings.TrimRight(s, "dw")); err == nil && n >= 0 {
		switch {
		case strings.HasSuffix(s, "d"):
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		case strings.HasSuffix(s, "w"):
			return now.Add(-time.Duration(n) * 7 * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339, YYYY-MM-DD, or a span back from now such as 7d, 2w or 36h", s)
}

// parseRange reads since and until; until must come after since.
func parseRange(since, until string, now time.Time) (from, to time.Time, err error) {
	if from, err = parseWhen(since, now); err != nil {
		return from, to, fmt.Errorf("since: %w", err)
	}
	if to, err = parseWhen(until, now); err != nil {
		return from, to, fmt.Errorf("until: %w", err)
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return from, to, fmt.Errorf("until (%s) must be after since (%s)", stamp(to), stamp(from))
	}
	return from, to, nil
}

// stamp formats a time for answers: UTC, to the minute.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// dollars formats a cost; unknown (unpriced) is "unpriced".
func dollars(c *float64) string {
	if c == nil {
		return "unpriced"
	}
	return fmt.Sprintf("$%.4f", *c)
}

// limit is n within 1..max, def when 0.
func limit(n, def, max int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0 || n > max:
		return 0, fmt.Errorf("limit %d: must be 1 to %d", n, max)
	}
	return n, nil
}
