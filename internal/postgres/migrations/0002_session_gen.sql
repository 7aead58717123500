-- A generation per session, raised by every transaction that changes the session's
-- events or projection (ingest, re-projection, deletion). A replica keeps a live
-- session's projection in memory between ingests and uses it only when the generation it
-- saw is the one just before its own: any other replica's write in between shows.
CREATE TABLE session_gen (
    session_id TEXT PRIMARY KEY,
    gen        BIGINT NOT NULL
);
