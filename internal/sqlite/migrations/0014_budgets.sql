-- Budgets and alerts (issue 15): a spending limit per user, team, repository or everyone
-- in a UTC day or month, or a spin rule (period 'session'), with the webhook told at 80 %
-- and 100 %. budget_alerts records each threshold that fired, once per period (or
-- session): its key is what keeps an alert from firing twice, across restarts and replicas.
CREATE TABLE budgets (
	id TEXT PRIMARY KEY,
	scope_kind TEXT NOT NULL,
	scope_value TEXT NOT NULL DEFAULT '',
	period TEXT NOT NULL,
	limit_usd REAL NOT NULL,
	min_failed_calls INTEGER NOT NULL DEFAULT 0,
	webhook_url TEXT NOT NULL,
	format TEXT NOT NULL DEFAULT 'json',
	created_ms INTEGER NOT NULL
);
CREATE TABLE budget_alerts (
	budget_id TEXT NOT NULL,
	period TEXT NOT NULL,
	threshold INTEGER NOT NULL,
	fired_ms INTEGER NOT NULL,
	delivered_ms INTEGER,
	attempts INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (budget_id, period, threshold)
);
