-- usage_daily rolls usage_facts up per session, UTC day and group (model, user,
-- repository, the session's start, priced or not), as SQLite's migration 0015 does, so
-- daily cost and summaries read a row per session-day instead of one per API response,
-- and the shipper reads ClickHouse's rollup rows (SessionDays) instead of summing facts.
-- Statement triggers with transition tables keep it in the transaction that writes the
-- facts, one grouped upsert per statement: whatever path adds, changes or removes a fact
-- (ingest's upsert, a re-projection, a deletion, retention), the rollup follows, so
-- re-sent, late and out-of-order events leave it equal to a recomputation
-- (TestUsageDailyFollowsFacts). A row goes when its last fact does, which also drops the
-- rounding a float sum gathers on removal.
CREATE TABLE usage_daily (
    session_id text COLLATE "C" NOT NULL,
    day        bigint NOT NULL, -- time_ms / 86400000
    model      text COLLATE "C" NOT NULL,
    "user"     text COLLATE "C" NOT NULL,
    repo       text COLLATE "C" NOT NULL,
    session_started_ms bigint NOT NULL,
    priced     boolean NOT NULL, -- cost_usd IS NOT NULL
    facts      bigint NOT NULL,  -- usage_facts rows summed here
    input_tokens             bigint NOT NULL,
    output_tokens            bigint NOT NULL,
    cache_creation_tokens    bigint NOT NULL,
    cache_creation_5m_tokens bigint NOT NULL,
    cache_creation_1h_tokens bigint NOT NULL,
    cache_read_tokens        bigint NOT NULL,
    web_search_requests      bigint NOT NULL,
    cost_usd   double precision NOT NULL,
    PRIMARY KEY (session_id, day, model, "user", repo, session_started_ms, priced)
);
CREATE INDEX usage_daily_day ON usage_daily (day);
CREATE INDEX usage_daily_started ON usage_daily (session_started_ms);

INSERT INTO usage_daily SELECT session_id, time_ms / 86400000, model, "user", repo, session_started_ms,
    cost_usd IS NOT NULL, count(*), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
    sum(cache_creation_5m_tokens), sum(cache_creation_1h_tokens), sum(cache_read_tokens),
    sum(web_search_requests), COALESCE(sum(cost_usd), 0)
    FROM usage_facts GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- usage_daily_insert adds the facts of new_rows; usage_daily_delete takes those of
-- old_rows away and drops the groups left without facts. An update is both: two
-- triggers, its old rows taken away (the one named first fires first), then its new
-- rows added, each naming its transition table as the function expects.
CREATE FUNCTION usage_daily_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_daily AS d SELECT session_id, time_ms / 86400000, model, "user", repo, session_started_ms,
        cost_usd IS NOT NULL, count(*), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens),
        sum(cache_creation_5m_tokens), sum(cache_creation_1h_tokens), sum(cache_read_tokens),
        sum(web_search_requests), COALESCE(sum(cost_usd), 0)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (session_id, day, model, "user", repo, session_started_ms, priced) DO UPDATE SET
        facts = d.facts + EXCLUDED.facts, input_tokens = d.input_tokens + EXCLUDED.input_tokens,
        output_tokens = d.output_tokens + EXCLUDED.output_tokens,
        cache_creation_tokens = d.cache_creation_tokens + EXCLUDED.cache_creation_tokens,
        cache_creation_5m_tokens = d.cache_creation_5m_tokens + EXCLUDED.cache_creation_5m_tokens,
        cache_creation_1h_tokens = d.cache_creation_1h_tokens + EXCLUDED.cache_creation_1h_tokens,
        cache_read_tokens = d.cache_read_tokens + EXCLUDED.cache_read_tokens,
        web_search_requests = d.web_search_requests + EXCLUDED.web_search_requests,
        cost_usd = d.cost_usd + EXCLUDED.cost_usd;
    RETURN NULL;
END $$;

CREATE FUNCTION usage_daily_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usage_daily AS d SET facts = d.facts - o.facts, input_tokens = d.input_tokens - o.input_tokens,
        output_tokens = d.output_tokens - o.output_tokens,
        cache_creation_tokens = d.cache_creation_tokens - o.cache_creation_tokens,
        cache_creation_5m_tokens = d.cache_creation_5m_tokens - o.cache_creation_5m_tokens,
        cache_creation_1h_tokens = d.cache_creation_1h_tokens - o.cache_creation_1h_tokens,
        cache_read_tokens = d.cache_read_tokens - o.cache_read_tokens,
        web_search_requests = d.web_search_requests - o.web_search_requests, cost_usd = d.cost_usd - o.cost_usd
    FROM (SELECT session_id, time_ms / 86400000 AS day, model, "user", repo, session_started_ms,
        cost_usd IS NOT NULL AS priced, count(*) AS facts, sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens, sum(cache_creation_tokens) AS cache_creation_tokens,
        sum(cache_creation_5m_tokens) AS cache_creation_5m_tokens, sum(cache_creation_1h_tokens) AS cache_creation_1h_tokens,
        sum(cache_read_tokens) AS cache_read_tokens, sum(web_search_requests) AS web_search_requests,
        COALESCE(sum(cost_usd), 0) AS cost_usd
        FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6, 7) o
    WHERE (d.session_id, d.day, d.model, d."user", d.repo, d.session_started_ms, d.priced) =
        (o.session_id, o.day, o.model, o."user", o.repo, o.session_started_ms, o.priced);
    DELETE FROM usage_daily WHERE facts = 0 AND session_id IN (SELECT DISTINCT session_id FROM old_rows);
    RETURN NULL;
END $$;

CREATE TRIGGER usage_daily_insert AFTER INSERT ON usage_facts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_insert();
CREATE TRIGGER usage_daily_delete AFTER DELETE ON usage_facts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_delete();
CREATE TRIGGER usage_daily_update_1_old AFTER UPDATE ON usage_facts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_delete();
CREATE TRIGGER usage_daily_update_2_new AFTER UPDATE ON usage_facts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_insert();
