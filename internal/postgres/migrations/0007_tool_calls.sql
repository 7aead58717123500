-- Every tool call (subagents' too), for the Tools page: calls, failures, rejections and
-- durations per tool over a range. Rewritten with its prompt's row.
CREATE TABLE tool_calls (
    session_id  text COLLATE "C" NOT NULL,
    prompt_idx  integer NOT NULL,
    tool_use_id text COLLATE "C" NOT NULL,
    name        text NOT NULL,
    mcp_server  text NOT NULL,
    status      text NOT NULL,
    started_ms  bigint NOT NULL,
    duration_ms bigint NOT NULL,
    command     text NOT NULL,
    PRIMARY KEY (session_id, prompt_idx, tool_use_id)
);
CREATE INDEX tool_calls_started ON tool_calls (started_ms);
