// Package claudesettings wires agent-trace-hook into Claude Code's user settings
// (~/.claude/settings.json, or $CLAUDE_CONFIG_DIR/settings.json): it adds one exec-form
// handler per hook event, keeps every other setting and handler byte for byte, backs the
// file up first, and removes exactly what it added.
package claudesettings
