-- usage_daily summed signed differences of usage_facts, written by a second insert: a
-- batch shipped twice counted twice there, and a failure between the two inserts left
-- the two tables disagreeing for good. It goes.
DROP TABLE IF EXISTS {db}.usage_daily;

-- The rollup the analytics read instead of every usage fact: one row per session, UTC
-- day and group (model, user, repo, priced) with its absolute totals, as PostgreSQL's
-- usage facts hold them when the shipper wrote it. Absolute, not differences: writing a
-- row again changes nothing, and the latest version of a key wins (argMax at query
-- time, ReplacingMergeTree when merging). A group that is gone is written with n = 0.
CREATE TABLE IF NOT EXISTS {db}.usage_session_days (
    session_id         String,
    day                Int64,
    model              String,
    user               String,
    repo               String,
    session_started_ms Int64,
    priced             UInt8,
    n                        Int64,
    input_tokens             Int64,
    output_tokens            Int64,
    cache_creation_tokens    Int64,
    cache_creation_5m_tokens Int64,
    cache_creation_1h_tokens Int64,
    cache_read_tokens        Int64,
    web_search_requests      Int64,
    cost_usd                 Float64,
    version                  UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY intDiv(day, 32)
ORDER BY (session_id, day, model, user, repo, session_started_ms, priced)
