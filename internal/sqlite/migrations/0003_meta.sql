-- Small facts about the database itself, e.g. which projection rules and prices the
-- stored sessions were projected with (see Store.Refresh).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
