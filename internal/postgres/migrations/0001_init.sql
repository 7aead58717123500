-- The event log is the per-session source every other table is projected from; Ingest
-- rebuilds a touched session's rows in the same transaction, under an advisory lock on
-- the session so concurrent server processes serialise their re-projections.
-- Every text key is COLLATE "C": pages sort and compare bytewise, as on every backend.
CREATE TABLE events (
    id          text COLLATE "C" PRIMARY KEY,
    session_id  text COLLATE "C" NOT NULL,
    kind        text NOT NULL,
    time_ns     bigint NOT NULL,           -- Unix nanoseconds: exact event order
    usage_total bigint NOT NULL DEFAULT 0, -- usage events: keep the larger reading
    body        bytea NOT NULL             -- the event as JSON, byte-exact
);
CREATE INDEX events_session_time ON events (session_id, time_ns, id);

CREATE TABLE sessions (
    id              text COLLATE "C" PRIMARY KEY,
    started_ms      bigint NOT NULL,
    ended_ms        bigint,
    last_event_ms   bigint NOT NULL,
    status          text NOT NULL,
    duration_ms     bigint NOT NULL,
    "user"          text COLLATE "C" NOT NULL,
    host            text NOT NULL,
    repo            text COLLATE "C" NOT NULL,
    branch          text NOT NULL,
    cost_usd        double precision,          -- NULL when a model could not be priced
    cost_key        double precision NOT NULL, -- sort key: cost_usd, -1 when unknown
    prompt_count    integer NOT NULL,
    tool_call_count integer NOT NULL,
    error_count     integer NOT NULL,
    commit_count    integer NOT NULL,
    pr_count        integer NOT NULL,
    lines_added     integer NOT NULL,
    lines_removed   integer NOT NULL,
    input_tokens    bigint NOT NULL,
    output_tokens   bigint NOT NULL,
    cache_creation_tokens    bigint NOT NULL,
    cache_creation_5m_tokens bigint NOT NULL,
    cache_creation_1h_tokens bigint NOT NULL,
    cache_read_tokens        bigint NOT NULL,
    web_search_requests      bigint NOT NULL,
    summary         bytea NOT NULL, -- SessionSummary JSON, for lists
    detail          bytea NOT NULL  -- Session JSON, for the session page
);
CREATE INDEX sessions_started ON sessions (started_ms, id);
CREATE INDEX sessions_cost ON sessions (cost_key, id);
CREATE INDEX sessions_duration ON sessions (duration_ms, id);
CREATE INDEX sessions_last_event ON sessions (last_event_ms);
CREATE INDEX sessions_user ON sessions ("user", started_ms);
CREATE INDEX sessions_repo ON sessions (repo, started_ms);

-- Multi-valued session attributes used as filters: facet 'model' or 'branch'.
CREATE TABLE session_facets (
    facet      text NOT NULL,
    value      text NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (facet, value, session_id)
);
CREATE INDEX session_facets_session ON session_facets (session_id);

CREATE TABLE prompts (
    session_id text COLLATE "C" NOT NULL,
    prompt_id  text NOT NULL,
    idx        integer NOT NULL,
    started_ms bigint NOT NULL,
    text       text NOT NULL,
    PRIMARY KEY (session_id, idx)
);

CREATE TABLE commits (
    session_id   text COLLATE "C" NOT NULL,
    sha          text COLLATE "C" NOT NULL,
    committed_ms bigint NOT NULL,
    repo         text NOT NULL,
    "user"       text NOT NULL,
    body         bytea NOT NULL,
    PRIMARY KEY (session_id, sha)
);
CREATE INDEX commits_time ON commits (committed_ms, sha, session_id);

CREATE TABLE pull_requests (
    session_id text COLLATE "C" NOT NULL,
    pr_key     text COLLATE "C" NOT NULL, -- forge/owner/repo#number
    seen_ms    bigint NOT NULL,
    repo       text NOT NULL,
    "user"     text NOT NULL,
    body       bytea NOT NULL,
    PRIMARY KEY (session_id, pr_key)
);
CREATE INDEX pull_requests_time ON pull_requests (seen_ms, pr_key, session_id);

-- One row per deduplicated API response as the projection counted it. It answers
-- analytics when no ClickHouse is configured, and is the previous state that Ingest
-- diffs against to send ClickHouse only the rows that changed.
CREATE TABLE usage_facts (
    event_id   text COLLATE "C" PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL,
    time_ms    bigint NOT NULL,
    session_started_ms bigint NOT NULL,
    model      text COLLATE "C" NOT NULL,
    "user"     text COLLATE "C" NOT NULL,
    repo       text COLLATE "C" NOT NULL,
    input_tokens             bigint NOT NULL,
    output_tokens            bigint NOT NULL,
    cache_creation_tokens    bigint NOT NULL,
    cache_creation_5m_tokens bigint NOT NULL,
    cache_creation_1h_tokens bigint NOT NULL,
    cache_read_tokens        bigint NOT NULL,
    web_search_requests      bigint NOT NULL,
    cost_usd   double precision -- NULL when the model could not be priced
);
CREATE INDEX usage_facts_time ON usage_facts (time_ms);
CREATE INDEX usage_facts_session ON usage_facts (session_id);

-- Versions of ClickHouse usage rows: taken under a session's advisory lock, so the latest
-- projection of a response always carries the largest version.
CREATE SEQUENCE usage_version;

CREATE TABLE tokens (
    id           text COLLATE "C" PRIMARY KEY,
    name         text NOT NULL,
    scope        text NOT NULL,
    secret_hash  text NOT NULL UNIQUE,
    created_ms   bigint NOT NULL,
    last_used_ms bigint,
    revoked_ms   bigint
);

-- Small facts about the database itself, e.g. which projection rules and prices the
-- stored sessions were projected with (see Store.Refresh).
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
