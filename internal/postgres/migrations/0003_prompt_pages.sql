-- Each prompt's page (the Prompt as JSON, with its call trees) lives in its prompts row,
-- so an ingest rewrites the prompts its events touched instead of one blob the size of
-- the session. Rows projected before have none until the projection version's change
-- re-projects them at start-up; until then the sessions row still holds the prompts.
ALTER TABLE prompts ADD COLUMN detail bytea;
