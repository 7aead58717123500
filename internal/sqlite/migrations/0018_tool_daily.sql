-- The Tools page over a range read every call in it, for its counts and its exact
-- duration percentiles: 371–637 ms at 1,000,000 events. Now:
--
-- tool_daily rolls the calls up per UTC day (days since the epoch), user, tool and MCP
-- server, so the counts read a few thousand rows. Triggers keep it in the transaction
-- that writes the calls, whatever path writes them, as usage_daily's do. The calls carry
-- their session's user so that a read scope narrower than read:all can read the rollup,
-- and a session whose user changes moves its calls with it.
--
-- tool_calls_durations orders each tool's calls by duration, so a percentile is a walk
-- from the nearer end of that tool's run (nearest rank, the count known from the
-- rollup), not a sort of the range; tool_calls_server_durations does the same for the
-- tools of each MCP server. The range index goes back to the start time alone: only the
-- partial days at a range's ends read calls by it now, and each call's write pays for
-- every column an index holds.
ALTER TABLE tool_calls ADD COLUMN user TEXT NOT NULL DEFAULT '';
UPDATE tool_calls SET user = COALESCE((SELECT user FROM sessions WHERE id = tool_calls.session_id), '');

DROP INDEX tool_calls_started;
CREATE INDEX tool_calls_started ON tool_calls (started_ms);

CREATE INDEX tool_calls_durations ON tool_calls (name, duration_ms, started_ms, status, user);
CREATE INDEX tool_calls_server_durations ON tool_calls (mcp_server, duration_ms, started_ms, status, user)
    WHERE mcp_server <> '';

CREATE TABLE tool_daily (
    day        INTEGER NOT NULL, -- started_ms / 86400000
    user       TEXT NOT NULL,
    name       TEXT NOT NULL,
    mcp_server TEXT NOT NULL,
    calls      INTEGER NOT NULL,
    errors     INTEGER NOT NULL,
    rejected   INTEGER NOT NULL,
    timed      INTEGER NOT NULL, -- ok or error: the calls the percentiles rank
    PRIMARY KEY (day, user, name, mcp_server)
) WITHOUT ROWID;

INSERT INTO tool_daily SELECT started_ms / 86400000, user, name, mcp_server, count(*),
    SUM(status = 'error'), SUM(status = 'rejected'), SUM(status IN ('ok', 'error'))
    FROM tool_calls GROUP BY 1, 2, 3, 4;

CREATE TRIGGER tool_daily_insert AFTER INSERT ON tool_calls BEGIN
    INSERT INTO tool_daily VALUES (NEW.started_ms / 86400000, NEW.user, NEW.name, NEW.mcp_server, 1,
        NEW.status = 'error', NEW.status = 'rejected', NEW.status IN ('ok', 'error'))
    ON CONFLICT (day, user, name, mcp_server) DO UPDATE SET calls = calls + 1,
        errors = errors + excluded.errors, rejected = rejected + excluded.rejected, timed = timed + excluded.timed;
END;

CREATE TRIGGER tool_daily_delete AFTER DELETE ON tool_calls BEGIN
    UPDATE tool_daily SET calls = calls - 1, errors = errors - (OLD.status = 'error'),
        rejected = rejected - (OLD.status = 'rejected'), timed = timed - (OLD.status IN ('ok', 'error'))
    WHERE day = OLD.started_ms / 86400000 AND user = OLD.user AND name = OLD.name AND mcp_server = OLD.mcp_server;
    DELETE FROM tool_daily WHERE day = OLD.started_ms / 86400000 AND user = OLD.user AND name = OLD.name
        AND mcp_server = OLD.mcp_server AND calls = 0;
END;

-- Only a change of what the rollup counts moves a call: a duration or command that
-- changes costs no rollup work.
CREATE TRIGGER tool_daily_update AFTER UPDATE ON tool_calls
WHEN OLD.started_ms / 86400000 <> NEW.started_ms / 86400000 OR OLD.user <> NEW.user OR OLD.name <> NEW.name
    OR OLD.mcp_server <> NEW.mcp_server OR OLD.status <> NEW.status BEGIN
    UPDATE tool_daily SET calls = calls - 1, errors = errors - (OLD.status = 'error'),
        rejected = rejected - (OLD.status = 'rejected'), timed = timed - (OLD.status IN ('ok', 'error'))
    WHERE day = OLD.started_ms / 86400000 AND user = OLD.user AND name = OLD.name AND mcp_server = OLD.mcp_server;
    DELETE FROM tool_daily WHERE day = OLD.started_ms / 86400000 AND user = OLD.user AND name = OLD.name
        AND mcp_server = OLD.mcp_server AND calls = 0;
    INSERT INTO tool_daily VALUES (NEW.started_ms / 86400000, NEW.user, NEW.name, NEW.mcp_server, 1,
        NEW.status = 'error', NEW.status = 'rejected', NEW.status IN ('ok', 'error'))
    ON CONFLICT (day, user, name, mcp_server) DO UPDATE SET calls = calls + 1,
        errors = errors + excluded.errors, rejected = rejected + excluded.rejected, timed = timed + excluded.timed;
END;

CREATE TRIGGER tool_calls_follow_user AFTER UPDATE OF user ON sessions WHEN OLD.user <> NEW.user BEGIN
    UPDATE tool_calls SET user = NEW.user WHERE session_id = NEW.id;
END;
