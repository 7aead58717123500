// Package projection folds a session's raw events into its agenttrace.Session: the
// prompts, tool-call trees, usage and cost, commits and pull requests that the API and the
// dashboard show.
//
// It is its own package, apart from the domain types in internal/agenttrace, because the
// rules are the part that grows: every new event kind (OTel's api_request, tool_decision
// …) is one more handler in a table, not one more case in a long switch. A session is
// folded by a Projector that takes events in batches, in any order and with duplicates,
// and gives the same Session as Project of all of them at once, so a store can fold what
// an ingest adds instead of re-reading everything it holds.
package projection
