-- Web search requests are billed per request; keep their count beside the tokens.
ALTER TABLE sessions ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_facts ADD COLUMN web_search_requests INTEGER NOT NULL DEFAULT 0;
