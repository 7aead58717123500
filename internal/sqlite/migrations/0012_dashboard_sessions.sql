-- Dashboard sessions (issue 13): the login cookie carries a random session id, not the
-- token, so logout and revocation end a login on the server. Only the id's hash is kept.
CREATE TABLE dashboard_sessions (
	id_hash TEXT PRIMARY KEY,
	token_id TEXT NOT NULL,
	created_ms INTEGER NOT NULL,
	last_seen_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL,
	user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_ms);
CREATE INDEX dashboard_sessions_token ON dashboard_sessions (token_id);
