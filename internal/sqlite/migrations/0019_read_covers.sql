-- Indexes that hold what the dashboard's pages read, so a page at a million events reads
-- index entries in order instead of a wide row per session or rollup row:
--
-- A page of sessions sorted by cost or duration within a range (the Costs page's most
-- expensive sessions) walked the range in sessions_started and read each session's row
-- for the sort key: ten thousand rows for ten. With the sort keys and the status
-- filter's columns in the index, the page is chosen from the index alone and only its
-- rows are read (ListSessions looks them up last).
DROP INDEX sessions_started;
CREATE INDEX sessions_started ON sessions (started_ms, id, user, repo, branch, cost_usd, prompt_count,
    tool_call_count, error_count, commit_count, pr_count, lines_added, lines_removed, input_tokens,
    output_tokens, cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
    cache_read_tokens, web_search_requests, cost_key, duration_ms, status, last_event_ms);

-- Daily cost reads whole days of usage_daily by day; the rollup's key is in every index
-- entry already, and now its sums are too.
DROP INDEX usage_daily_day;
CREATE INDEX usage_daily_day ON usage_daily (day, cost_usd, input_tokens, output_tokens, cache_creation_tokens,
    cache_creation_5m_tokens, cache_creation_1h_tokens, cache_read_tokens, web_search_requests);
