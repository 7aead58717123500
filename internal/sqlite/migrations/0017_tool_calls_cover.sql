-- The Tools page reads every call in a range: four small columns for the counts and
-- percentiles, and the failed commands. The range index alone sent each row to the
-- table for its columns; this one holds them, and a partial index holds the few calls
-- with a failed command, which the second query reads instead of every call.
DROP INDEX tool_calls_started;
CREATE INDEX tool_calls_started ON tool_calls (started_ms, name, mcp_server, status, duration_ms);
CREATE INDEX tool_calls_failed ON tool_calls (started_ms, command) WHERE command <> '';
