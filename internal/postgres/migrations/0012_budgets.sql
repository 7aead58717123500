-- Budgets and alerts (issue 15): a spending limit per user, team, repository or everyone
-- in a UTC day or month, or a spin rule (period 'session'), with the webhook told at 80 %
-- and 100 %. budget_alerts records each threshold that fired, once per period (or
-- session): its key is what keeps an alert from firing twice, across restarts and replicas.
CREATE TABLE budgets (
	id text PRIMARY KEY,
	scope_kind text NOT NULL,
	scope_value text NOT NULL DEFAULT '',
	period text NOT NULL,
	limit_usd double precision NOT NULL,
	min_failed_calls bigint NOT NULL DEFAULT 0,
	webhook_url text NOT NULL,
	format text NOT NULL DEFAULT 'json',
	created_ms bigint NOT NULL
);
CREATE TABLE budget_alerts (
	budget_id text NOT NULL,
	period text NOT NULL,
	threshold bigint NOT NULL,
	fired_ms bigint NOT NULL,
	delivered_ms bigint,
	attempts bigint NOT NULL DEFAULT 0,
	last_error text NOT NULL DEFAULT '',
	PRIMARY KEY (budget_id, period, threshold)
);
