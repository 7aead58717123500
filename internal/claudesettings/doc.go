// Package claudesettings wires agent-trace into Claude Code's user settings
// (~/.claude/settings.json, or $CLAUDE_CONFIG_DIR/settings.json): it adds one exec-form
// handler per hook event and, for `init --otel`, the env variables that make Claude Code
// export its telemetry to agent-trace; for `init --mcp` it registers agent-trace's MCP
// server among the user-scope servers of Claude Code's global config (~/.claude.json). It
// keeps every other setting, handler, variable and key, backs the file up first, and
// removes exactly what it added.
package claudesettings
