// Package claudesettings wires agent-trace into Claude Code's user settings
// (~/.claude/settings.json, or $CLAUDE_CONFIG_DIR/settings.json): it adds one exec-form
// handler per hook event and, for `init --otel`, the env variables that make Claude Code
// export its telemetry to agent-trace. It keeps every other setting, handler and variable,
// backs the file up first, and removes exactly what it added.
package claudesettings
