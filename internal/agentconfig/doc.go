// Package agentconfig is the client side's own settings and voice: config.json in the
// agent-trace home (collector URL, token, privacy tier, spool cap), the environment
// variables that override it, and hook.log, where the hook and the deliverer say what
// went wrong without ever writing to Claude Code's stdout or the user's terminal.
package agentconfig
