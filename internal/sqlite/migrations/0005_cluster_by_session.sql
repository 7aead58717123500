-- Event IDs are hashes, so an index on the ID alone puts every new event on a random
-- page: a batch of 500 dirtied hundreds of pages and each commit wrote megabytes. Keying
-- events and usage rows by (session_id, id) keeps a session's rows together. IDs embed
-- the session, so uniqueness within a session is uniqueness.
CREATE TABLE events_new (
    session_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    time_ns     INTEGER NOT NULL,
    usage_total INTEGER NOT NULL DEFAULT 0,
    body        BLOB NOT NULL,
    UNIQUE (session_id, id)
);
INSERT INTO events_new (session_id, id, kind, time_ns, usage_total, body)
    SELECT session_id, id, kind, time_ns, usage_total, body FROM events ORDER BY session_id, time_ns;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_session_time ON events (session_id, time_ns, id);

CREATE TABLE usage_facts_new (
    session_id TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    time_ms    INTEGER NOT NULL,
    day        TEXT NOT NULL,
    model      TEXT NOT NULL,
    user       TEXT NOT NULL,
    repo       TEXT NOT NULL,
    input_tokens             INTEGER NOT NULL,
    output_tokens            INTEGER NOT NULL,
    cache_creation_tokens    INTEGER NOT NULL,
    cache_creation_5m_tokens INTEGER NOT NULL,
    cache_creation_1h_tokens INTEGER NOT NULL,
    cache_read_tokens        INTEGER NOT NULL,
    cost_usd   REAL,
    web_search_requests INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, event_id)
);
INSERT INTO usage_facts_new SELECT session_id, event_id, time_ms, day, model, user, repo, input_tokens,
    output_tokens, cache_creation_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens,
    cache_read_tokens, cost_usd, web_search_requests FROM usage_facts;
DROP TABLE usage_facts;
ALTER TABLE usage_facts_new RENAME TO usage_facts;
CREATE INDEX usage_facts_time ON usage_facts (time_ms);
