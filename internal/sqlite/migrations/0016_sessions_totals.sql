-- Summaries and breakdowns (people, teams, repositories, branches) total the sessions
-- that started in a range. Their rows are wide (each carries its summary and detail
-- JSON), so reading ten thousand of them read 40 MB; this index holds just the columns
-- those totals need, in start order, and takes the place of (started_ms, id), which it
-- begins with, so session lists page through it as before.
DROP INDEX sessions_started;
CREATE INDEX sessions_started ON sessions (started_ms, id, user, repo, branch, cost_usd, prompt_count,
    tool_call_count, error_count, commit_count, pr_count, lines_added, lines_removed, input_tokens,
    output_tokens, cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
    cache_read_tokens, web_search_requests);
