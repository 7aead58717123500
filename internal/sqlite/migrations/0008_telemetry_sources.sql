-- When Claude Code's telemetry last arrived from each installation (its OTel user.id),
-- for `agent-trace-hook status`: one row per installation, not per event.
CREATE TABLE telemetry_sources (
    source  TEXT PRIMARY KEY,
    last_ms INTEGER NOT NULL
) WITHOUT ROWID;
