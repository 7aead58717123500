-- Each prompt's page (the Prompt as JSON, with its call trees) lives in its prompts row,
-- so an ingest rewrites the prompts its events touched instead of one blob the size of
-- the session. Rows projected before have none until the projection version's change
-- re-projects them at start-up; until then the sessions row still holds the prompts.
ALTER TABLE prompts ADD COLUMN detail BLOB;

-- A prompt rewritten for its page alone keeps its entry in the text index.
DROP TRIGGER prompts_fts_update;
CREATE TRIGGER prompts_fts_update AFTER UPDATE OF text ON prompts WHEN old.text IS NOT new.text BEGIN
    INSERT INTO prompts_fts (prompts_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO prompts_fts (rowid, text) VALUES (new.id, new.text);
END;
