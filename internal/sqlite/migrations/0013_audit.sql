-- The audit log (issue 13): append-only; token and user changes, deletions, retention
-- runs, dashboard logins and (aggregated per minute) denied requests. Pruned by age.
CREATE TABLE audit_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	time_ms INTEGER NOT NULL,
	actor TEXT NOT NULL DEFAULT '',
	actor_name TEXT NOT NULL DEFAULT '',
	actor_user TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	target TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT '',
	remote TEXT NOT NULL DEFAULT '',
	count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX audit_log_time ON audit_log (time_ms);
CREATE INDEX audit_log_action ON audit_log (action, id);
