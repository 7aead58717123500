-- The live change feed shared by every server on this database: each server's SSE hub
-- numbers its events by these ids, so a client resumes on any server with the
-- Last-Event-ID another one gave it. Rows are small notices, not session state, and are
-- pruned after a while; live_pruned records up to which id they are gone, so a resume
-- from before it is told to resync rather than silently missing changes.
CREATE TABLE live_changes (
    id         bigserial PRIMARY KEY,
    type       text NOT NULL,
    session_id text NOT NULL,
    user_name  text NOT NULL,          -- the session's user: restricted streams filter on it
    data       bytea NOT NULL,
    -- clock_timestamp, not now(): rows are written in id order under a lock, so the
    -- times increase with the ids and pruning by age removes a prefix.
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE live_pruned (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    through bigint NOT NULL
);
INSERT INTO live_pruned (through) VALUES (0);
