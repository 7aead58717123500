-- The event log is the source of truth; every other table is a projection of it that
-- Ingest rebuilds, per touched session, in the same transaction.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    time_ns     INTEGER NOT NULL,               -- Unix nanoseconds: exact event order
    usage_total INTEGER NOT NULL DEFAULT 0, -- usage events: keep the larger reading
    body        BLOB NOT NULL               -- the event as JSON
);
CREATE INDEX events_session_time ON events (session_id, time_ns, id);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    started_ms      INTEGER NOT NULL,
    ended_ms        INTEGER,
    last_event_ms   INTEGER NOT NULL,
    status          TEXT NOT NULL,
    duration_ms     INTEGER NOT NULL,
    user            TEXT NOT NULL,
    host            TEXT NOT NULL,
    repo            TEXT NOT NULL,
    branch          TEXT NOT NULL,
    cost_usd        REAL,                  -- NULL when a model could not be priced
    cost_key        REAL NOT NULL,         -- sort key: cost_usd, -1 when unknown
    prompt_count    INTEGER NOT NULL,
    tool_call_count INTEGER NOT NULL,
    error_count     INTEGER NOT NULL,
    commit_count    INTEGER NOT NULL,
    pr_count        INTEGER NOT NULL,
    lines_added     INTEGER NOT NULL,
    lines_removed   INTEGER NOT NULL,
    input_tokens    INTEGER NOT NULL,
    output_tokens   INTEGER NOT NULL,
    cache_creation_tokens    INTEGER NOT NULL,
    cache_creation_5m_tokens INTEGER NOT NULL,
    cache_creation_1h_tokens INTEGER NOT NULL,
    cache_read_tokens        INTEGER NOT NULL,
    summary         BLOB NOT NULL,         -- SessionSummary JSON, for lists
    detail          BLOB NOT NULL          -- Session JSON, for the session page
);
CREATE INDEX sessions_started ON sessions (started_ms, id);
CREATE INDEX sessions_cost ON sessions (cost_key, id);
CREATE INDEX sessions_duration ON sessions (duration_ms, id);
CREATE INDEX sessions_last_event ON sessions (last_event_ms);
CREATE INDEX sessions_user ON sessions (user, started_ms);
CREATE INDEX sessions_repo ON sessions (repo, started_ms);

-- Multi-valued session attributes used as filters: facet 'model' or 'branch'.
CREATE TABLE session_facets (
    facet      TEXT NOT NULL,
    value      TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (facet, value, session_id)
) WITHOUT ROWID;
CREATE INDEX session_facets_session ON session_facets (session_id);

CREATE TABLE prompts (
    session_id TEXT NOT NULL,
    prompt_id  TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    text       TEXT NOT NULL,
    PRIMARY KEY (session_id, idx)
);

CREATE TABLE commits (
    session_id   TEXT NOT NULL,
    sha          TEXT NOT NULL,
    committed_ms INTEGER NOT NULL,
    repo         TEXT NOT NULL,
    user         TEXT NOT NULL,
    body         BLOB NOT NULL,
    PRIMARY KEY (session_id, sha)
);
CREATE INDEX commits_time ON commits (committed_ms, sha, session_id);

CREATE TABLE pull_requests (
    session_id TEXT NOT NULL,
    pr_key     TEXT NOT NULL, -- forge/owner/repo#number
    seen_ms    INTEGER NOT NULL,
    repo       TEXT NOT NULL,
    user       TEXT NOT NULL,
    body       BLOB NOT NULL,
    PRIMARY KEY (session_id, pr_key)
);
CREATE INDEX pull_requests_time ON pull_requests (seen_ms, pr_key, session_id);

-- One row per deduplicated API response, for analytics.
CREATE TABLE usage_facts (
    event_id   TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    time_ms    INTEGER NOT NULL,
    day        TEXT NOT NULL, -- YYYY-MM-DD, UTC
    model      TEXT NOT NULL,
    user       TEXT NOT NULL,
    repo       TEXT NOT NULL,
    input_tokens             INTEGER NOT NULL,
    output_tokens            INTEGER NOT NULL,
    cache_creation_tokens    INTEGER NOT NULL,
    cache_creation_5m_tokens INTEGER NOT NULL,
    cache_creation_1h_tokens INTEGER NOT NULL,
    cache_read_tokens        INTEGER NOT NULL,
    cost_usd   REAL -- NULL when the model could not be priced
);
CREATE INDEX usage_facts_time ON usage_facts (time_ms);
CREATE INDEX usage_facts_session ON usage_facts (session_id);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms   INTEGER
);
