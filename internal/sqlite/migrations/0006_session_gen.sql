-- A generation per session, raised by every transaction that changes the session's
-- events or projection (ingest, re-projection, deletion). The store keeps a live
-- session's projection in memory between ingests and uses it only when the generation it
-- saw is the one just before its own: a replaced copy of an event, another process on the
-- same file, or a late cache write all show as a gap.
CREATE TABLE session_gen (
    session_id TEXT PRIMARY KEY,
    gen        INTEGER NOT NULL
) WITHOUT ROWID;
