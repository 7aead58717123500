// Package storetest is the conformance suite every agenttrace.Store passes (SQLite always,
// PostgreSQL + ClickHouse against real servers), the recorded Claude Code fixture sessions
// it checks projections against, and a generator of realistic data for benchmarks.
package storetest
