-- The audit log (issue 13): append-only; token and user changes, deletions, retention
-- runs, dashboard logins and (aggregated per minute) denied requests. Pruned by age.
CREATE TABLE audit_log (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time_ms bigint NOT NULL,
	actor text NOT NULL DEFAULT '',
	actor_name text NOT NULL DEFAULT '',
	actor_user text NOT NULL DEFAULT '',
	action text NOT NULL,
	target text NOT NULL DEFAULT '',
	outcome text NOT NULL,
	detail text NOT NULL DEFAULT '',
	remote text NOT NULL DEFAULT '',
	count bigint NOT NULL DEFAULT 1
);
CREATE INDEX audit_log_time ON audit_log (time_ms);
CREATE INDEX audit_log_action ON audit_log (action, id);
