// Package e2e holds agent-trace's end-to-end tests: they build the real binaries, start the
// real server, pipe recorded and live Claude Code sessions through the real hook, and check
// what arrives through the API. It has no code of its own besides the tests.
package e2e
