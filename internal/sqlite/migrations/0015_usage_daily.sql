-- usage_daily rolls usage_facts up per UTC day, session, model, user and repository (issue
-- 14), so daily cost and summaries read a row per session-day, not one per API response.
-- Triggers keep it in the transaction that writes the facts: whatever path adds, changes
-- or removes a fact (ingest, a re-projection, a deletion, retention), the rollup follows,
-- so re-sent, late and out-of-order events leave it equal to a recomputation. A row goes
-- when its last fact does, which also drops the rounding a float sum gathers on removal.
CREATE TABLE usage_daily (
    session_id TEXT NOT NULL,
    day        TEXT NOT NULL, -- YYYY-MM-DD, UTC
    model      TEXT NOT NULL,
    user       TEXT NOT NULL,
    repo       TEXT NOT NULL,
    facts      INTEGER NOT NULL, -- usage_facts rows summed here
    unpriced   INTEGER NOT NULL, -- of which cost_usd IS NULL
    cost_usd   REAL NOT NULL,    -- the priced ones' cost
    input_tokens             INTEGER NOT NULL,
    output_tokens            INTEGER NOT NULL,
    cache_creation_tokens    INTEGER NOT NULL,
    cache_creation_5m_tokens INTEGER NOT NULL,
    cache_creation_1h_tokens INTEGER NOT NULL,
    cache_read_tokens        INTEGER NOT NULL,
    web_search_requests      INTEGER NOT NULL,
    PRIMARY KEY (session_id, day, model, user, repo)
) WITHOUT ROWID;
CREATE INDEX usage_daily_day ON usage_daily (day);

INSERT INTO usage_daily SELECT session_id, day, model, user, repo, count(*),
    SUM(cost_usd IS NULL), COALESCE(SUM(cost_usd), 0), SUM(input_tokens), SUM(output_tokens),
    SUM(cache_creation_tokens), SUM(cache_creation_5m_tokens), SUM(cache_creation_1h_tokens),
    SUM(cache_read_tokens), SUM(web_search_requests)
    FROM usage_facts GROUP BY session_id, day, model, user, repo;

CREATE TRIGGER usage_daily_insert AFTER INSERT ON usage_facts BEGIN
    INSERT INTO usage_daily VALUES (NEW.session_id, NEW.day, NEW.model, NEW.user, NEW.repo, 1,
        NEW.cost_usd IS NULL, COALESCE(NEW.cost_usd, 0), NEW.input_tokens, NEW.output_tokens,
        NEW.cache_creation_tokens, NEW.cache_creation_5m_tokens, NEW.cache_creation_1h_tokens,
        NEW.cache_read_tokens, NEW.web_search_requests)
    ON CONFLICT (session_id, day, model, user, repo) DO UPDATE SET
        facts = facts + 1, unpriced = unpriced + excluded.unpriced, cost_usd = cost_usd + excluded.cost_usd,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
        cache_creation_5m_tokens = cache_creation_5m_tokens + excluded.cache_creation_5m_tokens,
        cache_creation_1h_tokens = cache_creation_1h_tokens + excluded.cache_creation_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        web_search_requests = web_search_requests + excluded.web_search_requests;
END;

CREATE TRIGGER usage_daily_delete AFTER DELETE ON usage_facts BEGIN
    UPDATE usage_daily SET facts = facts - 1, unpriced = unpriced - (OLD.cost_usd IS NULL),
        cost_usd = cost_usd - COALESCE(OLD.cost_usd, 0),
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        cache_creation_tokens = cache_creation_tokens - OLD.cache_creation_tokens,
        cache_creation_5m_tokens = cache_creation_5m_tokens - OLD.cache_creation_5m_tokens,
        cache_creation_1h_tokens = cache_creation_1h_tokens - OLD.cache_creation_1h_tokens,
        cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
        web_search_requests = web_search_requests - OLD.web_search_requests
    WHERE session_id = OLD.session_id AND day = OLD.day AND model = OLD.model AND user = OLD.user AND repo = OLD.repo;
    DELETE FROM usage_daily WHERE session_id = OLD.session_id AND day = OLD.day AND model = OLD.model
        AND user = OLD.user AND repo = OLD.repo AND facts = 0;
END;

-- An update is the old fact removed and the new one added: ingest writes facts with an
-- upsert, not INSERT OR REPLACE, whose implicit delete would fire no trigger.
CREATE TRIGGER usage_daily_update AFTER UPDATE ON usage_facts BEGIN
    UPDATE usage_daily SET facts = facts - 1, unpriced = unpriced - (OLD.cost_usd IS NULL),
        cost_usd = cost_usd - COALESCE(OLD.cost_usd, 0),
        input_tokens = input_tokens - OLD.input_tokens,
        output_tokens = output_tokens - OLD.output_tokens,
        cache_creation_tokens = cache_creation_tokens - OLD.cache_creation_tokens,
        cache_creation_5m_tokens = cache_creation_5m_tokens - OLD.cache_creation_5m_tokens,
        cache_creation_1h_tokens = cache_creation_1h_tokens - OLD.cache_creation_1h_tokens,
        cache_read_tokens = cache_read_tokens - OLD.cache_read_tokens,
        web_search_requests = web_search_requests - OLD.web_search_requests
    WHERE session_id = OLD.session_id AND day = OLD.day AND model = OLD.model AND user = OLD.user AND repo = OLD.repo;
    DELETE FROM usage_daily WHERE session_id = OLD.session_id AND day = OLD.day AND model = OLD.model
        AND user = OLD.user AND repo = OLD.repo AND facts = 0;
    INSERT INTO usage_daily VALUES (NEW.session_id, NEW.day, NEW.model, NEW.user, NEW.repo, 1,
        NEW.cost_usd IS NULL, COALESCE(NEW.cost_usd, 0), NEW.input_tokens, NEW.output_tokens,
        NEW.cache_creation_tokens, NEW.cache_creation_5m_tokens, NEW.cache_creation_1h_tokens,
        NEW.cache_read_tokens, NEW.web_search_requests)
    ON CONFLICT (session_id, day, model, user, repo) DO UPDATE SET
        facts = facts + 1, unpriced = unpriced + excluded.unpriced, cost_usd = cost_usd + excluded.cost_usd,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
        cache_creation_5m_tokens = cache_creation_5m_tokens + excluded.cache_creation_5m_tokens,
        cache_creation_1h_tokens = cache_creation_1h_tokens + excluded.cache_creation_1h_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        web_search_requests = web_search_requests + excluded.web_search_requests;
END;
