-- Every tool call (subagents' too), for the Tools page: calls, failures, rejections and
-- durations per tool over a range. Rewritten with its prompt's row.
CREATE TABLE tool_calls (
    session_id  TEXT NOT NULL,
    prompt_idx  INTEGER NOT NULL,
    tool_use_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    mcp_server  TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    command     TEXT NOT NULL,           -- a failed Bash call's first line (tier 2+), else ''
    PRIMARY KEY (session_id, prompt_idx, tool_use_id)
) WITHOUT ROWID;
CREATE INDEX tool_calls_started ON tool_calls (started_ms);
-- Stored sessions get their rows when the projection stamp changes (sqlstore.RowsVersion).
