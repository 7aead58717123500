-- The immutable event log: every event the PostgreSQL side stored, as JSON. A usage event
-- that was re-read with more tokens is inserted again with the larger total as version;
-- ReplacingMergeTree keeps the largest on merge and queries take argMax until then.
CREATE TABLE IF NOT EXISTS {db}.events (
    id         String,
    session_id String,
    kind       String,
    time_ms    Int64,
    user       String,
    repo       String,
    model      String,
    body       String,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(toDateTime(intDiv(time_ms, 1000)))
ORDER BY id;

-- One row per deduplicated, priced API response as the session projection counted it.
-- version comes from a PostgreSQL sequence taken under the session's advisory lock, so the
-- latest projection of a response wins on every replica; deleted = 1 is a tombstone.
CREATE TABLE IF NOT EXISTS {db}.usage_facts (
    event_id           String,
    session_id         String,
    time_ms            Int64,
    session_started_ms Int64,
    model              String,
    user               String,
    repo               String,
    input_tokens             Int64,
    output_tokens            Int64,
    cache_creation_tokens    Int64,
    cache_creation_5m_tokens Int64,
    cache_creation_1h_tokens Int64,
    cache_read_tokens        Int64,
    web_search_requests      Int64,
    cost_usd  Float64,
    priced    UInt8,
    deleted   UInt8,
    version   UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(toDateTime(intDiv(time_ms, 1000)))
ORDER BY event_id;

-- Daily rollup of usage_facts for the analytics queries: every change of a usage row adds
-- its difference (the old row with sign -1, the new one with +1), so sums are exact before
-- and after merges and a query reads one row per day, session and model instead of one
-- per API response. n counts rows: a group whose n sums to 0 has no usage left.
CREATE TABLE IF NOT EXISTS {db}.usage_daily (
    day                Int64,
    session_id         String,
    session_started_ms Int64,
    model              String,
    user               String,
    repo               String,
    priced             UInt8,
    n                        Int64,
    input_tokens             Int64,
    output_tokens            Int64,
    cache_creation_tokens    Int64,
    cache_creation_5m_tokens Int64,
    cache_creation_1h_tokens Int64,
    cache_read_tokens        Int64,
    web_search_requests      Int64,
    cost_usd                 Float64
) ENGINE = SummingMergeTree((n, input_tokens, output_tokens, cache_creation_tokens, cache_creation_5m_tokens,
    cache_creation_1h_tokens, cache_read_tokens, web_search_requests, cost_usd))
PARTITION BY intDiv(day, 32)
ORDER BY (day, session_id, model, user, repo, session_started_ms, priced);
