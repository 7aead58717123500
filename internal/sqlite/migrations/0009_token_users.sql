-- A token belongs to a user and optionally a team (issue 13): ingest stamps the user on
-- events, read:own and read:team narrow reads to them. Tokens made before have neither
-- and keep working as "unbound" tokens: ingest keeps the events' user, read reads all.
ALTER TABLE tokens ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN team TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_user ON tokens (user_name);
CREATE INDEX tokens_team ON tokens (team);
