-- Text search over prompts through a trigram FTS5 index (substring matches, case
-- insensitive) instead of scanning every prompt with LIKE. The index reads the prompts
-- table (external content), kept in step by triggers; prompts gets a stable integer key.
CREATE TABLE prompts_new (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    prompt_id  TEXT NOT NULL,
    idx        INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    text       TEXT NOT NULL,
    UNIQUE (session_id, idx)
);
INSERT INTO prompts_new (session_id, prompt_id, idx, started_ms, text)
    SELECT session_id, prompt_id, idx, started_ms, text FROM prompts;
DROP TABLE prompts;
ALTER TABLE prompts_new RENAME TO prompts;

CREATE VIRTUAL TABLE prompts_fts USING fts5(text, content = 'prompts', content_rowid = 'id', tokenize = 'trigram');
CREATE TRIGGER prompts_fts_insert AFTER INSERT ON prompts BEGIN
    INSERT INTO prompts_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER prompts_fts_delete AFTER DELETE ON prompts BEGIN
    INSERT INTO prompts_fts (prompts_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER prompts_fts_update AFTER UPDATE ON prompts BEGIN
    INSERT INTO prompts_fts (prompts_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO prompts_fts (rowid, text) VALUES (new.id, new.text);
END;
INSERT INTO prompts_fts (prompts_fts) VALUES ('rebuild');
