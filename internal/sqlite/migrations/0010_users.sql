-- Users (issue 13): a name, an optional team, and whether the user is disabled. Tokens
-- name their user by this name; disabling a user revokes its tokens and refuses new ones.
-- Users that tokens already name are recorded as they are.
CREATE TABLE users (
	name TEXT PRIMARY KEY,
	team TEXT NOT NULL DEFAULT '',
	created_ms INTEGER NOT NULL,
	disabled_ms INTEGER
);
INSERT INTO users (name, team, created_ms)
	SELECT user_name, MAX(team), MIN(created_ms) FROM tokens WHERE user_name <> '' GROUP BY user_name;
